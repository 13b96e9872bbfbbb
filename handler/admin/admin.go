// Package admin is the staff console at /admin: server-rendered pages over the services, with
// sessions, CSRF tokens and role checks from service/staff. Errors on console pages are shown as
// an HTML page in Chinese rather than the API's JSON.
package admin

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"huzhu/handler"
	"huzhu/model"
	"huzhu/service/bot"
	"huzhu/service/calendar"
	"huzhu/service/claim"
	"huzhu/service/errs"
	"huzhu/service/importer"
	"huzhu/service/job"
	"huzhu/service/member"
	"huzhu/service/notify"
	"huzhu/service/payment"
	"huzhu/service/policy"
	"huzhu/service/rulebook"
	"huzhu/service/settlement"
	"huzhu/service/staff"
	"huzhu/service/stats"
	"huzhu/service/wechat/fakewechat"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

const (
	sessionCookie = "huzhu_admin"
	loginCSRF     = "huzhu_admin_login"
	pendingCookie = "huzhu_admin_2fa" // between the password and the second factor
	csrfField     = "_csrf"
	prefix        = "/admin"
)

// Deps are the services the console calls; every field is required.
type Deps struct {
	Staff *staff.Service
	// Members unbinds a member's WeChat account, binds members to accounts for workers checked
	// in person ("为职工绑定") and lifts binding lock-outs: the same service, and so the same
	// binding cache, as the mini-program API's of this process.
	Members    *member.Service
	Settlement *settlement.Service
	Payment    *payment.Service
	Importer   *importer.Service
	Stats      *stats.Service
	Notices    *notify.Dispatcher
	FAQ        *bot.KB
	Policy     *policy.Engine
	Calendar   *calendar.Calendar
	// Jobs runs imports, settlement runs, exports and bank result files in the background.
	Jobs *job.Service
	// Followers links official-account followers to workers; nil (no official account) hides
	// the backfill job and answers 503.
	Followers *member.Followers
	// Rules saves staff's edits of the FAQ and the policy versions and swaps them into FAQ and
	// Policy (which must be its KB and Engine). Without it those two pages are read-only.
	Rules *rulebook.Service
	// Claims reviews supplementary claims. Without it the claims pages answer Unavailable.
	Claims *claim.Service
	// DemoWeChat, set only by the demo, is the stand-in WeChat server: the 通知 page lists the
	// messages it received, so that a newcomer sees what WeChat would have delivered.
	DemoWeChat DemoWeChat
	// SecureCookies sets the Secure flag, for consoles served over https.
	SecureCookies bool
	Now           func() time.Time
	Log           *slog.Logger
}

