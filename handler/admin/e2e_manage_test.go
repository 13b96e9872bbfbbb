package admin_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"huzhu/model"
)

// TestBrowserManage drives the console's editing pages in headless Chromium as an admin: it
// edits an FAQ entry and asks the bot, which then chooses the entry and gives the new answer;
// adds a policy version; and creates a staff account. It saves a screenshot of each page (in
// $HUZHU_TEST_SCREENSHOTS when set, else a temporary directory) and fails on any error in the
// browser's console (the CSP lets no inline script or style through, so a mistake shows there).
func TestBrowserManage(t *testing.T) {
	needBrowser(t)
	w, rules := newManageWorld(t)
	base := serveLoopback(t, w.app)
	shots := screenshotDir(t)
	bctx, console := newBrowser(t, 90*time.Second)

	p := browserPage{t: t, ctx: bctx, shots: shots, stepTimeout: 20 * time.Second}
	step, text, value, shot := p.step, p.text, p.value, p.shot

	step("sign in", chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#username", "admin"), chromedp.SendKeys("#password", password),
		through("#login button"), chromedp.WaitVisible("#overview"))

	// FAQ: a question the shipped knowledge base answers only by a neighbour, then the edit.
	const q = "一年到顶能拿多少钱"
	const newAnswer = "浏览器里改过的回答：每人每年最多{cap}。"
	step("faq list", chromedp.Navigate(base+"/admin/faq"), chromedp.WaitVisible("#entries"))
	shot("manage_faq_list")
	step("open cap", through(`#entries a[href="/admin/faq/cap"]`), chromedp.WaitVisible("#entry"))
	phrasings := value(`#entry textarea[name=phrasings]`)
	step("edit cap", chromedp.SetValue(`#entry textarea[name=answer]`, newAnswer),
		chromedp.SetValue(`#entry textarea[name=phrasings]`, phrasings+"\n"+q),
		through("#entry button[type=submit]"), chromedp.WaitVisible(".flash"))
	if s := text("#preview"); !strings.Contains(s, "浏览器里改过的回答：每人每年最多200653元。") {
		t.Errorf("preview after the save = %q", s)
	}
	shot("manage_faq_entry")
	step("ask", chromedp.Navigate(base+"/admin/faq"), chromedp.SendKeys("#ask input[name=q]", q),
		through("#ask button"), chromedp.WaitVisible("#answer"))
	if s := text("#chosen"); s != "cap" {
		t.Errorf("the bot chose %q, want the edited entry cap", s)
	}
	if s := text("#answer"); !strings.Contains(s, "浏览器里改过的回答") {
		t.Errorf("the bot answers %q, want the new answer", s)
	}
	shot("manage_faq_ask")
	// A refused edit answers 400, which Chromium reports in the console: that one is expected.
	before := len(console.Errors())
	step("bad edit", chromedp.Navigate(base+"/admin/faq/cap"), chromedp.WaitVisible("#entry"),
		chromedp.SetValue(`#entry textarea[name=phrasings]`, "只有一条"),
		through("#entry button[type=submit]"), chromedp.WaitVisible("#form-error"))
	if s := text("#form-error"); !strings.Contains(s, "至少要 3 条") {
		t.Errorf("error of a bad edit = %q", s)
	}
	shot("manage_faq_error")
	time.Sleep(100 * time.Millisecond)
	if errs := console.Errors(); len(errs) == before+1 && strings.Contains(errs[before], "status of 400") {
		console.Forget(before)
	}

	// Policy: the draft with a new cap.
	step("policy", chromedp.Navigate(base+"/admin/policy"), chromedp.Click("#add-version summary"), chromedp.WaitVisible("#version-form"))
	draft := value("#version-form textarea[name=body]")
	if !strings.Contains(draft, `value: "200653.00"`) {
		t.Fatalf("draft = %.500s", draft)
	}
	step("add version", chromedp.SetValue("#version-form textarea[name=body]", strings.Replace(draft, `value: "200653.00"`, `value: "250000.00"`, 1)),
		through("#version-form button[type=submit]"), chromedp.WaitVisible(".flash"), chromedp.WaitVisible("#version-2025-08"))
	if s := text("#version-2025-08"); !strings.Contains(s, "250,000.00") || !strings.Contains(s, "假定") {
		t.Errorf("new version card = %.300s", s)
	}
	if v, _ := rules.Engine().At("2025-09-01"); v.AnnualCapFen != 25_000_000 {
		t.Errorf("the running engine's cap on 2025-09-01 = %d", v.AnnualCapFen)
	}
	shot("manage_policy")

	// Staff: a new union account.
	step("staff", chromedp.Navigate(base+"/admin/staff"), chromedp.WaitVisible("#create-account"))
	step("create account", chromedp.SendKeys("#create-account input[name=username]", "li.union"),
		chromedp.SendKeys("#create-account input[name=display_name]", "李（第一工会）"),
		chromedp.SetValue("#create-account select[name=role]", "union"),
		chromedp.SendKeys("#create-account input[name=union_code]", "U1"),
		chromedp.SendKeys("#create-account input[name=password]", "a long first password"),
		through("#create-account button[type=submit]"), chromedp.WaitVisible(".flash"))
	if s := text("#accounts"); !strings.Contains(s, "li.union") || !strings.Contains(s, "第一工会") {
		t.Errorf("accounts after creating = %q", s)
	}
	shot("manage_staff")
	var u model.AdminUser
	if err := w.db.Where("username = ?", "li.union").Take(&u).Error; err != nil || u.Role != model.RoleUnion {
		t.Fatalf("created account = %+v, %v", u, err)
	}
	step("account page", through(`#accounts a[href$="/`+strconv.FormatUint(u.ID, 10)+`"]`), chromedp.WaitVisible("#change-account"))
	shot("manage_staff_account")

	time.Sleep(100 * time.Millisecond) // let the last console messages arrive
	if errs := console.Errors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	t.Logf("screenshots in %s", shots)
}
