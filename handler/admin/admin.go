// Package admin is the staff console at /admin: server-rendered pages over the services, with
// sessions, CSRF tokens and role checks from service/staff. Errors on console pages are shown as
// an HTML page in Chinese rather than the API's JSON.
package admin

import (
	"archive/zip"
	"bytes"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"huzhu/handler"
	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/bot"
	"huzhu/service/calendar"
	"huzhu/service/errs"
	"huzhu/service/importer"
	"huzhu/service/notify"
	"huzhu/service/payment"
	"huzhu/service/policy"
	"huzhu/service/settlement"
	"huzhu/service/staff"
	"huzhu/service/stats"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

const (
	sessionCookie = "huzhu_admin"
	loginCSRF     = "huzhu_admin_login"
	csrfField     = "_csrf"
	prefix        = "/admin"
)

// Deps are the services the console calls; every field is required.
type Deps struct {
	Staff      *staff.Service
	Settlement *settlement.Service
	Payment    *payment.Service
	Importer   *importer.Service
	Stats      *stats.Service
	Notices    *notify.Dispatcher
	FAQ        *bot.KB
	Policy     *policy.Engine
	Calendar   *calendar.Calendar
	// SecureCookies sets the Secure flag, for consoles served over https.
	SecureCookies bool
	Now           func() time.Time
	Log           *slog.Logger
}

// Admin serves the console.
type Admin struct {
	d     Deps
	pages map[string]*template.Template
}

// New parses the embedded templates and returns the console. It fails only when a template is
// broken, which a test catches before release.
func New(d Deps) (*Admin, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("admin templates: %w", err)
	}
	a := &Admin{d: d, pages: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs()).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("admin template %s: %w", base, err)
		}
		a.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return a, nil
}

func funcs() template.FuncMap {
	return template.FuncMap{
		"yuan": func(f model.Fen) string { return f.YuanGrouped() },
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				if v.IsZero() {
					return ""
				}
				return v.In(model.Shanghai).Format("2006-01-02 15:04")
			case *time.Time:
				if v == nil || v.IsZero() {
					return ""
				}
				return v.In(model.Shanghai).Format("2006-01-02 15:04")
			}
			return ""
		},
		"num": func(n any) string {
			var v int64
			switch x := n.(type) {
			case int:
				v = int64(x)
			case int64:
				v = x
			}
			return group(v)
		},
		"pct":   func(bp model.BP) string { return strconv.FormatFloat(float64(bp)/100, 'f', -1, 64) + "%" },
		"score": func(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) },
		"channel": func(c model.Channel) string {
			switch c {
			case model.ChannelTemplate:
				return "公众号模板消息"
			case model.ChannelSubscribe:
				return "小程序订阅消息"
			case model.ChannelSMS:
				return "短信"
			}
			return string(c)
		},
		"notice": func(k model.NoticeKind) string {
			switch k {
			case model.NoticeArrived:
				return "到账通知"
			case model.NoticeApproved:
				return "核算通知"
			case model.NoticeFailedTx:
				return "转账失败通知"
			}
			return string(k)
		},
	}
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// view is what every page template gets.
type view struct {
	Title string
	Nav   string
	Staff staff.Staff
	CSRF  string
	Flash string
	Data  any
	Err   *errs.Error
}

// handlerFunc is a console handler for a signed-in staff member.
type handlerFunc func(c *fiber.Ctx, st staff.Staff) error

