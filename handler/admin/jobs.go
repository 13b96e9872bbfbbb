package admin

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/importer"
	"huzhu/service/job"
	"huzhu/service/payment"
	"huzhu/service/staff"
)

// maxShownProblems bounds the problem rows a job keeps in its result for the page; the full list
// is the problems CSV of the import batch.
const maxShownProblems = 200

// jobsPerPage is the size of a page of the jobs list.
const jobsPerPage = 20

// problemJSON is one bad row of a file.
type problemJSON struct {
	Row     int    `json:"row"`
	Column  string `json:"column"`
	Message string `json:"message"`
}

// importResult is what a roster or 医保 import job keeps.
type importResult struct {
	BatchID  uint64        `json:"batch_id"`
	File     string        `json:"file"`
	Rows     int           `json:"rows"`
	Added    int           `json:"added"`
	Updated  int           `json:"updated"`
	Same     int           `json:"same"`
	Bad      int           `json:"bad"`
	Problems []problemJSON `json:"problems"` // the first maxShownProblems
}

func newImportResult(file string, r importer.Report) importResult {
	out := importResult{BatchID: r.BatchID, File: file, Rows: r.Rows, Added: r.Added, Updated: r.Updated, Same: r.Same, Bad: r.Bad}
	for _, p := range r.Problems[:min(len(r.Problems), maxShownProblems)] {
		out.Problems = append(out.Problems, problemJSON{p.Row, p.Column, p.Message})
	}
	return out
}

// settleResult is what a settlement job keeps: the run's totals.
type settleResult struct {
	RunID      uint64    `json:"run_id"`
	Period     string    `json:"period"`
	Class      string    `json:"class"`
	ClassLabel string    `json:"class_label"`
	Records    int64     `json:"records"`
	Lines      int64     `json:"lines"`
	Members    int64     `json:"members"`
	Rejected   int64     `json:"rejected"`
	TotalFen   model.Fen `json:"total_fen"`
}

func newSettleResult(r model.SettlementRun) settleResult {
	return settleResult{RunID: r.ID, Period: r.Period, Class: string(r.Class), ClassLabel: r.Class.Label(), Records: r.RecordsIn,
		Lines: r.Lines, Members: r.Members, Rejected: r.Rejected, TotalFen: r.TotalFen}
}

// exportResult is what an export job keeps; the files themselves are kept sealed for their
// creator only (job.Task.Keep) and never appear in a result.
type exportResult struct {
	RunID          uint64       `json:"run_id"`
	Files          []exportFile `json:"files"`
	WaitingMembers int          `json:"waiting_members"`
	Held           []heldJSON   `json:"held,omitempty"` // members not written: see payment.Held
}

// heldJSON is a member whose transfer an export did not write, and why.
type heldJSON struct {
	MemberID uint64 `json:"member_id"`
	Message  string `json:"message"`
}

type exportFile struct {
	Bank      string    `json:"bank"`
	BankLabel string    `json:"bank_label"`
	Name      string    `json:"name"`
	Transfers int       `json:"transfers"`
	TotalFen  model.Fen `json:"total_fen"`
}

// bankResult is what a bank result job keeps.
type bankResult struct {
	BatchID   uint64        `json:"batch_id"`
	File      string        `json:"file"`
	Rows      int           `json:"rows"`
	Arrived   int           `json:"arrived"`
	Failed    int           `json:"failed"`
	Unchanged int           `json:"unchanged"`
	Bad       int           `json:"bad"`
	Problems  []problemJSON `json:"problems"`
}

func newBankResult(file string, r payment.ResultReport) bankResult {
	out := bankResult{BatchID: r.BatchID, File: file, Rows: r.Rows, Arrived: r.Arrived, Failed: r.Failed, Unchanged: r.Unchanged, Bad: len(r.Problems)}
	for _, p := range r.Problems[:min(len(r.Problems), maxShownProblems)] {
		out.Problems = append(out.Problems, problemJSON{p.Row, p.Column, p.Message})
	}
	return out
}

