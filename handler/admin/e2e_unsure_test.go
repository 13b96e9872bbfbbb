package admin_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"huzhu/model"
)

// TestBrowserUnsureQuestions drives 机器人没答好的问题 in headless Chromium as the 市总 admin: the
// question the bot was unsure of is listed with its closest entry preselected, one click adds it
// as a phrasing, and the console's bot then answers it with that entry. Each step waits for an
// element only its target page has. It fails on any error in the browser's console.
func TestBrowserUnsureQuestions(t *testing.T) {
	needBrowser(t)
	w, _ := newManageWorld(t)
	const q = "俺家那口子的药钱咋弄"
	row := model.BotQuestion{Key: q, Text: q, Best: "family", Band: "decline", Count: 4, FirstSeen: w.now, LastSeen: w.now}
	if err := w.db.Create(&row).Error; err != nil {
		t.Fatal(err)
	}
	base := serveLoopback(t, w.app)
	bctx, console := newBrowser(t, 90*time.Second)
	p := browserPage{t: t, ctx: bctx, shots: screenshotDir(t), stepTimeout: 20 * time.Second}

	p.step("sign in", chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#username", "admin"), chromedp.SendKeys("#password", password),
		through("#login button"), chromedp.WaitVisible("#nav-unsure"))
	p.step("open the page from the menu", chromedp.Click("#nav-unsure"), chromedp.WaitVisible("#unsure"))
	sel := fmt.Sprintf("#q-%d", row.ID)
	if s := p.text(sel); !strings.Contains(s, q) || !strings.Contains(s, "4") {
		t.Errorf("row of the question = %q", s)
	}
	if v := p.value(sel + " select[name=entry]"); v != "family" {
		t.Errorf("preselected entry = %q, want family (the bot's closest)", v)
	}
	p.shot("unsure_list")
	p.step("add as a phrasing", chromedp.Click(sel+" form.teach button"), chromedp.WaitVisible("#unsure #none"))
	if s := p.text(".flash"); !strings.Contains(s, "family") {
		t.Errorf("flash after teaching = %q", s)
	}
	p.shot("unsure_taught")
	p.step("ask the bot", chromedp.Navigate(base+"/admin/faq"), chromedp.WaitVisible("#entries"),
		chromedp.SendKeys("#ask input[name=q]", q), chromedp.Click("#ask button"), chromedp.WaitVisible("#answer"))
	if s := p.text("#chosen"); s != "family" {
		t.Errorf("after teaching, the bot chose %q, want family", s)
	}
	if errs := console.Errors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}
