package admin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"huzhu/model"
)

// apiJob is the job JSON as a program reads it.
type apiJob struct {
	ID          uint64          `json:"id"`
	Kind        string          `json:"kind"`
	Status      string          `json:"status"`
	StatusLabel string          `json:"status_label"`
	Done        int64           `json:"done"`
	Total       int64           `json:"total"`
	Percent     *int64          `json:"percent"`
	Progress    string          `json:"progress"`
	CreatedBy   string          `json:"created_by"`
	URL         string          `json:"url"`
	FileURL     string          `json:"file_url"`
	ProblemsURL string          `json:"problems_url"`
	Result      json.RawMessage `json:"result"`
	Error       *struct {
		Code, Message, Hint string
	} `json:"error"`
}

type apiError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field"`
	RequestID string `json:"request_id"`
}

// importRequest is a program's multipart POST of a file to /admin/api/imports; csrf "" sends no
// X-CSRF-Token header.
func importRequest(kind, name string, content []byte, csrf string) *http.Request {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("kind", kind)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(content)
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/admin/api/imports", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	return req
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, body, err)
	}
	return v
}

// csrfOf asks the API for the session's CSRF token, as a program does.
func (c *client) csrfOf() string {
	c.w.t.Helper()
	res, body := c.get("/admin/api/me")
	me := decode[struct {
		Username  string `json:"username"`
		CSRFToken string `json:"csrf_token"`
	}](c.w.t, body)
	if res.StatusCode != 200 || me.CSRFToken == "" {
		c.w.t.Fatalf("GET /admin/api/me = %d %s", res.StatusCode, body)
	}
	return me.CSRFToken
}

func TestImportThroughTheJSONEndpoint(t *testing.T) {
	w := newWorld(t)
	op1, op2, adm := w.login("op1"), w.login("op2"), w.login("admin")
	res, body := op1.do(importRequest("roster", "roster.csv", []byte(rosterCSV+"U1,,坏,110199199001010011,,\n"), op1.csrfOf()))
	started := decode[apiJob](t, body)
	if res.StatusCode != http.StatusAccepted || started.ID == 0 || started.Kind != "import_roster" || started.Status != "queued" ||
		res.Header.Get("Location") != fmt.Sprintf("/admin/api/jobs/%d", started.ID) {
		t.Fatalf("POST /admin/api/imports = %d %s (Location %q), want 202 with the queued job", res.StatusCode, body, res.Header.Get("Location"))
	}
	w.wait(started.ID)
	path := fmt.Sprintf("/admin/api/jobs/%d", started.ID)
	res, body = op1.get(path)
	got := decode[apiJob](t, body)
	var result struct {
		Rows, Added, Same, Bad int
		Problems               []struct{ Row int }
	}
	if err := json.Unmarshal(got.Result, &result); err != nil {
		t.Fatalf("result %s: %v", got.Result, err)
	}
	if res.StatusCode != 200 || got.Status != "done" || got.Percent == nil || *got.Percent != 100 || result.Rows != 3 || result.Bad != 1 ||
		len(result.Problems) != 1 || result.Problems[0].Row != 4 || got.ProblemsURL == "" {
		t.Errorf("GET %s = %d %s, want done 100%% with 3 rows, row 4 bad, and its problems CSV", path, res.StatusCode, body)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("job JSON Cache-Control = %q, want no-store", res.Header.Get("Cache-Control"))
	}

	t.Run("another member of staff cannot see it", func(t *testing.T) {
		for _, p := range []string{path, fmt.Sprintf("/admin/jobs/%d", started.ID), got.ProblemsURL} {
			res, body := op2.get(p)
			if res.StatusCode != http.StatusNotFound || strings.Contains(body, "校验位") {
				t.Errorf("op2 GET %s = %d, want 404 without the result: %.300s", p, res.StatusCode, body)
			}
		}
		if e := decode[apiError](t, func() string { _, b := op2.get(path); return b }()); e.Code != "job.not_found" || e.RequestID == "" {
			t.Errorf("op2's error = %+v, want job.not_found with a request id", e)
		}
		if _, body := op2.get("/admin/jobs"); strings.Contains(body, "roster.csv") {
			t.Errorf("op2's job list shows op1's import")
		}
	})
	t.Run("an admin sees every job", func(t *testing.T) {
		if res, body := adm.get(fmt.Sprintf("/admin/jobs/%d", started.ID)); res.StatusCode != 200 || !strings.Contains(body, "校验位") {
			t.Errorf("admin GET job page = %d, want the result", res.StatusCode)
		}
		if _, body := adm.get("/admin/jobs"); !strings.Contains(body, "roster.csv") || !strings.Contains(body, "op1") {
			t.Errorf("admin's job list lacks op1's import: %.500s", body)
		}
	})
}

