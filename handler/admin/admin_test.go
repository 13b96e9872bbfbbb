package admin_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/handler"
	"huzhu/handler/admin"
	"huzhu/model"
	"huzhu/service/blob"
	"huzhu/service/bot"
	"huzhu/service/calendar"
	"huzhu/service/claim"
	"huzhu/service/importer"
	"huzhu/service/job"
	"huzhu/service/kv/kvtest"
	"huzhu/service/member"
	"huzhu/service/notify"
	"huzhu/service/payment"
	"huzhu/service/payout"
	"huzhu/service/pii"
	"huzhu/service/policy"
	"huzhu/service/settlement"
	"huzhu/service/staff"
	"huzhu/service/stats"
	"huzhu/service/store/storetest"

	"github.com/gofiber/fiber/v2"
)

// roster has two unions with one member each; 医保 has one outpatient record for 张一.
const (
	rosterCSV = "工会编码,工会名称,姓名,身份证号,社保卡号,京卡卡号\n" +
		"U1,第一工会,张一,110199199001010010,900000000001,6217990000000001\n" +
		"U2,第二工会,李二,110199199001010029,900000000002,\n"
	medicalCSV = "结算单号,社保卡号,类别,就诊日期,医疗费总额,自付一\n" +
		"JS1,900000000001,门诊,2025-03-14,100,40\n"
	password = "correct horse battery"
)

// world is a console over real services on a test database.
type world struct {
	t     *testing.T
	db    *gorm.DB
	app   *fiber.App
	staff *staff.Service
	imp   *importer.Service
	jobs  *job.Service
	spool string // where uploads wait for their jobs
	now   time.Time
	// claims is the console's claim service, for the worker's side of a claim.
	claims *claim.Service
}

func newWorld(t *testing.T, opts ...func(*admin.Deps)) *world {
	t.Helper()
	return newWorldFull(t, func(*staff.Options) {}, func(_ *gorm.DB, d *admin.Deps) {
		for _, o := range opts {
			o(d)
		}
	})
}

// newWorldDB is newWorld with an edit of the console's services that needs the database.
func newWorldDB(t *testing.T, edit func(*gorm.DB, *admin.Deps)) *world {
	t.Helper()
	return newWorldFull(t, func(*staff.Options) {}, edit)
}

// newWorldWith is newWorld with the staff service's options changed by so (RequireTOTP, say).
func newWorldWith(t *testing.T, so func(*staff.Options), opts ...func(*admin.Deps)) *world {
	t.Helper()
	return newWorldFull(t, so, func(_ *gorm.DB, d *admin.Deps) {
		for _, o := range opts {
			o(d)
		}
	})
}