// Mount adds the console's routes under /admin.
func (a *Admin) Mount(app *fiber.App) {
	g := app.Group(prefix)
	g.Get("/static/:name", a.static)
	g.Get("/login", a.public(a.loginPage))
	g.Post("/login", a.public(a.login))
	g.Post("/logout", a.auth(a.logout))
	g.Get("/", a.auth(a.dashboard))
	g.Get("/runs", a.auth(a.need(staff.ViewPlan, a.runs)))
	g.Post("/runs", a.auth(a.need(staff.Settle, a.compute)))
	g.Get("/runs/:id", a.auth(a.need(staff.ViewPlan, a.run)))
	g.Post("/runs/:id/approve", a.auth(a.need(staff.Approve, a.approve)))
	g.Get("/payments", a.auth(a.need(staff.ViewPlan, a.payments)))
	g.Post("/payments/export", a.auth(a.need(staff.DownloadFiles, a.export)))
	g.Post("/payments/results", a.auth(a.need(staff.Pay, a.results)))
	g.Post("/payments/reissue", a.auth(a.need(staff.Pay, a.reissue)))
	g.Get("/payments/year", a.auth(a.need(staff.ViewPlan, a.reconcileYear)))
	g.Get("/payments/reconcile/:id", a.auth(a.need(staff.ViewPlan, a.reconcile)))
	g.Get("/imports", a.auth(a.need(staff.ViewPlan, a.imports)))
	g.Post("/imports", a.auth(a.need(staff.Import, a.upload)))
	g.Get("/imports/template/:kind", a.auth(a.need(staff.Import, a.template)))
	g.Get("/members", a.auth(a.need(staff.ViewMembers, a.members)))
	g.Get("/members/:id", a.auth(a.need(staff.ViewMembers, a.member)))
	g.Post("/members/:id/unbind", a.auth(a.need(staff.UnbindMember, a.unbind)))
	g.Get("/notifications", a.auth(a.need(staff.ViewPlan, a.notices)))
	g.Post("/notifications/retry", a.auth(a.need(staff.RetryNotice, a.retry)))
	g.Get("/faq", a.auth(a.need(staff.AskBot, a.faq)))
	g.Get("/policy", a.auth(a.need(staff.ViewPlan, a.policy)))
	g.Get("/audit", a.auth(a.need(staff.ViewPlan, a.auditLog)))
	g.Use(func(c *fiber.Ctx) error {
		return a.fail(c, staff.Staff{}, errs.NotFound("route.not_found", "没有这个页面"))
	})
}

// public wraps the login routes: errors become the login page's message.
func (a *Admin) public(fn func(c *fiber.Ctx) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := fn(c); err != nil {
			return a.fail(c, staff.Staff{}, err)
		}
		return nil
	}
}

// auth loads the session, checks the CSRF token of every POST and renders errors as a page.
func (a *Admin) auth(fn handlerFunc) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set("Cache-Control", "no-store")
		st, err := a.d.Staff.Authenticate(c.UserContext(), c.Cookies(sessionCookie))
		if err != nil {
			if errs.KindOf(err) == errs.KindUnauthenticated {
				if c.Method() == fiber.MethodGet {
					return c.Redirect(prefix+"/login?next="+url.QueryEscape(string(c.Request().URI().RequestURI())), fiber.StatusSeeOther)
				}
			}
			return a.fail(c, staff.Staff{}, err)
		}
		if c.Method() == fiber.MethodPost {
			tok := c.FormValue(csrfField)
			if tok == "" {
				tok = c.Get("X-CSRF-Token")
			}
			if !st.CheckCSRF(tok) {
				return a.fail(c, st, errs.New(errs.KindForbidden, "admin.csrf", "页面已过期或来源不明，操作没有执行").WithFix("请刷新页面后重新提交"))
			}
		}
		if err := fn(c, st); err != nil {
			return a.fail(c, st, err)
		}
		return nil
	}
}

// need refuses staff whose role may not do act.
func (a *Admin) need(act staff.Action, fn handlerFunc) handlerFunc {
	return func(c *fiber.Ctx, st staff.Staff) error {
		if !st.Can(act) {
			return errs.New(errs.KindForbidden, "admin.forbidden", "您的角色不能进行这项操作").WithFix("如需权限，请联系市总管理员")
		}
		return fn(c, st)
	}
}

// fail renders err as the error page: *errs.Error with its message and fix, anything else
// logged and shown as "系统繁忙".
func (a *Admin) fail(c *fiber.Ctx, st staff.Staff, err error) error {
	e, ok := errs.As(err)
	status := fiber.StatusInternalServerError
	if ok && e.Kind != errs.KindInternal {
		status = handler.Status(e.Kind)
		if e.RetryAfter > 0 {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
		}
	} else {
		a.d.Log.Error("admin: internal error", "route", c.Route().Path, "err", err, "request_id", c.Locals("request_id"))
		e = errs.New(errs.KindInternal, "internal", "系统繁忙，请稍后再试")
	}
	c.Status(status)
	return a.render(c, "error", view{Title: "出错了", Staff: st, CSRF: st.CSRF, Err: e})
}

