package admin_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"huzhu/model"
)

// TestBrowser drives the console in headless Chromium through a quarter's work: log in, watch a
// running job's progress bar move and its result appear, upload a roster and a 医保 file,
// compute and approve a run, export the bank files and upload the bank's result — each long
// step through its job page, waiting for the job to end — see the notices queued and ask the
// bot. It saves a screenshot of each main page (in $HUZHU_TEST_SCREENSHOTS when set, else a
// temporary directory) and fails on any error in the browser's console.
func TestBrowser(t *testing.T) {
	needBrowser(t)
	w := newWorld(t)
	base := serveLoopback(t, w.app)
	shots := screenshotDir(t)
	downloads := t.TempDir()
	files := t.TempDir()

	bctx, console := newBrowser(t, 60*time.Second)
	done := make(chan string, 4)
	if err := chromedp.ListenBrowser(bctx, func(ev any) {
		if d, ok := ev.(*browser.EventDownloadProgress); ok && d.State == browser.DownloadProgressStateCompleted {
			done <- d.GUID
		}
	}); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &yes}); err != nil {
		t.Fatalf("download behaviour: %v", err)
	}

	p := browserPage{t: t, ctx: bctx, shots: shots, stepTimeout: 15 * time.Second}
	step, text, shot := p.step, p.text, p.shot
	write := func(name, content string) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	step("login", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible("#login"))
	shot("login")
	step("sign in", chromedp.SendKeys("#username", "admin"), chromedp.SendKeys("#password", password),
		through("#login button"), chromedp.WaitVisible("#overview"))
	shot("dashboard")

	// A job as staff see it while it runs: another instance's 医保 import at 3 of 8 MB. The page's
	// script reads the job's JSON every second, moves the bar, and loads the result once it ends.
	running := model.Job{Kind: model.JobImportMedical, Status: model.JobRunning, Stage: "读取并写入", Done: 3 << 20, Total: 8 << 20,
		Subject: "big.csv", CreatedBy: "admin", Owner: "another-instance", HeartbeatAt: w.now, CreatedAt: w.now}
	if err := w.db.Create(&running).Error; err != nil {
		t.Fatal(err)
	}
	step("running job", chromedp.Navigate(fmt.Sprintf("%s/admin/jobs/%d", base, running.ID)), chromedp.WaitVisible("#job-bar"))
	if s := text("#job-percent"); s != "37%" {
		t.Errorf("running job shows %q, want 37%%", s)
	}
	w.db.Model(&running).Update("done", 6<<20)
	step("the bar moves", chromedp.Poll[chromedp.Void](`document.getElementById("job-bar").value === 75 && document.getElementById("job-progress").textContent.indexOf("6.0 MB") >= 0`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	shot("job-running")
	w.db.Model(&running).Updates(map[string]any{"status": model.JobDone, "done": 8 << 20, "finished_at": w.now,
		"result": `{"batch_id":0,"file":"big.csv","rows":120000,"added":119990,"updated":0,"same":0,"bad":10,"problems":[]}`})
	step("the job ends", jobEnded, chromedp.WaitVisible("#report"))
	if s := text("#report"); !strings.Contains(s, "119,990") {
		t.Errorf("finished job's report = %q, want its figures", s)
	}

	step("roster", chromedp.Navigate(base+"/admin/imports"), chromedp.SetValue("#kind", "roster"),
		chromedp.SetUploadFiles("#import input[name=file]", []string{write("roster.csv", rosterCSV+"U1,,坏,110199199001010011,,\n")}),
		through("#import button"), jobEnded, chromedp.WaitVisible("#problems"))
	if s := text("#problems"); !strings.Contains(s, "校验位") {
		t.Errorf("roster problems = %q, want the bad ID number", s)
	}
	if s := text("#job-percent"); s != "100%" {
		t.Errorf("finished import shows %q, want 100%%", s)
	}
	shot("job-import")
	step("medical", chromedp.Navigate(base+"/admin/imports"), chromedp.SetValue("#kind", "medical"),
		chromedp.SetUploadFiles("#import input[name=file]", []string{write("yb.csv", medicalCSV)}),
		through("#import button"), jobEnded, chromedp.WaitVisible("#report"))
	shot("imports")

	step("compute", chromedp.Navigate(base+"/admin/runs"), chromedp.SendKeys("#compute input[name=period]", "2025-Q1"),
		through("#compute button"), jobEnded, chromedp.WaitVisible("#run-link"))
	if s := text("#report"); !strings.Contains(s, "20.00") {
		t.Errorf("settlement job's totals = %q, want 20.00", s)
	}
	shot("job-settle")
	var run model.SettlementRun
	if err := w.db.Take(&run).Error; err != nil {
		t.Fatalf("no run after compute: %v", err)
	}
	step("approve", chromedp.Navigate(base+"/admin/runs"), through("#runs form button"), chromedp.WaitVisible(".flash"))
	if s := text(".flash"); !strings.Contains(s, "已审核") || !strings.Contains(s, "20.00") {
		t.Errorf("after approval the page says %q", s)
	}
	shot("runs")
	step("run detail", chromedp.Navigate(fmt.Sprintf("%s/admin/runs/%d", base, run.ID)), chromedp.WaitVisible("table.lines"))
	if s := text(".lines"); !strings.Contains(s, "20.00") {
		t.Errorf("run sample = %q, want the 20.00 line", s)
	}
	shot("run")

	step("export", chromedp.Navigate(base+"/admin/payments"), chromedp.WaitVisible("#pay-runs"))
	shot("payments")
	step("export job", through(fmt.Sprintf("#export-%d", run.ID)), jobEnded, chromedp.WaitVisible("#download"))
	shot("job-export")
	var guid string
	select {
	case guid = <-done:
	case <-bctx.Done():
		t.Fatal("bank files were not downloaded")
	}
	zipped, err := os.ReadFile(filepath.Join(downloads, guid))
	if err != nil {
		t.Fatal(err)
	}
	result := write("result.csv", string(bankResult(t, zipped)))
	step("bank result", chromedp.Navigate(base+"/admin/payments"), chromedp.SetUploadFiles("#results input[name=file]", []string{result}),
		through("#results button"), jobEnded, chromedp.WaitVisible("#report"))
	if s := text("#report"); !strings.Contains(s, "到账") {
		t.Errorf("bank result page = %q", s)
	}
	shot("results")
	step("reconcile", chromedp.Navigate(fmt.Sprintf("%s/admin/payments/reconcile/%d", base, run.ID)), chromedp.WaitVisible("#reconcile"))
	if s := text("main"); !strings.Contains(s, "账目相符") {
		t.Errorf("reconciliation = %q", s)
	}
	shot("reconcile")

	step("notices", chromedp.Navigate(base+"/admin/notifications"), chromedp.WaitVisible("#counts"))
	if s := text("#counts"); strings.Contains(s, "暂无通知") {
		t.Errorf("no notices queued: %q", s)
	}
	shot("notifications")

	step("ask", chromedp.Navigate(base+"/admin/faq"), chromedp.SendKeys("#ask input[name=q]", "退休了还能报销吗"),
		through("#ask button"), chromedp.WaitVisible("#hits"))
	if s := text("#hits"); !strings.Contains(s, ".") {
		t.Errorf("bot hits = %q, want entries with scores", s)
	}
	shot("faq")

	for _, pg := range []struct{ path, only string }{ // only: an element only that page has
		{"jobs", "#jobs"}, {"members?q=张", "#members"}, {"policy", "div.version"}, {"audit", "#audit"},
	} {
		name := strings.SplitN(pg.path, "?", 2)[0]
		step(name, chromedp.Navigate(base+"/admin/"+pg.path), chromedp.WaitVisible(pg.only))
		shot(name)
	}
	if s := text("#audit"); !strings.Contains(s, "run.approve") || !strings.Contains(s, "payment.") {
		t.Errorf("audit page lacks the approval or the export: %.500s", s)
	}

	time.Sleep(100 * time.Millisecond) // let the last console messages arrive
	if errs := console.Errors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	t.Logf("screenshots in %s", shots)
}