// newWorldFull builds the console over a fresh database with the staff options changed by so
// and the services edited by edit.
func newWorldFull(t *testing.T, so func(*staff.Options), edit func(*gorm.DB, *admin.Deps)) *world {
	t.Helper()
	db := storetest.NewDB(t)
	kvs := kvtest.New(t)
	now := time.Date(2025, 7, 22, 10, 0, 0, 0, model.Shanghai)
	clock := func() time.Time { return now }
	log := slog.New(slog.DiscardHandler)
	cipher, err := pii.New(bytes.Repeat([]byte("k"), pii.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.Load(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := bot.ParseFAQ(config.FAQYAML, engine.Versions(), bot.Links{}, bot.Thresholds{})
	if err != nil {
		t.Fatal(err)
	}
	cal := calendar.New(model.Shanghai)
	sopts := staff.Options{BcryptCost: bcrypt.MinCost, Cipher: cipher}
	so(&sopts)
	st := staff.New(db, kvs, sopts, clock, log)
	imp := importer.New(db, cipher, importer.Options{}, clock, log)
	spool := t.TempDir()
	jobs := job.New(db, cipher, job.Options{SpoolDir: spool}, clock, log)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := jobs.Shutdown(ctx); err != nil {
			t.Errorf("jobs.Shutdown: %v", err)
		}
	})
	docs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	claims := claim.New(db, cipher, docs, payout.New(db, engine, cal, payout.Options{}, clock), claim.Options{SpoolDir: spool}, clock, log)
	deps := admin.Deps{
		Claims:     claims,
		Staff:      st,
		Members:    member.New(db, cipher, nil, nil, kvs, nil, member.Options{}, clock, log),
		Settlement: settlement.New(db, engine, cal, kvs, settlement.Options{}, clock, log),
		Payment:    payment.New(db, cipher, cal, clock, log),
		Importer:   imp,
		Stats:      stats.New(db, kvs, time.Minute, clock),
		Notices:    notify.New(db, notify.Senders{Phones: cipher}, notify.Options{}, clock, log),
		FAQ:        kb,
		Policy:     engine,
		Calendar:   cal,
		Jobs:       jobs,
		Now:        clock,
		Log:        log,
	}
	edit(db, &deps)
	a, err := admin.New(deps)
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	app := handler.New(handler.Options{BodyLimit: 64 << 10, UploadLimit: 8 << 20, Log: log})
	a.Mount(app)
	w := &world{t: t, db: db, app: app, staff: st, imp: imp, jobs: jobs, spool: spool, now: now, claims: claims}
	ctx := context.Background()
	if _, err := imp.Roster(ctx, "roster.csv", strings.NewReader(rosterCSV), asActor("test")); err != nil {
		t.Fatalf("roster: %v", err)
	}
	for _, u := range []staff.NewUser{
		{Username: "admin", Role: model.RoleAdmin},
		{Username: "op1", Role: model.RoleOperator},
		{Username: "op2", Role: model.RoleOperator},
		{Username: "u1", Role: model.RoleUnion, UnionCode: "U1"},
		{Username: "aud", Role: model.RoleAuditor},
	} {
		u.Password = password
		if _, err := st.CreateAccount(ctx, model.Actor{Username: "test", Via: model.ViaSystem}, u); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.Username, err)
		}
	}
	return w
}

func (w *world) memberID(name string) uint64 {
	w.t.Helper()
	var m model.Member
	if err := w.db.Where("name = ?", name).Take(&m).Error; err != nil {
		w.t.Fatalf("member %s: %v", name, err)
	}
	return m.ID
}

var jobLocation = regexp.MustCompile(`^/admin/jobs/(\d+)\?new=1$`)

// finish follows a form's answer to its job: it checks the 303 to the job page, waits for the
// job to end and returns it with its page as the person who submitted it sees it.
func (c *client) finish(res *http.Response, body string) (model.Job, string) {
	c.w.t.Helper()
	loc := res.Header.Get("Location")
	m := jobLocation.FindStringSubmatch(loc)
	if res.StatusCode != http.StatusSeeOther || m == nil {
		c.w.t.Fatalf("answer = %d to %q, want 303 to a job page: %.500s", res.StatusCode, loc, body)
	}
	id, _ := strconv.ParseUint(m[1], 10, 64)
	j := c.w.wait(id)
	res, page := c.get(loc)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `id="job"`) {
		c.w.t.Fatalf("job page %s = %d: %.500s", loc, res.StatusCode, page)
	}
	return j, page
}

// wait waits for job id to end.
func (w *world) wait(id uint64) model.Job {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j, err := w.jobs.Wait(ctx, id)
	if err != nil {
		w.t.Fatalf("job %d: %v", id, err)
	}
	return j
}

// drain waits for every job to end.
func (w *world) drain() {
	w.t.Helper()
	var ids []uint64
	w.db.Model(&model.Job{}).Pluck("id", &ids)
	for _, id := range ids {
		w.wait(id)
	}
}

// client is a browser: it keeps cookies and the page's CSRF token.
type client struct {
	w       *world
	cookies map[string]string
	csrf    string
}

var csrfRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (w *world) anon() *client { return &client{w: w, cookies: map[string]string{}} }