func (a *Admin) render(c *fiber.Ctx, page string, v view) error {
	t, ok := a.pages[page]
	if !ok {
		return fmt.Errorf("admin: no template %q", page)
	}
	if v.CSRF == "" {
		v.CSRF = v.Staff.CSRF
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		return fmt.Errorf("admin: render %s: %w", page, err)
	}
	c.Set("X-Frame-Options", "DENY")
	c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'")
	c.Type("html", "utf-8")
	return c.Send(b.Bytes())
}

func (a *Admin) static(c *fiber.Ctx) error {
	name := c.Params("name")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		return c.SendStatus(fiber.StatusNotFound)
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		c.Type("css", "utf-8")
	case strings.HasSuffix(name, ".js"):
		c.Type("js", "utf-8")
	}
	c.Set("Cache-Control", "public, max-age=3600")
	return c.Send(b)
}

func (a *Admin) cookie(c *fiber.Ctx, name, value string, maxAge int) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: prefix, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		Secure: a.d.SecureCookies, MaxAge: maxAge})
}

// loginPage sets a fresh CSRF cookie for the login form (double submit: there is no session
// to tie the token to yet).
func (a *Admin) loginPage(c *fiber.Ctx) error {
	tok := staff.NewToken()
	a.cookie(c, loginCSRF, tok, 3600)
	return a.render(c, "login", view{Title: "登录", CSRF: tok, Data: safeNext(c.Query("next"))})
}

func (a *Admin) login(c *fiber.Ctx) error {
	form, cookie := c.FormValue(csrfField), c.Cookies(loginCSRF)
	if form == "" || cookie == "" || form != cookie {
		return errs.New(errs.KindForbidden, "admin.csrf", "登录页面已过期").WithFix("请刷新登录页后重新登录")
	}
	s, err := a.d.Staff.Login(c.UserContext(), c.FormValue("username"), c.FormValue("password"), c.IP())
	if err != nil {
		if e, ok := errs.As(err); ok && e.Kind != errs.KindInternal {
			c.Status(handler.Status(e.Kind))
			return a.render(c, "login", view{Title: "登录", CSRF: cookie, Err: e, Data: safeNext(c.FormValue("next"))})
		}
		return err
	}
	a.cookie(c, loginCSRF, "", -1)
	a.cookie(c, sessionCookie, s.Token, 0)
	return c.Redirect(safeNext(c.FormValue("next")), fiber.StatusSeeOther)
}

// safeNext keeps redirects inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, prefix+"/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") || strings.HasPrefix(next, prefix+"/login") {
		return prefix + "/"
	}
	return next
}

func (a *Admin) logout(c *fiber.Ctx, st staff.Staff) error {
	if err := a.d.Staff.Logout(c.UserContext(), c.Cookies(sessionCookie), st, c.IP()); err != nil {
		return err
	}
	a.cookie(c, sessionCookie, "", -1)
	return c.Redirect(prefix+"/login", fiber.StatusSeeOther)
}

type dashboardData struct {
	Overview stats.Overview
	Year     int
	Years    []int
	Unions   []stats.Group
	Types    []stats.Group
	AllTypes bool
}

func (a *Admin) dashboard(c *fiber.Ctx, st staff.Staff) error {
	ctx := c.UserContext()
	ov, err := a.d.Stats.Overview(ctx)
	if err != nil {
		return err
	}
	year := a.d.Now().In(model.Shanghai).Year()
	if y, err := strconv.Atoi(c.Query("year")); err == nil && y >= 2000 && y <= 2100 {
		year = y
	}
	b, err := a.d.Stats.Breakdown(ctx, year)
	if err != nil {
		return err
	}
	d := dashboardData{Overview: ov, Year: year, Unions: b.ByUnion, Types: b.ByClaimType, AllTypes: st.Can(staff.ViewAllFigures)}
	if !st.Can(staff.ViewAllFigures) {
		d.Unions = nil
		for _, g := range b.ByUnion {
			if g.Key == st.UnionCode {
				d.Unions = append(d.Unions, g)
			}
		}
		d.Types = nil
	}
	for _, y := range ov.Years {
		d.Years = append(d.Years, y.Year)
	}
	return a.render(c, "dashboard", view{Title: "概览", Nav: "dashboard", Staff: st, Data: d})
}