func TestJSONEndpointsRefuseWithJSONErrors(t *testing.T) {
	w := newWorld(t)
	op1, aud, u1 := w.login("op1"), w.login("aud"), w.login("u1")
	tests := []struct {
		name   string
		c      *client
		req    func() *http.Request
		status int
		code   string
	}{
		{"no session", w.anon(), func() *http.Request { return httptest.NewRequest(http.MethodGet, "/admin/api/jobs/1", nil) }, 401, ""},
		{"no CSRF header", op1, func() *http.Request { return importRequest("roster", "r.csv", []byte(rosterCSV), "") }, 403, "admin.csrf"},
		{"another session's CSRF token", op1, func() *http.Request { return importRequest("roster", "r.csv", []byte(rosterCSV), aud.csrfOf()) }, 403, "admin.csrf"},
		{"an auditor cannot start an import", aud, func() *http.Request { return importRequest("roster", "r.csv", []byte(rosterCSV), aud.csrfOf()) }, 403, "staff.forbidden"},
		{"a union cannot read jobs", u1, func() *http.Request { return httptest.NewRequest(http.MethodGet, "/admin/api/jobs", nil) }, 403, "admin.forbidden"},
		{"unknown kind", op1, func() *http.Request { return importRequest("payroll", "r.csv", []byte(rosterCSV), op1.csrfOf()) }, 400, "invalid.kind"},
		{"no file", op1, func() *http.Request {
			req := httptest.NewRequest(http.MethodPost, "/admin/api/imports", strings.NewReader("kind=roster"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-CSRF-Token", op1.csrf)
			return req
		}, 400, "invalid.file"},
		{"not a job id", op1, func() *http.Request { return httptest.NewRequest(http.MethodGet, "/admin/api/jobs/x", nil) }, 404, "job.not_found"},
		{"unknown endpoint", op1, func() *http.Request { return httptest.NewRequest(http.MethodGet, "/admin/api/nope", nil) }, 404, "route.not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := tc.c.do(tc.req())
			e := decode[apiError](t, body)
			if res.StatusCode != tc.status || (tc.code != "" && e.Code != tc.code) || e.Message == "" || e.RequestID == "" ||
				!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
				t.Errorf("= %d %s, want %d JSON with code %q, a message and a request id", res.StatusCode, body, tc.status, tc.code)
			}
		})
	}
	var jobs int64
	w.db.Model(&model.Job{}).Count(&jobs)
	if jobs != 0 {
		t.Errorf("%d jobs started by refused requests, want 0", jobs)
	}
}