// jobJSON is a job as the JSON endpoints and the job page show it.
type jobJSON struct {
	ID          uint64          `json:"id"`
	Kind        model.JobKind   `json:"kind"`
	KindLabel   string          `json:"kind_label"`
	Status      model.JobStatus `json:"status"`
	StatusLabel string          `json:"status_label"`
	Stage       string          `json:"stage"`
	Done        int64           `json:"done"`
	Total       int64           `json:"total"`
	Percent     *int64          `json:"percent"` // null while the total is not known
	Progress    string          `json:"progress"`
	Subject     string          `json:"subject"`
	CreatedBy   string          `json:"created_by"`
	CreatedAt   time.Time       `json:"created_at"`
	StartedAt   *time.Time      `json:"started_at,omitempty"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
	Error       *jobError       `json:"error,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"`
	URL         string          `json:"url"`
	FileURL     string          `json:"file_url,omitempty"`     // the kept file, for its creator while it lasts
	ProblemsURL string          `json:"problems_url,omitempty"` // all problem rows as CSV
}

type jobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// newJobJSON shapes j for st.
func (a *Admin) newJobJSON(j model.Job, st staff.Staff) jobJSON {
	out := jobJSON{ID: j.ID, Kind: j.Kind, KindLabel: j.Kind.Label(), Status: j.Status, StatusLabel: j.Status.Label(), Stage: j.Stage,
		Done: j.Done, Total: j.Total, Subject: j.Subject, CreatedBy: j.CreatedBy, CreatedAt: j.CreatedAt.In(model.Shanghai),
		StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, URL: fmt.Sprintf("%s/jobs/%d", prefix, j.ID)}
	switch {
	case j.Status == model.JobDone:
		out.Percent = ptr(int64(100))
	case j.Total > 0:
		out.Percent = ptr(min(j.Done*100/j.Total, 99))
	}
	out.Progress = progressText(j)
	if j.Error != "" {
		out.Error = &jobError{Code: j.ErrorCode, Message: j.Error, Hint: j.Hint}
	}
	if j.Status == model.JobDone && j.Result != "" && j.Result != "null" {
		out.Result = json.RawMessage(j.Result)
		var r struct {
			BatchID uint64 `json:"batch_id"`
			Bad     int    `json:"bad"`
		}
		if json.Unmarshal(out.Result, &r) == nil && r.BatchID != 0 && r.Bad > 0 {
			out.ProblemsURL = fmt.Sprintf("%s/jobs/%d/problems.csv", prefix, j.ID)
		}
	}
	if a.fileReady(j, st) {
		out.FileURL = fmt.Sprintf("%s/jobs/%d/file", prefix, j.ID)
	}
	return out
}

// fileReady reports whether st may download j's kept file now: only its creator, with the right
// to download bank files, before it expires.
func (a *Admin) fileReady(j model.Job, st staff.Staff) bool {
	return j.FileSize > 0 && j.FileExpires != nil && a.d.Now().Before(*j.FileExpires) && j.CreatedBy == st.Username && st.Can(staff.DownloadFiles)
}

func ptr[T any](v T) *T { return &v }

// progressText says in words how far j got.
func progressText(j model.Job) string {
	switch {
	case j.Status == model.JobQueued:
		return "排队等待中，前面的任务完成后自动开始"
	case !j.Status.Live() && j.StartedAt != nil && j.FinishedAt != nil:
		return "用时 " + elapsed(j.FinishedAt.Sub(*j.StartedAt))
	case !j.Status.Live():
		return ""
	case j.Done == 0 && j.Total == 0:
		return "正在开始"
	}
	switch j.Kind {
	case model.JobImportRoster, model.JobImportMedical, model.JobBankResult:
		if j.Total > 0 {
			return fmt.Sprintf("已读取 %s / %s", size(j.Done), size(j.Total))
		}
		return fmt.Sprintf("已处理 %s 行", group(j.Done))
	case model.JobExport:
		return fmt.Sprintf("已处理 %s / %s 位会员", group(j.Done), group(j.Total))
	}
	if j.Total > 0 {
		return fmt.Sprintf("已完成 %s / %s", group(j.Done), group(j.Total))
	}
	return fmt.Sprintf("已完成 %s", group(j.Done))
}

// elapsed writes a duration for people, to the second.
func elapsed(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d 秒", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d 分 %d 秒", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d 小时 %d 分", int(d.Hours()), int(d.Minutes())%60)
}

// size writes a byte count for people.
func size(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 0, 64) + " KB"
	}
	return strconv.FormatInt(n, 10) + " 字节"
}

// jobPage is what job.html shows.
type jobPage struct {
	Job          jobJSON
	API          string
	Import       *importResult
	Settle       *settleResult
	Export       *exportResult
	Bank         *bankResult
	FileGone     bool // the export kept a file that has expired, or another person made it
	AutoDownload bool // the page was reached right after submitting or as the job ended: start the download
	Again        string
}

func (a *Admin) jobView(c *fiber.Ctx, st staff.Staff) error {
	j, err := a.visibleJob(c, st)
	if err != nil {
		return err
	}
	d := jobPage{Job: a.newJobJSON(j, st), API: fmt.Sprintf("%s/api/jobs/%d", prefix, j.ID), Again: againURL(j.Kind)}
	if d.Job.Result != nil {
		var dst any
		switch j.Kind {
		case model.JobImportRoster, model.JobImportMedical:
			d.Import = &importResult{}
			dst = d.Import
		case model.JobSettle:
			d.Settle = &settleResult{}
			dst = d.Settle
		case model.JobExport:
			d.Export = &exportResult{}
			dst = d.Export
		case model.JobBankResult:
			d.Bank = &bankResult{}
			dst = d.Bank
		}
		if dst != nil {
			if err := json.Unmarshal(d.Job.Result, dst); err != nil {
				return fmt.Errorf("job %d result: %w", j.ID, err)
			}
		}
	}
	d.FileGone = j.Kind == model.JobExport && j.FileName != "" && d.Job.FileURL == ""
	// Downloads start by themselves only on the page staff reach right after submitting (?new=1)
	// or when its script saw the job end (?done=1); the script then drops the query, so reloading
	// does not download again.
	d.AutoDownload = d.Job.FileURL != "" && (c.Query("new") == "1" || c.Query("done") == "1")
	return a.render(c, "job", view{Title: fmt.Sprintf("任务 %d：%s", j.ID, j.Kind.Label()), Nav: navOf(j.Kind), Staff: st, Data: d})
}

// againURL is the page where staff submit a job of kind again.
func againURL(k model.JobKind) string {
	switch k {
	case model.JobSettle:
		return prefix + "/runs"
	case model.JobExport, model.JobBankResult:
		return prefix + "/payments"
	case model.JobBackfillFollowers:
		return prefix + "/notifications"
	}
	return prefix + "/imports"
}

func navOf(k model.JobKind) string {
	switch k {
	case model.JobSettle:
		return "runs"
	case model.JobExport, model.JobBankResult:
		return "payments"
	case model.JobBackfillFollowers:
		return "notifications"
	}
	return "imports"
}

// visibleJob loads the job of the :id parameter as st may see it (their own; every job for 市总管理员).
func (a *Admin) visibleJob(c *fiber.Ctx, st staff.Staff) (model.Job, error) {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return model.Job{}, errs.NotFound("job.not_found", "没有这个任务")
	}
	return a.d.Jobs.Get(c.UserContext(), id, a.actor(c, st))
}

type jobsPage struct {
	Jobs       []jobJSON
	Total      int64
	Page       int
	Pages      int
	Prev, Next string
	All        bool
}

func (a *Admin) jobList(c *fiber.Ctx, st staff.Staff) (jobsPage, error) {
	page, _ := strconv.Atoi(c.Query("page"))
	page = max(page, 1)
	who := a.actor(c, st)
	all := job.SeesAll(who)
	rows, total, err := a.d.Jobs.List(c.UserContext(), who, page, jobsPerPage)
	if err != nil {
		return jobsPage{}, err
	}
	d := jobsPage{Total: total, Page: page, Pages: max(int((total+jobsPerPage-1)/jobsPerPage), 1), All: all, Jobs: make([]jobJSON, 0, len(rows))}
	for _, r := range rows {
		d.Jobs = append(d.Jobs, a.newJobJSON(r, st))
	}
	if page > 1 {
		d.Prev = fmt.Sprintf("%s/jobs?page=%d", prefix, page-1)
	}
	if page < d.Pages {
		d.Next = fmt.Sprintf("%s/jobs?page=%d", prefix, page+1)
	}
	return d, nil
}

func (a *Admin) jobs(c *fiber.Ctx, st staff.Staff) error {
	d, err := a.jobList(c, st)
	if err != nil {
		return err
	}
	return a.render(c, "jobs", view{Title: "后台任务", Nav: "jobs", Staff: st, Data: d})
}

// jobFile sends an export's bank files to the person who exported them.
func (a *Admin) jobFile(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("job.not_found", "没有这个任务")
	}
	name, b, err := a.d.Jobs.File(c.UserContext(), id, a.actor(c, st))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, asciiName(name), url.PathEscape(name)))
	c.Set("Cache-Control", "no-store")
	c.Type("zip")
	return c.Send(b)
}

// jobProblems sends every problem row of an import job as CSV.
func (a *Admin) jobProblems(c *fiber.Ctx, st staff.Staff) error {
	j, err := a.visibleJob(c, st)
	if err != nil {
		return err
	}
	var r struct {
		BatchID uint64 `json:"batch_id"`
	}
	if j.Status != model.JobDone || json.Unmarshal([]byte(j.Result), &r) != nil || r.BatchID == 0 {
		return errs.NotFound("job.no_problems", "这个任务没有问题行")
	}
	b, err := a.d.Importer.ProblemsCSV(c.UserContext(), r.BatchID)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="job-%d-problems.csv"`, j.ID))
	c.Type("csv", "utf-8")
	return c.Send(b)
}