type runView struct {
	model.SettlementRun
	CanApprove bool
}

func (a *Admin) runs(c *fiber.Ctx, st staff.Staff) error {
	rs, err := a.d.Settlement.Runs(c.UserContext(), 50)
	if err != nil {
		return err
	}
	out := make([]runView, 0, len(rs))
	for _, r := range rs {
		out = append(out, runView{SettlementRun: r, CanApprove: r.Status == model.RunDraft && !r.Computing && st.CanApprove(r.CreatedBy)})
	}
	return a.render(c, "runs", view{Title: "结算批次", Nav: "runs", Staff: st, Flash: c.Query("flash"), Data: struct {
		Runs     []runView
		CanRun   bool
		Username string
	}{out, st.Can(staff.Settle), st.Username}})
}

func (a *Admin) compute(c *fiber.Ctx, st staff.Staff) error {
	p, err := a.d.Calendar.ParsePeriod(c.FormValue("period"))
	if err != nil {
		return errs.Invalid("period", "结算期间格式不对", "门诊按季度，如 2025-Q1；住院按月，如 2025-03")
	}
	r, err := a.d.Settlement.Compute(c.UserContext(), p, st.Username)
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/runs?flash=%s", prefix, url.QueryEscape(fmt.Sprintf("批次 %d 已计算：%d 条，合计 %s 元", r.ID, r.Lines, r.TotalFen.YuanGrouped()))), fiber.StatusSeeOther)
}

func (a *Admin) run(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("run.not_found", "没有这个结算批次")
	}
	d, err := a.d.Staff.Run(c.UserContext(), st, id, 20)
	if err != nil {
		return err
	}
	return a.render(c, "run", view{Title: fmt.Sprintf("结算批次 %d", id), Nav: "runs", Staff: st, Data: struct {
		staff.RunDetail
		CanApprove bool
	}{d, d.Run.Status == model.RunDraft && !d.Run.Computing && st.CanApprove(d.Run.CreatedBy)}})
}

func (a *Admin) approve(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("run.not_found", "没有这个结算批次")
	}
	ctx := c.UserContext()
	rs, err := a.d.Settlement.Runs(ctx, 1000)
	if err != nil {
		return err
	}
	var run *model.SettlementRun
	for i := range rs {
		if rs[i].ID == id {
			run = &rs[i]
		}
	}
	if run == nil {
		return errs.NotFound("run.not_found", "没有这个结算批次")
	}
	if !st.CanApprove(run.CreatedBy) {
		return errs.New(errs.KindForbidden, "run.own_run", "不能审批自己发起的结算批次").WithFix("请由另一位经办人或市总管理员审批")
	}
	r, err := a.d.Settlement.Approve(ctx, id, st.Username)
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/runs?flash=%s", prefix, url.QueryEscape(fmt.Sprintf("批次 %d 已审核，合计 %s 元", r.ID, r.TotalFen.YuanGrouped()))), fiber.StatusSeeOther)
}

func (a *Admin) payments(c *fiber.Ctx, st staff.Staff) error {
	rs, err := a.d.Settlement.Runs(c.UserContext(), 50)
	if err != nil {
		return err
	}
	var payable []model.SettlementRun
	for _, r := range rs {
		if r.Status != model.RunDraft {
			payable = append(payable, r)
		}
	}
	failed, err := a.d.Staff.FailedTransfers(c.UserContext(), st, 100)
	if err != nil {
		return err
	}
	return a.render(c, "payments", view{Title: "支付", Nav: "payments", Staff: st, Flash: c.Query("flash"), Data: struct {
		Runs   []model.SettlementRun
		Failed []staff.FailedTransfer
		CanPay bool
	}{payable, failed, st.Can(staff.Pay)}})
}

