package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserClaimReview drives the review of a supplementary claim in headless Chromium: the
// union's queue, the claim with its photo shown inline, a return with a reason, then (after the
// worker resubmits) the union's approval, and 办事处's confirmation by another person. Every
// step waits for an element only its target page has. It fails on any error in the browser's
// console.
func TestBrowserClaimReview(t *testing.T) {
	needBrowser(t)
	w := newWorld(t)
	c, _ := w.submittedClaim()
	base := serveLoopback(t, w.app)
	bctx, console := newBrowser(t, 90*time.Second)
	p := browserPage{t: t, ctx: bctx, shots: screenshotDir(t), stepTimeout: 20 * time.Second}
	step, text, shot := p.step, p.text, p.shot
	page := fmt.Sprintf("%s/admin/claims/%d", base, c.ID)
	signIn := func(user string) {
		step("sign in as "+user, chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible("#login"),
			chromedp.SendKeys("#username", user), chromedp.SendKeys("#password", password),
			through("#login button"), chromedp.WaitVisible("nav"))
	}

	signIn("u1")
	step("queue", chromedp.Navigate(base+"/admin/claims"), chromedp.WaitVisible("#claim-filter"))
	if s := text("#claims"); !strings.Contains(s, "河北示例医院") || !strings.Contains(s, "已提交") {
		t.Errorf("queue = %q", s)
	}
	shot("claims_queue")
	step("open the claim", through("#claims a"), chromedp.WaitVisible("#claim-title"), chromedp.WaitVisible("#claim-docs img"))
	step("photo shown inline", chromedp.Poll[chromedp.Void](`document.querySelector('#claim-docs img').complete &&
		document.querySelector('#claim-docs img').naturalWidth > 0`, chromedp.WithPollingTimeout(10*time.Second)))
	shot("claim_review")
	step("return with a reason", chromedp.SetValue("#claim-return select[name=reason]", "docs_unclear"),
		chromedp.SendKeys("#claim-return input[name=note]", "收据金额看不清，请重新拍照"),
		through("#claim-return button"), chromedp.WaitVisible(".flash"))
	if s := text("#claim-title"); !strings.Contains(s, "退回补充") {
		t.Errorf("after the return the title says %q", s)
	}
	if _, err := w.claims.Submit(context.Background(), c.MemberID, c.ID, "已重新拍照"); err != nil {
		t.Fatal(err)
	}
	step("resubmitted claim", chromedp.Navigate(page), chromedp.WaitVisible("#claim-approve"))
	step("approve", through("#claim-approve button"), chromedp.WaitVisible(".flash"))
	if s := text("#claim-title"); !strings.Contains(s, "工会已审核") {
		t.Errorf("after approval the title says %q", s)
	}

	signIn("op1")
	step("办事处 opens it", chromedp.Navigate(page), chromedp.WaitVisible("#claim-confirm"))
	step("confirm", through("#claim-confirm button"), chromedp.WaitVisible(".flash"))
	if s := text("#claim-title"); !strings.Contains(s, "办事处已确认") {
		t.Errorf("after confirmation the title says %q", s)
	}
	shot("claim_confirmed")
	if errs := console.Errors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}