// TestJobPageShowsProgressAndOutcome reads jobs in each state, as staff who reload the page see them.
func TestJobPageShowsProgressAndOutcome(t *testing.T) {
	w := newWorld(t)
	op1 := w.login("op1")
	insert := func(j model.Job) uint64 {
		t.Helper()
		j.CreatedBy, j.CreatedAt = "op1", w.now
		if j.Owner == "" {
			j.Owner = "other-instance"
		}
		if err := w.db.Create(&j).Error; err != nil {
			t.Fatal(err)
		}
		return j.ID
	}
	running := insert(model.Job{Kind: model.JobImportMedical, Status: model.JobRunning, Stage: "读取并写入", Done: 3 << 20, Total: 8 << 20,
		Subject: "yb.csv", HeartbeatAt: w.now})
	counting := insert(model.Job{Kind: model.JobImportMedical, Status: model.JobRunning, Stage: "读取并写入", Done: 1234, Subject: "yb.xlsx", HeartbeatAt: w.now})
	stale := insert(model.Job{Kind: model.JobSettle, Status: model.JobRunning, Stage: "计算互助金", Subject: "2025年第1季度门诊",
		HeartbeatAt: w.now.Add(-10 * time.Minute)})
	tests := []struct {
		name    string
		id      uint64
		status  string
		percent string // the bar's value attribute; "" for an indeterminate bar
		page    []string
	}{
		{"running with a known total", running, "running", `value="37"`, []string{`data-status="running"`, "已读取 3.0 MB / 8.0 MB", "读取并写入", `data-api="/admin/api/jobs/`}},
		{"running, rows only", counting, "running", "", []string{"已处理 1,234 行", `id="job-live"`}},
		{"its process stopped", stale, "interrupted", "", []string{"中断", "处理这个任务的服务进程已停止", "不会重复支付", `href="/admin/runs"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := op1.get(fmt.Sprintf("/admin/jobs/%d", tc.id))
			if res.StatusCode != 200 {
				t.Fatalf("job page = %d", res.StatusCode)
			}
			bar := body[strings.Index(body, "<progress"):]
			bar = bar[:strings.Index(bar, ">")]
			if (tc.percent == "") != !strings.Contains(bar, "value=") || !strings.Contains(bar, tc.percent) {
				t.Errorf("progress bar %q, want %q", bar, tc.percent)
			}
			for _, want := range tc.page {
				if !strings.Contains(body, want) {
					t.Errorf("job page lacks %q", want)
				}
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
				t.Errorf("job page has inline script or style, which its Content-Security-Policy blocks")
			}
			_, js := op1.get(fmt.Sprintf("/admin/api/jobs/%d", tc.id))
			if got := decode[apiJob](t, js); got.Status != tc.status {
				t.Errorf("job JSON status = %s, want %s", got.Status, tc.status)
			}
		})
	}

	t.Run("a failed import says what to fix", func(t *testing.T) {
		j, body := op1.finish(op1.upload("/admin/imports", map[string]string{"kind": "roster"}, "names.csv", []byte("姓名\n张一\n")))
		if j.Status != model.JobFailed || !strings.Contains(body, "文件缺少必填列") || !strings.Contains(body, "请按模板的列名填写第一行") ||
			!strings.Contains(body, `id="job-error"`) {
			t.Errorf("failed import = %s: %s", j.Status, body)
		}
	})
	t.Run("the list pages through the jobs", func(t *testing.T) {
		for i := range 25 {
			insert(model.Job{Kind: model.JobSettle, Status: model.JobDone, Subject: fmt.Sprintf("期间%02d", i), HeartbeatAt: w.now})
		}
		_, first := op1.get("/admin/jobs")
		res, second := op1.get("/admin/jobs?page=2")
		if res.StatusCode != 200 || strings.Count(first, `<tr class="job-`) != 20 || !strings.Contains(first, `href="/admin/jobs?page=2"`) ||
			strings.Count(second, `<tr class="job-`) != 9 || !strings.Contains(second, `href="/admin/jobs?page=1"`) {
			t.Errorf("pages of 29 jobs: %d and %d rows, want 20 and 9 with links between", strings.Count(first, `<tr class="job-`), strings.Count(second, `<tr class="job-`))
		}
		_, js := op1.get("/admin/api/jobs?page=2")
		if l := decode[struct {
			Jobs  []apiJob `json:"jobs"`
			Total int      `json:"total"`
		}](t, js); l.Total != 29 || len(l.Jobs) != 9 {
			t.Errorf("GET /admin/api/jobs?page=2 = %d of %d, want 9 of 29", len(l.Jobs), l.Total)
		}
	})
}

// TestExportFileIsOnlyForItsMaker: the bank files hold full account numbers, so only the person
// who exported them may download them, and an admin who sees the job does not get them.
func TestExportFileIsOnlyForItsMaker(t *testing.T) {
	w := newWorld(t)
	op1, op2, adm := w.login("op1"), w.login("op2"), w.login("admin")
	op1.finish(op1.upload("/admin/imports", map[string]string{"kind": "medical"}, "yb.csv", []byte(medicalCSV)))
	op1.finish(op1.post("/admin/runs", url.Values{"period": {"2025-Q1"}}))
	var run model.SettlementRun
	if err := w.db.Take(&run).Error; err != nil {
		t.Fatal(err)
	}
	op2.post(fmt.Sprintf("/admin/runs/%d/approve", run.ID), nil)
	zipped := exportFiles(t, op2, run.ID)
	if len(zipped) == 0 {
		t.Fatal("empty export")
	}
	var j model.Job
	w.db.Where("kind = ?", model.JobExport).Take(&j)
	file := fmt.Sprintf("/admin/jobs/%d/file", j.ID)
	if res, body := adm.get(fmt.Sprintf("/admin/jobs/%d", j.ID)); res.StatusCode != 200 || strings.Contains(body, file) || !strings.Contains(body, `id="file-gone"`) {
		t.Errorf("admin's view of op2's export = %d, want the job without a download link", res.StatusCode)
	}
	for name, c := range map[string]*client{"admin": adm, "op1": op1} {
		// A zip starts with its magic "PK\x03\x04"; the 404 page's random tokens may hold "PK".
		if res, body := c.get(file); res.StatusCode != http.StatusNotFound || strings.Contains(body, "PK\x03\x04") {
			t.Errorf("%s downloads op2's bank files = %d, want 404", name, res.StatusCode)
		}
	}
	var chunks []model.JobChunk
	w.db.Where("job_id = ?", j.ID).Find(&chunks)
	for _, c := range chunks {
		if bytes.Contains(c.Data, []byte("PK\x03\x04")) && bytes.Contains(c.Data, []byte(".csv")) {
			t.Errorf("the kept zip is stored in clear")
		}
	}
	if res, _ := op2.get(file); res.StatusCode != 200 {
		t.Errorf("a second download by op2 = %d, want 200 while the file lasts", res.StatusCode)
	}
	var audited int64
	w.db.Model(&model.AuditLog{}).Where("action = ? AND actor = ?", "job.download", "op2").Count(&audited)
	if audited != 2 {
		t.Errorf("audit rows of op2's downloads = %d, want 2", audited)
	}
}