// login signs in as username and loads the dashboard for its CSRF token.
func (w *world) login(username string) *client {
	w.t.Helper()
	c := w.anon()
	c.get("/admin/login")
	res, _ := c.post("/admin/login", url.Values{"username": {username}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		w.t.Fatalf("login %s: status %d", username, res.StatusCode)
	}
	if res, body := c.get("/admin/"); res.StatusCode != http.StatusOK {
		w.t.Fatalf("dashboard for %s: %d %s", username, res.StatusCode, body)
	}
	return c
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.w.t.Helper()
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := c.w.app.Test(req, -1)
	if err != nil {
		c.w.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	b, _ := io.ReadAll(res.Body)
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
			continue
		}
		c.cookies[ck.Name] = ck.Value
	}
	if m := csrfRe.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return res, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	return c.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// post sends a form with the current CSRF token unless the form sets _csrf itself.
func (c *client) post(path string, form url.Values) (*http.Response, string) {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok && c.csrf != "" {
		form.Set("_csrf", c.csrf)
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func (c *client) upload(path string, fields map[string]string, name string, content []byte) (*http.Response, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("_csrf", c.csrf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(content)
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func TestLogin(t *testing.T) {
	w := newWorld(t)
	t.Run("no session redirects to login", func(t *testing.T) {
		res, _ := w.anon().get("/admin/runs")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login?next=") {
			t.Errorf("GET /admin/runs = %d %q, want 303 to login", res.StatusCode, res.Header.Get("Location"))
		}
	})
	t.Run("login form needs its CSRF cookie", func(t *testing.T) {
		c := w.anon()
		res, body := c.post("/admin/login", url.Values{"username": {"admin"}, "password": {password}, "_csrf": {"forged"}})
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "登录页面已过期") {
			t.Errorf("login without cookie = %d, want 403 with message", res.StatusCode)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		c := w.anon()
		c.get("/admin/login")
		res, body := c.post("/admin/login", url.Values{"username": {"admin"}, "password": {"nope nope nope"}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "用户名或密码不对") {
			t.Errorf("wrong password = %d, want 401 with message", res.StatusCode)
		}
	})
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("cookie flags secure=%v", secure), func(t *testing.T) {
			w := newWorld(t, func(d *admin.Deps) { d.SecureCookies = secure })
			c := w.anon()
			c.get("/admin/login")
			res, _ := c.post("/admin/login", url.Values{"username": {"admin"}, "password": {password}, "next": {"/admin/runs"}})
			var found bool
			for _, ck := range res.Cookies() {
				if ck.Name == "huzhu_admin" && ck.Value != "" {
					found = true
					if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/admin" || ck.Secure != secure {
						t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Lax, Path=/admin, Secure=%v", ck, secure)
					}
				}
			}
			if !found || res.Header.Get("Location") != "/admin/runs" {
				t.Errorf("login: cookie found %v, location %q, want /admin/runs", found, res.Header.Get("Location"))
			}
		})
	}
	t.Run("next stays inside the console", func(t *testing.T) {
		c := w.anon()
		c.get("/admin/login")
		res, _ := c.post("/admin/login", url.Values{"username": {"admin"}, "password": {password}, "next": {"//evil.example/admin/"}})
		if loc := res.Header.Get("Location"); loc != "/admin/" {
			t.Errorf("login with an outside next = %q, want /admin/", loc)
		}
	})
	t.Run("logout ends the session", func(t *testing.T) {
		c := w.login("aud")
		token := c.cookies["huzhu_admin"]
		if res, _ := c.post("/admin/logout", nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout = %d", res.StatusCode)
		}
		c.cookies["huzhu_admin"] = token
		if res, _ := c.get("/admin/"); res.StatusCode != http.StatusSeeOther {
			t.Errorf("old session after logout = %d, want 303 to login", res.StatusCode)
		}
	})
	t.Run("slow down, not lock-out", func(t *testing.T) {
		w := newWorld(t) // its own address budget: the subtests above used this one's
		c := w.anon()
		c.get("/admin/login")
		for i := 0; i < 6; i++ {
			c.post("/admin/login", url.Values{"username": {"op2"}, "password": {"wrong password"}})
		}
		res, body := c.post("/admin/login", url.Values{"username": {"op2"}, "password": {password}})
		if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "请稍等再试") || res.Header.Get("Retry-After") == "" {
			t.Errorf("right password right after six wrong ones = %d, want 429 asking to wait: %s", res.StatusCode, body)
		}
	})
}

func TestRoleBoundaries(t *testing.T) {
	w := newWorld(t)
	own, other := w.memberID("张一"), w.memberID("李二")
	clients := map[string]*client{}
	for _, u := range []string{"admin", "op1", "u1", "aud"} {
		clients[u] = w.login(u)
	}
	tests := []struct {
		name, user, method, path string
		want                     int
		contains                 string
	}{
		{"union sees own member", "u1", "GET", fmt.Sprintf("/admin/members/%d", own), 200, "张*"},
		{"union cannot see another union's member", "u1", "GET", fmt.Sprintf("/admin/members/%d", other), 404, "没有找到这位会员"},
		{"union cannot unbind another union's member", "u1", "POST", fmt.Sprintf("/admin/members/%d/unbind", other), 404, ""},
		{"union search shows only own union", "u1", "GET", "/admin/members?q=李", 200, "没有找到"},
		{"union cannot see runs", "u1", "GET", "/admin/runs", 403, "您的角色不能进行这项操作"},
		{"union cannot see audit log", "u1", "GET", "/admin/audit", 403, ""},
		{"union cannot import", "u1", "GET", "/admin/imports/template/roster", 403, ""},
		{"union dashboard hides other unions", "u1", "GET", "/admin/", 200, "第一工会"},
		{"admin sees every member", "admin", "GET", fmt.Sprintf("/admin/members/%d", other), 200, "李*"},
		{"auditor reads runs", "aud", "GET", "/admin/runs", 200, "结算批次"},
		{"auditor cannot compute", "aud", "POST", "/admin/runs", 403, ""},
		{"auditor cannot import", "aud", "POST", "/admin/imports", 403, ""},
		{"auditor cannot upload a bank result", "aud", "POST", "/admin/payments/results", 403, ""},
		{"auditor lists only own jobs", "aud", "GET", "/admin/jobs", 200, "还没有后台任务"},
		{"union cannot see jobs", "u1", "GET", "/admin/jobs", 403, ""},
		{"union cannot read a job", "u1", "GET", "/admin/jobs/1", 403, ""},
		{"auditor cannot export bank files", "aud", "POST", "/admin/payments/export", 403, ""},
		{"auditor cannot rebuild bank files", "aud", "POST", "/admin/payments/rebuild", 403, ""},
		{"auditor cannot retry notices", "aud", "POST", "/admin/notifications/retry", 403, ""},
		{"auditor reads the audit log", "aud", "GET", "/admin/audit", 200, "staff.login"},
		{"operator downloads a template", "op1", "GET", "/admin/imports/template/medical", 200, "PK"},
		{"unknown page", "op1", "GET", "/admin/nope", 404, "没有这个页面"},
		{"policy marks assumed figures", "op1", "GET", "/admin/policy", 200, "假定"},
		{"faq box", "u1", "GET", "/admin/faq?q=" + url.QueryEscape("退休了还能报销吗"), 200, "得分"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := clients[tc.user]
			var res *http.Response
			var body string
			if tc.method == "POST" {
				res, body = c.post(tc.path, url.Values{"period": {"2025-Q1"}, "run_id": {"1"}, "id": {"all"}})
			} else {
				res, body = c.get(tc.path)
			}
			if res.StatusCode != tc.want || !strings.Contains(body, tc.contains) {
				t.Errorf("%s %s %s = %d (contains %q: %v), want %d", tc.user, tc.method, tc.path, res.StatusCode, tc.contains, strings.Contains(body, tc.contains), tc.want)
			}
		})
	}
	t.Run("member pages show no full numbers", func(t *testing.T) {
		_, body := clients["admin"].get(fmt.Sprintf("/admin/members/%d", own))
		for _, full := range []string{"110199199001010010", "900000000001", "张一"} {
			if strings.Contains(body, full) {
				t.Errorf("member page shows %q", full)
			}
		}
	})
	t.Run("union dashboard", func(t *testing.T) {
		_, body := clients["u1"].get("/admin/")
		if strings.Contains(body, "第二工会") || strings.Contains(body, "by-type") {
			t.Errorf("union dashboard shows another union or plan-wide claim types")
		}
	})
}

