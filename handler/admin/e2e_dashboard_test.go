package admin_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"huzhu/model"
)

// TestBrowserDashboard loads the dashboard's charts and a member page in headless Chromium as
// an admin and as a union's staff, checks that the bars are drawn and styled (the CSP lets
// neither inline styles nor scripts through, so a mistake shows as a console error or an
// unstyled bar), saves screenshots (in $HUZHU_TEST_SCREENSHOTS when set) and fails on any
// error in the browser's console.
func TestBrowserDashboard(t *testing.T) {
	needBrowser(t)
	w := newWorld(t)
	zhang, li := w.memberID("张一"), w.memberID("李二")
	for m := 1; m <= 11; m++ {
		w.arrivedLine(zhang, model.ClaimOutpatient, model.Fen(m*123_400), time.Date(2025, time.Month(m), 10, 10, 0, 0, 0, model.Shanghai))
	}
	w.arrivedLine(li, model.ClaimInpatient, 20_065_300, time.Date(2025, 6, 30, 9, 0, 0, 0, model.Shanghai))
	w.arrivedLine(li, model.ClaimSpecialInpatient, 5_000_000, time.Date(2025, 7, 2, 9, 0, 0, 0, model.Shanghai))

	base := serveLoopback(t, w.app)
	shots := screenshotDir(t)
	bctx, console := newBrowser(t, 50*time.Second)

	p := browserPage{t: t, ctx: bctx, shots: shots, stepTimeout: 15 * time.Second}
	step, shot := p.step, p.shot
	// bars returns the drawn heights of a chart's bars, in CSS pixels, and the fill the style
	// sheet gave the first one.
	bars := func(id string) ([]float64, string) {
		t.Helper()
		hs, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](
			`Array.from(document.querySelectorAll('#`+id+` .bar rect')).map(r => r.getBoundingClientRect().height)`))
		if err != nil {
			t.Fatalf("bars of %s: %v", id, err)
		}
		fill, err := chromedp.Run(bctx, chromedp.Evaluate[string](
			`(() => { const r = document.querySelector('#`+id+` .bar rect'); return r ? getComputedStyle(r).fill : ''; })()`))
		if err != nil {
			t.Fatalf("fill of %s: %v", id, err)
		}
		return hs, fill
	}
	login := func(user string) {
		t.Helper()
		step("login "+user, chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible("#login"),
			chromedp.SendKeys("#username", user), chromedp.SendKeys("#password", password),
			through("#login button"), chromedp.WaitVisible("#overview"))
	}

	login("admin")
	step("dashboard 2025", chromedp.Navigate(base+"/admin/?year=2025"), chromedp.WaitVisible("#chart-month-paid"))
	hs, fill := bars("chart-month-paid")
	if len(hs) != 12 || hs[5] <= hs[4] || hs[11] != 0 || hs[0] <= 0 {
		t.Errorf("monthly bars drawn %v px, want 12 with June the tallest so far and December empty", hs)
	}
	if fill != "rgb(198, 40, 40)" {
		t.Errorf("bar fill = %q, want charts.css's rgb(198, 40, 40)", fill)
	}
	if hs, _ := bars("chart-by-type"); len(hs) != 3 {
		t.Errorf("claim-type bars = %v, want 3", hs)
	}
	shot("dashboard-charts")
	step("member", chromedp.Navigate(fmt.Sprintf("%s/admin/members/%d?sort=-amount", base, zhang)), chromedp.WaitVisible("#payouts"))
	if s, err := chromedp.Run(bctx, chromedp.Text("#payouts")); err != nil || !strings.Contains(s, "京卡 尾号0001") || !strings.Contains(s, "13,574.00") {
		t.Errorf("member payouts = %q, %v; want the largest (13,574.00) first, to the masked 京卡", s, err)
	}
	shot("member-detail")

	login("u1")
	step("union dashboard", chromedp.Navigate(base+"/admin/?year=2025&union=U2"), chromedp.WaitVisible("#chart-month-paid"))
	if s, err := chromedp.Run(bctx, chromedp.Text("main")); err != nil || strings.Contains(s, "第二工会") || !strings.Contains(s, "第一工会") {
		t.Errorf("union dashboard shows another union, or not its own: %v", err)
	}
	if hs, _ := bars("chart-month-paid"); len(hs) != 12 {
		t.Errorf("union's monthly bars = %v, want 12", hs)
	}
	shot("dashboard-union")

	time.Sleep(100 * time.Millisecond) // let the last console messages arrive
	if errs := console.Errors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	t.Logf("screenshots in %s", shots)
}