// DemoWeChat is the demo's stand-in WeChat server (package fakewechat).
type DemoWeChat interface {
	Sent(limit int) []fakewechat.Sent
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
			case model.NoticeClaimReturned:
				return "补充申请退回通知"
			case model.NoticeClaimConfirmed:
				return "补充申请确认通知"
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

// Mount adds the console's routes under /admin. Routes that change data or hand out files carry
// no role check of their own: the service they call decides, with the same rules for the
// command line (model.Actor); pages that only show keep a check so a menu never leads to an
// error page.
func (a *Admin) Mount(app *fiber.App) {
	g := app.Group(prefix)
	g.Get("/static/:name", a.static)
	g.Get("/login", a.public(a.loginPage))
	g.Post("/login", a.public(a.login))
	g.Post("/login/code", a.public(a.loginCode))
	g.Get("/account/password", a.auth(a.passwordPage))
	g.Post("/account/password", a.auth(a.passwordChange))
	g.Get("/account/totp", a.auth(a.totpPage))
	g.Post("/account/totp", a.auth(a.totpConfirm))
	g.Post("/logout", a.auth(a.logout))
	g.Get("/", a.auth(a.dashboard))
	g.Get("/runs", a.auth(a.need(staff.ViewPlan, a.runs)))
	g.Post("/runs", a.auth(a.compute))
	g.Get("/runs/:id", a.auth(a.need(staff.ViewPlan, a.run)))
	g.Post("/runs/:id/approve", a.auth(a.approve))
	g.Get("/payments", a.auth(a.need(staff.ViewPlan, a.payments)))
	g.Post("/payments/export", a.auth(a.export))
	g.Post("/payments/rebuild", a.auth(a.rebuild))
	g.Post("/payments/results", a.auth(a.results))
	g.Post("/payments/reissue", a.auth(a.reissue))
	g.Get("/payments/year", a.auth(a.need(staff.ViewPlan, a.reconcileYear)))
	g.Get("/payments/reconcile/:id", a.auth(a.need(staff.ViewPlan, a.reconcile)))
	g.Get("/imports", a.auth(a.need(staff.ViewPlan, a.imports)))
	g.Post("/imports", a.auth(a.upload))
	g.Get("/imports/template/:kind", a.auth(a.need(staff.Import, a.template)))
	g.Get("/members", a.auth(a.need(staff.ViewMembers, a.members)))
	g.Get("/members/:id", a.auth(a.need(staff.ViewMembers, a.member)))
	g.Post("/members/:id/unbind", a.auth(a.unbind))
	g.Get("/members/:id/bind", a.auth(a.need(staff.UnbindMember, a.bindPage)))
	g.Post("/members/:id/bind", a.auth(a.bindMember))     // member.StaffBind decides who may
	g.Post("/members/:id/unlock", a.auth(a.unlockMember)) // member.LiftLock decides who may
	g.Get("/notifications", a.auth(a.need(staff.ViewPlan, a.notices)))
	g.Post("/notifications/retry", a.auth(a.retry))
	g.Post("/notifications/backfill", a.auth(a.need(staff.RetryNotice, a.backfill)))
	g.Get("/faq", a.auth(a.need(staff.AskBot, a.faq)))
	g.Get("/faq/new", a.auth(a.need(staff.EditFAQ, a.faqNew)))
	g.Post("/faq", a.auth(a.need(staff.EditFAQ, a.faqCreate)))
	g.Get("/faq/:id", a.auth(a.need(staff.AskBot, a.faqEntry)))
	g.Post("/faq/:id", a.auth(a.need(staff.EditFAQ, a.faqSave)))
	g.Post("/faq/:id/:op", a.auth(a.need(staff.EditFAQ, a.faqState)))
	g.Get("/bot-questions", a.auth(a.need(staff.EditFAQ, a.unsure)))
	g.Post("/bot-questions/:id/:op", a.auth(a.need(staff.EditFAQ, a.unsureAct)))
	g.Get("/policy", a.auth(a.need(staff.ViewPlan, a.policy)))
	g.Post("/policy", a.auth(a.need(staff.EditPolicy, a.policyAdd)))
	g.Get("/staff", a.auth(a.need(staff.ManageStaff, a.accounts)))
	g.Post("/staff", a.auth(a.need(staff.ManageStaff, a.accountCreate)))
	g.Get("/staff/:id", a.auth(a.need(staff.ManageStaff, a.account)))
	g.Post("/staff/:id", a.auth(a.need(staff.ManageStaff, a.accountChange)))
	g.Post("/staff/:id/:op", a.auth(a.need(staff.ManageStaff, a.accountOp)))
	g.Get("/audit", a.auth(a.need(staff.ViewPlan, a.auditLog)))
	g.Get("/jobs", a.auth(a.need(staff.ViewPlan, a.jobs)))
	g.Get("/jobs/:id", a.auth(a.need(staff.ViewPlan, a.jobView)))
	g.Get("/jobs/:id/file", a.auth(a.jobFile))
	g.Get("/jobs/:id/problems.csv", a.auth(a.need(staff.ViewPlan, a.jobProblems)))
	a.mountClaims(g)
	g.Get("/api/me", a.api("", a.apiMe))
	g.Get("/api/jobs", a.api(staff.ViewPlan, a.apiJobs))
	g.Get("/api/jobs/:id", a.api(staff.ViewPlan, a.apiJob))
	g.Post("/api/imports", a.api("", a.upload))
	g.Use("/api", func(c *fiber.Ctx) error { return errs.NotFound("route.not_found", "没有这个接口") })
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
		if to := restrictedTo(st); to != "" && c.Path() != to && c.Path() != prefix+"/logout" {
			return c.Redirect(to, fiber.StatusSeeOther)
		}
		if err := fn(c, st); err != nil {
			return a.fail(c, st, err)
		}
		return nil
	}
}

// actor is st as the services see them: with the client's address (copied: Fiber reuses its
// buffers, and jobs outlive the request) and the door, pages or JSON.
func (a *Admin) actor(c *fiber.Ctx, st staff.Staff) model.Actor {
	via := model.ViaConsole
	if isAPI(c) {
		via = model.ViaAPI
	}
	return st.Actor(strings.Clone(c.IP()), via)
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
		handler.RetryAfter(c, e)
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
		return a.loginFailed(c, "login", cookie, err)
	}
	if s.NeedsCode {
		a.cookie(c, pendingCookie, s.Token, 300)
		return a.render(c, "login_code", view{Title: "二次验证", CSRF: cookie, Data: safeNext(c.FormValue("next"))})
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