func TestCSRF(t *testing.T) {
	w := newWorld(t)
	c := w.login("op1")
	tests := []struct {
		name  string
		token []string
		want  int
	}{
		{"missing", []string{""}, http.StatusForbidden},
		{"wrong", []string{"forged-token"}, http.StatusForbidden},
		{"another session's", []string{w.login("admin").csrf}, http.StatusForbidden},
		{"right", nil, http.StatusSeeOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"period": {"2025-Q1"}}
			if tc.token != nil {
				form["_csrf"] = tc.token
			}
			res, body := c.post("/admin/runs", form)
			if res.StatusCode != tc.want {
				t.Errorf("POST /admin/runs with %s token = %d, want %d: %s", tc.name, res.StatusCode, tc.want, body)
			}
		})
	}
	w.drain()
	var n, jobs int64
	w.db.Model(&model.SettlementRun{}).Count(&n)
	w.db.Model(&model.Job{}).Count(&jobs)
	if n != 1 || jobs != 1 {
		t.Errorf("runs after the CSRF tests = %d from %d jobs, want 1 (only the one with the right token)", n, jobs)
	}
}

// TestPlanFlow goes through a quarter: imports, a run approved by a second operator, bank
// files, a bank result, reconciliation, notices and the audit trail.
func TestPlanFlow(t *testing.T) {
	w := newWorld(t)
	op1, op2, adm := w.login("op1"), w.login("op2"), w.login("admin")

	j, body := op1.finish(op1.upload("/admin/imports", map[string]string{"kind": "roster"}, "roster.csv",
		[]byte(rosterCSV+"U1,,坏,110199199001010011,,\n")))
	problemsURL := fmt.Sprintf("/admin/jobs/%d/problems.csv", j.ID)
	if j.Status != model.JobDone || !strings.Contains(body, "身份证号校验位不对") || !strings.Contains(body, `href="`+problemsURL+`"`) {
		t.Fatalf("roster import job = %s, want done with problems listed and a link to their CSV: %s", j.Status, body)
	}
	if res, csv := op1.get(problemsURL); res.StatusCode != 200 || !strings.HasPrefix(csv, "\ufeff\"行号\",\"列\",\"问题\"") || !strings.Contains(csv, "校验位") ||
		strings.Contains(csv, "110199199001010011") {
		t.Errorf("problems CSV = %d %q, want the bad row without its ID number", res.StatusCode, csv)
	}
	if j, body := op1.finish(op1.upload("/admin/imports", map[string]string{"kind": "medical"}, "yb.csv", []byte(medicalCSV))); j.Status != model.JobDone || !strings.Contains(body, "导入结果") {
		t.Fatalf("medical import job = %s: %s", j.Status, body)
	}
	if spooled, _ := os.ReadDir(w.spool); len(spooled) != 0 {
		t.Errorf("%d uploads left in the spool folder after their jobs ended", len(spooled))
	}
	if res, body := op1.post("/admin/runs", url.Values{"period": {"nonsense"}}); res.StatusCode != 400 || !strings.Contains(body, "2025-Q1") {
		t.Errorf("bad period = %d, want 400 with an example", res.StatusCode)
	}
	j, body = op1.finish(op1.post("/admin/runs", url.Values{"period": {"2025-Q1"}}))
	if j.Status != model.JobDone || !strings.Contains(body, "20.00") || !strings.Contains(body, `id="run-link"`) {
		t.Fatalf("compute job = %s, want done with the run's total and a link to it: %s", j.Status, body)
	}
	var run model.SettlementRun
	if err := w.db.Take(&run).Error; err != nil || run.CreatedBy != "op1" || run.TotalFen != 2000 {
		t.Fatalf("run = %+v, %v; want created by op1, 20.00 元", run, err)
	}
	if res, body := op2.get(fmt.Sprintf("/admin/runs/%d", run.ID)); res.StatusCode != 200 || !strings.Contains(body, "张*") || !strings.Contains(body, "20.00") || !strings.Contains(body, "<li>") {
		t.Errorf("run page = %d, want the sample line of 张* with its explanation: %s", res.StatusCode, body)
	}
	approve := fmt.Sprintf("/admin/runs/%d/approve", run.ID)
	if _, body := op1.get("/admin/runs"); strings.Contains(body, approve) || !strings.Contains(body, "需他人审批") {
		t.Errorf("runs page offers op1 to approve their own run")
	}
	if res, body := op1.post(approve, nil); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "不能审批自己发起的") {
		t.Errorf("op1 approves own run = %d, want 403", res.StatusCode)
	}
	if res, _ := op2.post("/admin/runs/999/approve", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("approve unknown run = %d, want 404", res.StatusCode)
	}
	if res, body := op2.post(approve, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("op2 approves = %d: %s", res.StatusCode, body)
	}
	if _, body := op2.get("/admin/runs"); !strings.Contains(body, "已审核") {
		t.Errorf("runs page after approval does not show it approved")
	}

	exported := exportFiles(t, adm, run.ID)
	// A file lost before it reached the bank is made again from the reconcile page, the same.
	reconcile := fmt.Sprintf("/admin/payments/reconcile/%d", run.ID)
	_, page := adm.get(reconcile)
	bm := regexp.MustCompile(`name="batch_id" value="(\d+)"`).FindStringSubmatch(page)
	if bm == nil {
		t.Fatalf("reconcile page offers no rebuild: %s", page)
	}
	if _, page := w.login("aud").get(reconcile); strings.Contains(page, `action="/admin/payments/rebuild"`) || !strings.Contains(page, "batches") {
		t.Errorf("the reconcile page offers the auditor the rebuild, which needs DownloadFiles")
	}
	rj, rbody := adm.finish(adm.post("/admin/payments/rebuild", url.Values{"batch_id": {bm[1]}}))
	if rj.Status != model.JobDone {
		t.Fatalf("rebuild job = %s: %s", rj.Status, rbody)
	}
	_, rebuilt := adm.get(fmt.Sprintf("/admin/jobs/%d/file", rj.ID))
	if a, b := zipCSVs(t, exported), zipCSVs(t, []byte(rebuilt)); len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Errorf("rebuilt files %v differ from the exported %v", b, a)
	}
	result := bankResult(t, exported)
	j, body = op1.finish(op1.upload("/admin/payments/results", nil, "result.csv", result))
	if j.Status != model.JobDone || !strings.Contains(body, "到账") {
		t.Fatalf("result job = %s: %s", j.Status, body)
	}
	if _, body := adm.get(fmt.Sprintf("/admin/payments/reconcile/%d", run.ID)); !strings.Contains(body, "账目相符") || !strings.Contains(body, "20.00") {
		t.Errorf("reconcile page: %s", body)
	}
	if _, body := adm.get("/admin/payments/year?year=2025"); !strings.Contains(body, "相符") || !strings.Contains(body, "20.00") {
		t.Errorf("year reconciliation page: %s", body)
	}
	if _, body := adm.get("/admin/notifications"); strings.Contains(body, "暂无通知") {
		t.Errorf("no notices queued after approval and arrival")
	}
	_, body = adm.get("/admin/audit?action=run.")
	if !strings.Contains(body, "run.approve") || !strings.Contains(body, "op2") {
		t.Errorf("audit log lacks the approval by op2")
	}
	var denied int64
	w.db.Model(&model.AuditLog{}).Where("action LIKE ? AND actor = ?", "payment.%", "admin").Count(&denied)
	if denied == 0 {
		t.Errorf("no audit row for the export by admin")
	}
}

