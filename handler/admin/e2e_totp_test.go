package admin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"huzhu/service/staff"
)

// TestBrowserTOTPLogin drives a TOTP login in headless Chromium where the second factor is
// required: the operator's first login lands on the enrolment page (QR code and secret), the
// code from the secret turns it on and shows the recovery codes, and after logging out the
// password leads to the code page, whose code opens the dashboard. Every step waits for an
// element only the page it leads to has, and the browser's console must stay free of errors
// (the CSP lets no inline script through, and the QR code is a data: image the CSP allows).
func TestBrowserTOTPLogin(t *testing.T) {
	needBrowser(t)
	w := newWorldWith(t, func(o *staff.Options) { o.RequireTOTP = true })
	base := serveLoopback(t, w.app)
	shots := screenshotDir(t)
	bctx, console := newBrowser(t, 90*time.Second)
	p := browserPage{t: t, ctx: bctx, shots: shots, stepTimeout: 20 * time.Second}
	step, text, shot := p.step, p.text, p.shot

	step("login page", chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible("#login"))
	step("password leads to enrolment", chromedp.SendKeys("#username", "op1"), chromedp.SendKeys("#password", password),
		chromedp.Click("#login button"), chromedp.WaitVisible("#totp-page"), chromedp.WaitVisible("#totp-qr"))
	complete, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById("totp-qr").complete && document.getElementById("totp-qr").naturalWidth > 0`))
	if err != nil || !complete {
		t.Errorf("the QR code image loaded = %v, %v; want true", complete, err)
	}
	shot("totp_enrol")
	secret := strings.TrimSpace(text("#totp-secret"))
	code, err := totp.GenerateCode(secret, w.now)
	if err != nil {
		t.Fatalf("code from the page's secret %q: %v", secret, err)
	}
	step("confirm", chromedp.SendKeys("#totp-code", code), chromedp.Click("#totp-form button"), chromedp.WaitVisible("#recovery-codes"))
	if s := text("#recovery-codes"); strings.Count(s, "-") != 10 {
		t.Errorf("recovery codes = %q, want ten", s)
	}
	shot("totp_codes")
	step("into the console", chromedp.Click("#codes-done"), chromedp.WaitVisible("#monthly"))
	step("logout", chromedp.Click(`header form[action="/admin/logout"] button`), chromedp.WaitVisible("#login"))

	step("password leads to the code", chromedp.SendKeys("#username", "op1"), chromedp.SendKeys("#password", password),
		chromedp.Click("#login button"), chromedp.WaitVisible("#code-form"))
	shot("totp_code")
	next, _ := totp.GenerateCode(secret, w.now.Add(30*time.Second)) // the enrolment used up this step's code
	step("code opens the console", chromedp.SendKeys("#code", next), chromedp.Click("#code-form button"), chromedp.WaitVisible("#monthly"))
	if errs := console.Errors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}
