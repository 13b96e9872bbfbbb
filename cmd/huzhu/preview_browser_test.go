package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// TestBrowserWorkerPreview walks the worker preview of `serve --demo` in headless Chromium as a
// newcomer would: log in, bind as the demo worker with the phone-number button, see
// eligibility, estimate a bill, list last year's payouts, open one with its timeline and
// explanation, subscribe to notices and read the messages page. Each step waits for an element
// only its target page has; screenshots go to $HUZHU_TEST_SCREENSHOTS (or a temporary
// directory). Any error in the browser's console fails it.
func TestBrowserWorkerPreview(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("HUZHU_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatalf("HUZHU_TEST_REQUIRE_BROWSER=1 but %s is missing", chromiumPath)
		}
		t.Skipf("%s not found: skipping the browser test", chromiumPath)
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	base, _ := startServeOut(t, testEnv(t, nil), "--demo")
	shots := os.Getenv("HUZHU_TEST_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	actx, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 1000),
		chromedp.UserDataDir(t.TempDir()))...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel()
		if err := chromedp.Cancel(bctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("closing the browser: %v", err)
		}
		acancel()
		cancel()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	var mu sync.Mutex
	var consoleErrors []string
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				consoleErrors = append(consoleErrors, m.String()+" at "+m.URL)
				mu.Unlock()
			}
		}
	}()

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, scancel := context.WithTimeout(bctx, 20*time.Second)
		defer scancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			html, _ := chromedp.Run(bctx, chromedp.OuterHTML("main"))
			t.Fatalf("%s: %v\npage: %.1500s", name, err, html)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, "preview_"+name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantIn := func(sel string, wants ...string) {
		t.Helper()
		got := text(sel)
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s = %q, want it to contain %q", sel, got, w)
			}
		}
	}

	step("open", chromedp.Navigate(base+"/preview/"), chromedp.WaitVisible("#login"))
	shot("1_welcome")
	step("log in", chromedp.Click("#login button"), chromedp.WaitVisible("#to-bind"))
	wantIn("#calls", "POST /api/v1/session", `"code": "preview-`, `"token"`)
	step("binding form", chromedp.Click("#to-bind"), chromedp.WaitVisible("#bind-form"))
	shot("2_bind_form")
	// A WeChat phone that is not the roster phone is refused, and the form says why.
	step("wrong phone", chromedp.SetValue("#wechat_phone", "10099999999"), chromedp.Click("#bind-form button"), chromedp.WaitVisible("#api-error"))
	wantIn("#api-error", "手机号", "binding.phone_mismatch")
	step("bind", chromedp.Navigate(base+"/preview/bind"), chromedp.WaitVisible("#bind-form"),
		chromedp.Click("#bind-form button"), chromedp.WaitVisible("#bound"))
	wantIn("#calls", "POST /api/v1/binding", `"phone_code": "phone-`, "201")
	shot("3_bound")
	step("eligibility", chromedp.Navigate(base+"/preview/eligibility"), chromedp.WaitVisible("#eligibility"))
	wantIn("#eligibility", "符合条件")
	step("estimate form", chromedp.Navigate(base+"/preview/estimate"), chromedp.WaitVisible("#estimate-form"))
	step("estimate", chromedp.SetValue("#self_pay1_yuan", "1000.00"), chromedp.Click("#estimate-form button"), chromedp.WaitVisible("#estimate"))
	wantIn("#estimate", "500.00", "× 50%")
	shot("4_estimate")
	year := time.Now().Year() - 1
	step("payouts", chromedp.Navigate(base+"/preview/payouts?year="+strconv.Itoa(year)), chromedp.WaitVisible("#payouts"))
	wantIn("#totals", "已到账 200653.00 元")
	shot("5_payouts")
	step("one payout", chromedp.Click("#payouts tr.st-arrived a"), chromedp.WaitVisible("#timeline"))
	wantIn("#timeline", "已核算", "已审核")
	wantIn("#explanation", "适用政策")
	wantIn("#calls", "GET /api/v1/payouts/")
	shot("6_payout")
	step("preferences", chromedp.Navigate(base+"/preview/preferences"), chromedp.WaitVisible("#prefs-form"))
	step("subscribe", chromedp.Click("#prefs-form input[name=accept]"), chromedp.Click("#prefs-form button"), chromedp.WaitVisible("#saved"))
	wantIn("#subscribed", "已订阅 1 个模板")
	wantIn("#calls", "PUT /api/v1/me/preferences", `"accept"`)
	shot("7_preferences")
	step("notices", chromedp.Navigate(base+"/preview/notices"), chromedp.WaitVisible("#notices"))
	shot("8_notices")

	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("browser console errors: %v", consoleErrors)
	}
}