// exportFiles exports run id as c through its job and downloads the zip from the job page.
func exportFiles(t *testing.T, c *client, runID uint64) []byte {
	t.Helper()
	j, body := c.finish(c.post("/admin/payments/export", url.Values{"run_id": {fmt.Sprint(runID)}}))
	file := fmt.Sprintf("/admin/jobs/%d/file", j.ID)
	if j.Status != model.JobDone || !strings.Contains(body, `href="`+file+`"`) || !strings.Contains(body, "data-autodownload") {
		t.Fatalf("export job = %s, want done with an automatic download: %s", j.Status, body)
	}
	res, zipped := c.get(file)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/zip" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("download = %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
	}
	return []byte(zipped)
}

// zipCSVs returns the files in a zip by name.
func zipCSVs(t *testing.T, zipped []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatalf("zip: %v", err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = string(b)
	}
	return out
}

// bankResult answers every transfer of the exported files as 成功.
func bankResult(t *testing.T, zipped []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil || len(zr.File) == 0 {
		t.Fatalf("export zip: %v (%d files)", err, len(zr.File))
	}
	var out bytes.Buffer
	out.WriteString("转账编号,结果\n")
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))).ReadAll()
		if err != nil || len(rows) < 2 {
			t.Fatalf("bank file %s: %v", f.Name, err)
		}
		for _, r := range rows[1:] {
			fmt.Fprintf(&out, "%s,成功\n", r[0])
		}
	}
	return out.Bytes()
}

