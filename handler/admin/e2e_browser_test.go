package admin_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
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

// browserPage runs a browser test's steps in ctx: each step within stepTimeout, failing the
// test with the page's HTML; screenshots go to shots.
type browserPage struct {
	t           *testing.T
	ctx         context.Context
	shots       string
	stepTimeout time.Duration
}

func (p browserPage) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	sctx, cancel := context.WithTimeout(p.ctx, p.stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		html, _ := chromedp.Run(p.ctx, chromedp.OuterHTML("main"))
		p.t.Fatalf("%s: %v\npage: %.1500s", name, err, html)
	}
}

// through clicks sel, a link or a form's button, and waits until the browser has left the page:
// the response to the click has arrived and its document replaced the old one. A step that
// leaves a page does so with through (or Navigate) and then waits for an element only the new
// page has: waiting for one the old page has too ends the step while the request is in flight,
// and the next step's Navigate aborts it (net::ERR_ABORTED, a lost form post). It waits for
// the commit, not the load event: a finished export's page starts its download while it loads
// and never fires one.
func through(sel string) chromedp.Action[chromedp.Void] {
	mainFrame := func(ev page.EventFrameNavigated) bool { return ev.Frame != nil && ev.Frame.ParentID == "" }
	click := chromedp.WaitEvent(page.FrameNavigated, mainFrame, chromedp.Click(sel))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		// Listen for the new document's load before clicking. Acting on a page before it has
		// loaded could use nodes of a document chromedp then replaces ("Could not find node with
		// given id"), so wait for the load, but at most a few seconds: the finished export page
		// starts a download and never fires it.
		lctx, cancel := context.WithCancel(ctx)
		defer cancel()
		loaded := make(chan struct{})
		loads := cdp.Events(lctx, t, page.LoadEventFired)
		if _, err := click(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		go func() {
			for range loads {
				break
			}
			close(loaded)
		}()
		select {
		case <-loaded:
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
			return chromedp.Void{}, ctx.Err()
		}
		return chromedp.Void{}, nil
	}
}

// jobEnded waits on a job page for the page the server renders once the job is done: the
// live page's script marks #job done before it loads that page, but only the server writes
// the class.
var jobEnded = chromedp.WaitVisible(`#job.job-done`)

func (p browserPage) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(sel))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (p browserPage) value(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Value(sel))
	if err != nil {
		p.t.Fatalf("value of %s: %v", sel, err)
	}
	return s
}

func (p browserPage) shot(name string) {
	p.t.Helper()
	b, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(p.shots, name+".png"), b, 0o644); err != nil {
		p.t.Fatal(err)
	}
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
