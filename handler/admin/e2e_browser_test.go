package admin_test

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gofiber/fiber/v2"
)

const chromiumPath = "/usr/bin/chromium"

// needBrowser skips the test without Chromium, or fails it when HUZHU_TEST_REQUIRE_BROWSER=1
// (as in CI), and skips it in -short mode.
func needBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("HUZHU_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatalf("HUZHU_TEST_REQUIRE_BROWSER=1 but %s is missing (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("%s not found: skipping the browser test (apt-get install -y chromium; HUZHU_TEST_REQUIRE_BROWSER=1 makes this a failure)", chromiumPath)
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
}

// serveLoopback serves app on a free loopback port until the test ends and returns its base URL.
func serveLoopback(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	t.Cleanup(func() {
		if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-served
	})
	return "http://" + ln.Addr().String()
}

// screenshotDir is $HUZHU_TEST_SCREENSHOTS when set, else a temporary directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	shots := os.Getenv("HUZHU_TEST_SCREENSHOTS")
	if shots == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return shots
}

// consoleLog collects the errors and exceptions of the browser's console.
type consoleLog struct {
	mu     sync.Mutex
	errors []string
}

// Errors returns the errors logged so far.
func (l *consoleLog) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errors...)
}

// Forget drops the errors after the first n (an error the test provoked on purpose).
func (l *consoleLog) Forget(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors = l.errors[:min(n, len(l.errors))]
}

// newBrowser starts headless Chromium for at most timeout and returns its tab, with its console
// errors collected and confirm() dialogs accepted (a person would click 确定). The browser
// closes when the test ends.
func newBrowser(t *testing.T, timeout time.Duration) (context.Context, *consoleLog) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	actx, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 900),
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
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	log := &consoleLog{}
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				log.mu.Lock()
				log.errors = append(log.errors, m.String()+" at "+m.URL)
				log.mu.Unlock()
			}
		}
	}()
	dialogs := chromedp.Events(bctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return bctx, log
}