// reissue puts a failed transfer back in line for the next export, once staff fixed the
// member's account.
func (a *Admin) reissue(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.FormValue("id"), 10, 64)
	if err != nil {
		return errs.NotFound("transfer.not_found", "没有这笔转账")
	}
	if err := a.d.Payment.Reissue(c.UserContext(), id, st.Username); err != nil {
		return err
	}
	return c.Redirect(prefix+"/payments?flash="+url.QueryEscape(fmt.Sprintf("转账 %d 已重新排队，下次导出时发出", id)), fiber.StatusSeeOther)
}

// export answers with a zip of the bank files: they hold full account numbers, so they are
// never kept on the server nor shown in a page.
func (a *Admin) export(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.FormValue("run_id"), 10, 64)
	if err != nil {
		return errs.Invalid("run_id", "请选择结算批次", "在列表中点“导出”")
	}
	ex, err := a.d.Payment.Export(c.UserContext(), id, st.Username)
	if err != nil {
		return err
	}
	if len(ex.Files) == 0 {
		msg := "没有需要转账的明细"
		if ex.WaitingMembers > 0 {
			msg += fmt.Sprintf("；%d 位会员尚无收款账户", ex.WaitingMembers)
		}
		return c.Redirect(prefix+"/payments?flash="+url.QueryEscape(msg), fiber.StatusSeeOther)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range ex.Files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: a.d.Now()})
		if err != nil {
			return fmt.Errorf("export run %d: zip: %w", id, err)
		}
		if _, err := w.Write(f.CSV); err != nil {
			return fmt.Errorf("export run %d: zip: %w", id, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("export run %d: zip: %w", id, err)
	}
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="run-%d-bank-files.zip"`, id))
	c.Set("Cache-Control", "no-store")
	c.Type("zip")
	return c.Send(buf.Bytes())
}

func (a *Admin) upload(c *fiber.Ctx, st staff.Staff) error {
	name, r, err := formFile(c)
	if err != nil {
		return err
	}
	defer r.Close()
	var rep importer.Report
	switch model.ImportKind(c.FormValue("kind")) {
	case model.ImportRoster:
		rep, err = a.d.Importer.Roster(c.UserContext(), name, r, st.Username)
	case model.ImportMedical:
		rep, err = a.d.Importer.Medical(c.UserContext(), name, r, st.Username)
	default:
		return errs.Invalid("kind", "请选择导入类型", "花名册或医保数据")
	}
	if err != nil {
		return err
	}
	d := importsData{Report: &rep, Name: name, CanImport: true}
	if len(rep.Problems) > 0 {
		// The problems file is handed over inline: nothing about the upload stays on the server.
		d.ProblemsCSV = template.URL("data:text/csv;charset=utf-8;base64," + base64.StdEncoding.EncodeToString(rep.CSV()))
	}
	return a.render(c, "imports", view{Title: "导入", Nav: "imports", Staff: st, Data: d})
}

type importsData struct {
	Report      *importer.Report
	Name        string
	CanImport   bool
	ProblemsCSV template.URL // a data: URL of Report.CSV()
}

func (a *Admin) imports(c *fiber.Ctx, st staff.Staff) error {
	return a.render(c, "imports", view{Title: "导入", Nav: "imports", Staff: st, Data: importsData{CanImport: st.Can(staff.Import)}})
}

func (a *Admin) template(c *fiber.Ctx, st staff.Staff) error {
	kind := model.ImportKind(c.Params("kind"))
	if kind != model.ImportRoster && kind != model.ImportMedical {
		return errs.NotFound("import.no_template", "没有这种模板")
	}
	b, err := importer.Template(kind)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-template.xlsx"`, kind))
	c.Type("xlsx")
	return c.Send(b)
}