// TestFailedTransferIsReissued: a refused transfer shows on the payments page and goes back in
// line for the next export.
func TestFailedTransferIsReissued(t *testing.T) {
	w := newWorld(t)
	op1, op2 := w.login("op1"), w.login("op2")
	if j, _ := op1.finish(op1.upload("/admin/imports", map[string]string{"kind": "medical"}, "yb.csv", []byte(medicalCSV))); j.Status != model.JobDone {
		t.Fatalf("medical import = %s", j.Status)
	}
	op1.finish(op1.post("/admin/runs", url.Values{"period": {"2025-Q1"}}))
	var run model.SettlementRun
	if err := w.db.Take(&run).Error; err != nil {
		t.Fatal(err)
	}
	op2.post(fmt.Sprintf("/admin/runs/%d/approve", run.ID), nil)
	failed := strings.ReplaceAll(string(bankResult(t, exportFiles(t, op1, run.ID))), ",成功", ",失败")
	failed = strings.Replace(failed, "转账编号,结果", "转账编号,结果,原因", 1)
	failed = strings.TrimSuffix(failed, "\n") + ",账户已销户\n"
	if j, body := op1.finish(op1.upload("/admin/payments/results", nil, "result.csv", []byte(failed))); j.Status != model.JobDone || !strings.Contains(body, "失败") {
		t.Fatalf("failed result job = %s: %s", j.Status, body)
	}
	var tr model.Transfer
	if err := w.db.Take(&tr).Error; err != nil || tr.Status != model.LineFailed {
		t.Fatalf("transfer = %+v, %v; want failed", tr, err)
	}
	if _, body := op1.get("/admin/payments"); !strings.Contains(body, "账户已销户") || !strings.Contains(body, "张*") || strings.Contains(body, "6217990000000001") {
		t.Errorf("payments page does not list the failed transfer masked: %s", body)
	}
	aud := w.login("aud")
	if res, _ := aud.post("/admin/payments/reissue", url.Values{"id": {fmt.Sprint(tr.ID)}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("auditor re-issues = %d, want 403", res.StatusCode)
	}
	if res, body := op1.post("/admin/payments/reissue", url.Values{"id": {fmt.Sprint(tr.ID)}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reissue = %d: %s", res.StatusCode, body)
	}
	if _, body := op1.get("/admin/payments"); !strings.Contains(body, "没有失败的转账") {
		t.Errorf("failed transfer still listed after re-issue")
	}
	if res, _ := op1.post("/admin/payments/reissue", url.Values{"id": {fmt.Sprint(tr.ID)}}); res.StatusCode != http.StatusConflict {
		t.Errorf("second reissue = %d, want 409", res.StatusCode)
	}
}

func TestNoticeRetry(t *testing.T) {
	w := newWorld(t)
	member := w.memberID("张一")
	var ids []uint64
	for i := range 3 {
		n := model.Notification{DedupKey: fmt.Sprintf("test:%d", i), MemberID: member, Kind: model.NoticeArrived, Channel: model.ChannelSMS,
			Payload: "{}", Status: model.NoticeFailed, NextAttemptAt: w.now, Attempts: 5, LastError: "短信网关拒绝"}
		if err := w.db.Create(&n).Error; err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.ID)
	}
	op := w.login("op1")
	if _, body := op.get("/admin/notifications"); strings.Count(body, "短信网关拒绝") != 3 {
		t.Errorf("failed list does not show the 3 failed notices")
	}
	tests := []struct {
		name string
		id   string
		want int
	}{
		{"one", fmt.Sprint(ids[0]), http.StatusSeeOther},
		{"again", fmt.Sprint(ids[0]), http.StatusConflict},
		{"unknown", "999999", http.StatusNotFound},
		{"not a number", "x", http.StatusNotFound},
		{"all the rest", "all", http.StatusSeeOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if res, body := op.post("/admin/notifications/retry", url.Values{"id": {tc.id}}); res.StatusCode != tc.want {
				t.Errorf("retry %s = %d, want %d: %s", tc.id, res.StatusCode, tc.want, body)
			}
		})
	}
	var failed int64
	w.db.Model(&model.Notification{}).Where("status = ?", model.NoticeFailed).Count(&failed)
	if failed != 0 {
		t.Errorf("failed notices after retries = %d, want 0", failed)
	}
	var audited int64
	w.db.Model(&model.AuditLog{}).Where("action LIKE ? AND actor = ?", "notice.%", "op1").Count(&audited)
	if audited == 0 {
		t.Errorf("no audit row for the retries by op1")
	}
}