// asciiName keeps a file name safe inside a quoted header value.
func asciiName(s string) string {
	b := []byte(s)
	out := make([]byte, 0, len(b))
	for _, ch := range b {
		if ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' {
			out = append(out, ch)
		}
	}
	if len(out) == 0 {
		return "download"
	}
	return string(out)
}

// startJob starts a job for st and answers the way the caller asked: 303 to the job page for a
// console form, 202 with the job for a program.
func (a *Admin) startJob(c *fiber.Ctx, st staff.Staff, spec job.Spec, work job.Work) error {
	spec.Actor = a.actor(c, st)
	j, err := a.d.Jobs.Start(c.UserContext(), spec, work)
	if err != nil {
		return err
	}
	if isAPI(c) {
		c.Location(fmt.Sprintf("%s/api/jobs/%d", prefix, j.ID))
		return c.Status(fiber.StatusAccepted).JSON(a.newJobJSON(j, st))
	}
	return c.Redirect(fmt.Sprintf("%s/jobs/%d?new=1", prefix, j.ID), fiber.StatusSeeOther)
}

// spoolUpload seals the form's file until its job has read it.
func (a *Admin) spoolUpload(c *fiber.Ctx) (string, *job.Spool, error) {
	name, r, err := formFile(c)
	if err != nil {
		return "", nil, err
	}
	defer r.Close()
	sp, err := a.d.Jobs.Spool(r)
	if err != nil {
		return "", nil, err
	}
	return name, sp, nil
}