func formFile(c *fiber.Ctx) (string, io.ReadCloser, error) {
	fh, err := c.FormFile("file")
	if err != nil {
		return "", nil, errs.Invalid("file", "请选择要上传的文件", "支持 XLSX 或 CSV")
	}
	f, err := fh.Open()
	if err != nil {
		return "", nil, fmt.Errorf("open upload: %w", err)
	}
	return strings.Clone(fh.Filename), f, nil
}

func (a *Admin) results(c *fiber.Ctx, st staff.Staff) error {
	name, r, err := formFile(c)
	if err != nil {
		return err
	}
	defer r.Close()
	rep, err := a.d.Payment.ImportResult(c.UserContext(), name, r, st.Username)
	if err != nil {
		return err
	}
	return a.render(c, "results", view{Title: "银行回盘", Nav: "payments", Staff: st, Data: struct {
		Name   string
		Report payment.ResultReport
	}{name, rep}})
}

func (a *Admin) reconcile(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("run.not_found", "没有这个结算批次")
	}
	rec, err := a.d.Payment.Reconcile(c.UserContext(), id)
	if err != nil {
		return err
	}
	return a.render(c, "reconcile", view{Title: "对账", Nav: "payments", Staff: st, Data: rec})
}

func (a *Admin) reconcileYear(c *fiber.Ctx, st staff.Staff) error {
	year := a.d.Now().In(model.Shanghai).Year()
	if y, err := strconv.Atoi(c.Query("year")); err == nil && y >= 2000 && y <= 2100 {
		year = y
	}
	rec, err := a.d.Payment.ReconcileYear(c.UserContext(), year)
	if err != nil {
		return err
	}
	return a.render(c, "year", view{Title: fmt.Sprintf("%d 年对账", year), Nav: "payments", Staff: st, Data: rec})
}

func (a *Admin) members(c *fiber.Ctx, st staff.Staff) error {
	q := strings.TrimSpace(c.Query("q"))
	var rows []staff.MemberRow
	if q != "" || st.Role == model.RoleUnion {
		var err error
		if rows, err = a.d.Staff.Members(c.UserContext(), st, staff.MemberQuery{Name: q}); err != nil {
			return err
		}
	}
	return a.render(c, "members", view{Title: "会员", Nav: "members", Staff: st, Data: struct {
		Q    string
		Rows []staff.MemberRow
	}{q, rows}})
}

func (a *Admin) member(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("member.not_found", "没有找到这位会员")
	}
	m, err := a.d.Staff.Member(c.UserContext(), st, id)
	if err != nil {
		return err
	}
	return a.render(c, "member", view{Title: "会员详情", Nav: "members", Staff: st, Flash: c.Query("flash"), Data: struct {
		M         staff.MemberRow
		CanUnbind bool
	}{m, st.Can(staff.UnbindMember)}})
}

func (a *Admin) unbind(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("member.not_found", "没有找到这位会员")
	}
	if err := a.d.Staff.Unbind(c.UserContext(), st, id, c.IP()); err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/members/%d?flash=%s", prefix, id, url.QueryEscape("已解除微信绑定")), fiber.StatusSeeOther)
}

func (a *Admin) notices(c *fiber.Ctx, st staff.Staff) error {
	ctx := c.UserContext()
	counts, err := a.d.Notices.Stats(ctx)
	if err != nil {
		return err
	}
	failed, err := a.d.Notices.Failed(ctx, 100)
	if err != nil {
		return err
	}
	return a.render(c, "notifications", view{Title: "通知", Nav: "notifications", Staff: st, Flash: c.Query("flash"), Data: struct {
		Counts   []notify.Count
		Failed   []model.Notification
		CanRetry bool
	}{counts, failed, st.Can(staff.RetryNotice)}})
}

func (a *Admin) retry(c *fiber.Ctx, st staff.Staff) error {
	ctx := c.UserContext()
	if c.FormValue("id") == "all" {
		n, err := a.d.Notices.RetryAllFailed(ctx, st.Username)
		if err != nil {
			return err
		}
		return c.Redirect(prefix+"/notifications?flash="+url.QueryEscape(fmt.Sprintf("已重新排队 %d 条通知", n)), fiber.StatusSeeOther)
	}
	id, err := strconv.ParseUint(c.FormValue("id"), 10, 64)
	if err != nil {
		return errs.NotFound("notice.not_found", "没有这条通知")
	}
	if err := a.d.Notices.Retry(ctx, id, st.Username); err != nil {
		return err
	}
	return c.Redirect(prefix+"/notifications?flash="+url.QueryEscape(fmt.Sprintf("通知 %d 已重新排队", id)), fiber.StatusSeeOther)
}

