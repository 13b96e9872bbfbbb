package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"huzhu/service/member"
)

// TestBrowserStaffBind drives "为职工绑定" in headless Chromium as union staff: from the member
// page to the form, a mistake shown on the form, then the binding with the worker's desk code
// and the flash on the member page. It fails on any error in the browser's console but the
// expected 400.
func TestBrowserStaffBind(t *testing.T) {
	needBrowser(t)
	w, members := bindWorld(t)
	zhang := w.memberID("张一")
	acct := w.account("openid-zhang-browser")
	dc, err := members.IssueDeskCode(context.Background(), member.Principal{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	base := serveLoopback(t, w.app)
	bctx, console := newBrowser(t, 60*time.Second)
	p := browserPage{t: t, ctx: bctx, shots: screenshotDir(t), stepTimeout: 20 * time.Second}
	step, text, shot := p.step, p.text, p.shot

	step("sign in", chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#username", "u1"), chromedp.SendKeys("#password", password),
		through("#login button"), chromedp.WaitVisible("#overview"))
	step("member page", chromedp.Navigate(fmt.Sprintf("%s/admin/members/%d", base, zhang)), chromedp.WaitVisible("#staff-bind-link"))
	step("open the form", chromedp.Click("#staff-bind-link"), chromedp.WaitVisible("#staff-bind"))
	shot("staff_bind_form")
	before := len(console.Errors())
	// The browser would refuse an empty reason itself; without the attribute the server must.
	step("no reason", chromedp.SetValue("#staff-bind input[name=code]", dc.Code),
		chromedp.RemoveAttribute("#staff-bind textarea[name=reason]", "required"),
		chromedp.Click("#staff-bind button[type=submit]"), chromedp.WaitVisible("#form-error"))
	if s := text("#form-error"); !strings.Contains(s, "请写明办理原因") {
		t.Errorf("form error = %q", s)
	}
	console.Forget(before)
	step("bind", chromedp.SetValue("#staff-bind textarea[name=reason]", "本人持身份证和京卡到工会办理，登记手机号已停用"),
		chromedp.Click("#staff-bind button[type=submit]"), chromedp.WaitVisible(".flash"))
	if s := text(".flash"); !strings.Contains(s, "已为职工绑定微信") {
		t.Errorf("flash = %q", s)
	}
	if s := text("#binding"); !strings.Contains(s, "已绑定") {
		t.Errorf("binding on the member page = %q", s)
	}
	shot("staff_bind_done")
	if got := w.boundTo(acct); got != zhang {
		t.Errorf("account bound to %d, want %d", got, zhang)
	}
	if errs := console.Errors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}