// The JSON endpoints for programs: the console's session cookie, the X-CSRF-Token header on every
// POST, and errors as handler.ErrorHandler writes them ({code,message,field,fix,request_id}).

const apiPrefix = "/api"

func isAPI(c *fiber.Ctx) bool {
	p := c.Path()
	return len(p) >= len(prefix+apiPrefix+"/") && p[:len(prefix+apiPrefix+"/")] == prefix+apiPrefix+"/"
}

// api wraps a JSON endpoint: it returns errors to the app's JSON error handler instead of
// rendering the console's error page.
func (a *Admin) api(act staff.Action, fn handlerFunc) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set("Cache-Control", "no-store")
		st, err := a.d.Staff.Authenticate(c.UserContext(), c.Cookies(sessionCookie))
		if err != nil {
			return err
		}
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead && !st.CheckCSRF(c.Get("X-CSRF-Token")) {
			return errs.New(errs.KindForbidden, "admin.csrf", "请求缺少有效的 X-CSRF-Token 请求头，操作没有执行").
				WithFix("先请求 GET /admin/api/me 取得 csrf_token，再放进 X-CSRF-Token 请求头")
		}
		if st.Restricted() {
			return errs.New(errs.KindForbidden, "staff.restricted", "请先在控制台修改密码或设置二次验证").WithFix("用浏览器登录控制台，按提示完成后再调用接口")
		}
		if act != "" && !st.Can(act) {
			return errs.New(errs.KindForbidden, "admin.forbidden", "您的角色不能进行这项操作").WithFix("如需权限，请联系市总管理员")
		}
		return fn(c, st)
	}
}

// apiMe tells a program who it is signed in as and the CSRF token its POSTs must carry.
func (a *Admin) apiMe(c *fiber.Ctx, st staff.Staff) error {
	return c.JSON(fiber.Map{"username": st.Username, "display_name": st.DisplayName, "role": st.Role, "role_label": st.Role.Label(),
		"csrf_token": st.CSRF})
}

func (a *Admin) apiJob(c *fiber.Ctx, st staff.Staff) error {
	j, err := a.visibleJob(c, st)
	if err != nil {
		return err
	}
	return c.JSON(a.newJobJSON(j, st))
}

func (a *Admin) apiJobs(c *fiber.Ctx, st staff.Staff) error {
	d, err := a.jobList(c, st)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"jobs": d.Jobs, "total": d.Total, "page": d.Page, "pages": d.Pages})
}