type faqData struct {
	Q      string
	Band   string
	Hits   []bot.Hit
	Answer string
}

func (a *Admin) faq(c *fiber.Ctx, st staff.Staff) error {
	d := faqData{Q: strings.TrimSpace(c.Query("q"))}
	if d.Q != "" {
		if len([]rune(d.Q)) > 200 {
			return errs.Invalid("q", "问题太长了", "请控制在 200 字以内")
		}
		m := a.d.FAQ.Match(d.Q)
		d.Hits = m.Hits
		switch m.Band {
		case bot.BandAnswer:
			d.Band = "直接回答"
		case bot.BandSuggest:
			d.Band = "给出相近问题"
		default:
			d.Band = "无法回答（转人工 12351）"
		}
		if m.Band == bot.BandAnswer && len(m.Hits) > 0 {
			d.Answer, _ = a.d.FAQ.Render(m.Hits[0].ID, model.DateOf(a.d.Now()))
		}
	}
	return a.render(c, "faq", view{Title: "问答", Nav: "faq", Staff: st, Data: d})
}

type figure struct {
	Key, Source string
	Assumed     bool
}

type versionView struct {
	policy.Version
	Figures []figure
	Types   []model.ClaimType
	Assumed int
}

func (a *Admin) policy(c *fiber.Ctx, st staff.Staff) error {
	var out []versionView
	for _, v := range a.d.Policy.Versions() {
		vv := versionView{Version: v, Types: model.ClaimTypes}
		for _, k := range policy.SourceKeys(v) {
			src := v.Sources[k]
			f := figure{Key: k, Source: src, Assumed: src == policy.SourceAssumed}
			if f.Assumed {
				vv.Assumed++
			}
			vv.Figures = append(vv.Figures, f)
		}
		out = append(out, vv)
	}
	return a.render(c, "policy", view{Title: "政策版本", Nav: "policy", Staff: st, Data: out})
}

func (a *Admin) auditLog(c *fiber.Ctx, st staff.Staff) error {
	f := audit.Filter{Actor: strings.TrimSpace(c.Query("actor")), Action: strings.TrimSpace(c.Query("action")), Limit: 100}
	if d, err := time.ParseInLocation(time.DateOnly, c.Query("from"), model.Shanghai); err == nil {
		f.From = d
	}
	if d, err := time.ParseInLocation(time.DateOnly, c.Query("to"), model.Shanghai); err == nil {
		f.To = d.AddDate(0, 0, 1)
	}
	page := 1
	if p, err := strconv.Atoi(c.Query("page")); err == nil && p > 1 && p < 100000 {
		page = p
		f.Offset = (p - 1) * f.Limit
	}
	rows, total, err := a.d.Staff.AuditLog(c.UserContext(), st, f)
	if err != nil {
		return err
	}
	q := url.Values{"actor": {f.Actor}, "action": {f.Action}, "from": {c.Query("from")}, "to": {c.Query("to")}}
	d := struct {
		Rows                    []model.AuditLog
		Total                   int64
		Actor, Action, From, To string
		Prev, Next              string
	}{Rows: rows, Total: total, Actor: f.Actor, Action: f.Action, From: c.Query("from"), To: c.Query("to")}
	if page > 1 {
		q.Set("page", strconv.Itoa(page-1))
		d.Prev = prefix + "/audit?" + q.Encode()
	}
	if int64(f.Offset+len(rows)) < total {
		q.Set("page", strconv.Itoa(page+1))
		d.Next = prefix + "/audit?" + q.Encode()
	}
	return a.render(c, "audit", view{Title: "审计日志", Nav: "audit", Staff: st, Data: d})
}
