// Package preview is the worker preview of the demo: server-rendered pages that show what a
// worker sees in the mini-program, each page driving /api/v1 over HTTP exactly as the
// mini-program would (wx.login code → session, binding with the phone-number proof,
// eligibility, estimate, payouts with their timeline and explanation, notice preferences) and
// showing every call it made with its request and answer, as a living example for the
// mini-program's developers. The notices page reads what the demo's stand-in WeChat received
// for the worker. It is mounted in dev with the stand-in WeChat only: it logs in with codes that
// only the stand-in accepts.
package preview

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"huzhu/service/wechat/fakewechat"
)

//go:embed templates/*.html
var templateFS embed.FS

// Prefix is where the preview is mounted.
const Prefix = "/preview"

const cookieName = "huzhu_preview"

// maxAnswer bounds what the preview reads of one API answer.
const maxAnswer = 1 << 20

// Inbox is the demo's stand-in WeChat: which openid a login code became, and the template and
// subscribe messages it received.
type Inbox interface {
	OpenIDOf(code string) string
	Sent(limit int) []fakewechat.Sent
}

// Worker is the demo worker's roster facts, filled into the binding form.
type Worker struct {
	Name, IDNumber, JingCard, Phone string
}

// Options configures the preview.
type Options struct {
	// Base returns this server's own base URL (http://host:port), known once it listens; the
	// preview calls /api/v1 there.
	Base func() string
	// Worker prefills the binding form.
	Worker Worker
	// WeChat is the stand-in WeChat.
	WeChat Inbox
	// Client calls the API (default: a client with a 10-second timeout).
	Client *http.Client
	Log    *slog.Logger
}

// Preview serves the worker preview.
type Preview struct {
	o     Options
	pages map[string]*template.Template
}

// New parses the embedded templates; it fails only when a template is broken.
func New(o Options) (*Preview, error) {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	p := &Preview{o: o, pages: map[string]*template.Template{}}
	for _, name := range []string{"home", "bind", "eligibility", "estimate", "payouts", "payout", "preferences", "notices"} {
		t, err := template.New("layout.html").Funcs(funcs()).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("preview template %s: %w", name, err)
		}
		p.pages[name] = t
	}
	return p, nil
}

// field reads a key of a decoded JSON object; a missing key, null or a non-object is "".
func field(v any, key string) any {
	if m, ok := v.(map[string]any); ok {
		if x, ok := m[key]; ok && x != nil {
			return x
		}
	}
	return ""
}

func funcs() template.FuncMap {
	return template.FuncMap{
		"field": field,
		"list": func(v any) []any {
			l, _ := v.([]any)
			return l
		},
		"num": func(v any) string {
			if f, ok := v.(float64); ok {
				return fmt.Sprintf("%.0f", f)
			}
			return fmt.Sprint(v)
		},
		"when": func(t time.Time) string { return t.Format("2006-01-02 15:04") },
		// at shows an API date-time (RFC 3339, Beijing time) as the mini-program would.
		"at": func(v any) string {
			s, _ := v.(string)
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				return t.Format("2006-01-02 15:04")
			}
			return s
		},
	}
}

// Mount adds the preview's pages under Prefix.
func (p *Preview) Mount(r fiber.Router) {
	g := r.Group(Prefix)
	g.Get("/", p.home)
	g.Post("/login", p.login)
	g.Post("/logout", p.logout)
	g.Get("/bind", p.bindForm)
	g.Post("/bind", p.bind)
	g.Get("/eligibility", p.eligibility)
	g.Get("/estimate", p.estimateForm)
	g.Post("/estimate", p.estimate)
	g.Get("/payouts", p.payouts)
	g.Get("/payouts/:id<int>", p.payout)
	g.Get("/preferences", p.preferences)
	g.Post("/preferences", p.savePreferences)
	g.Get("/notices", p.notices)
}

// Call is one API call a page made, as the page shows it.
type Call struct {
	Method, Path string
	Request      string // the JSON body sent, indented; "" for none
	Auth         bool   // sent with the session token
	Status       int
	Response     string // the answer, indented
	Body         any    // the answer, decoded
}

// OK reports a 2xx answer.
func (c Call) OK() bool { return c.Status >= 200 && c.Status < 300 }

// view is what every page renders.
type view struct {
	Title    string
	Nav      string
	LoggedIn bool
	Calls    []Call
	Error    any // the decoded error body of the last failed call
	Data     any
}

type session struct{ code, token string }

func (p *Preview) session(c *fiber.Ctx) (session, bool) {
	code, token, ok := strings.Cut(c.Cookies(cookieName), "|")
	if !ok || code == "" || token == "" {
		return session{}, false
	}
	return session{code: strings.Clone(code), token: strings.Clone(token)}, true
}

// api calls the API as the mini-program does and records the call.
func (p *Preview) api(ctx context.Context, v *view, token, method, path string, body any) Call {
	call := Call{Method: method, Path: path, Auth: token != ""}
	var rd io.Reader
	if body != nil {
		b, _ := json.MarshalIndent(body, "", "  ")
		call.Request = string(b)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.o.Base()+path, rd)
	if err != nil {
		call.Response = err.Error()
		v.Calls = append(v.Calls, call)
		return call
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := p.o.Client.Do(req)
	if err != nil {
		p.o.Log.Warn("preview: api call", "path", path, "err", err)
		call.Response = "接口无法访问：" + err.Error()
		v.Calls = append(v.Calls, call)
		return call
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	call.Status = res.StatusCode
	_ = json.Unmarshal(raw, &call.Body)
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") == nil {
		call.Response = pretty.String()
	} else {
		call.Response = string(raw)
	}
	if !call.OK() {
		v.Error = call.Body
	}
	v.Calls = append(v.Calls, call)
	return call
}

func (p *Preview) render(c *fiber.Ctx, name string, v view) error {
	var b bytes.Buffer
	if err := p.pages[name].Execute(&b, v); err != nil {
		return fmt.Errorf("preview: render %s: %w", name, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b.Bytes())
}

// home shows the profile when logged in and bound, and the way in otherwise.
func (p *Preview) home(c *fiber.Ctx) error {
	v := view{Title: "首页", Nav: "home"}
	s, ok := p.session(c)
	if ok {
		v.LoggedIn = true
		p.api(c.UserContext(), &v, s.token, http.MethodGet, "/api/v1/me", nil)
	}
	return p.render(c, "home", v)
}

// login is wx.login and POST /api/v1/session with the code; the stand-in WeChat makes any code
// a new user.
func (p *Preview) login(c *fiber.Ctx) error {
	v := view{Title: "首页", Nav: "home"}
	code := "preview-" + randomHex(8)
	call := p.api(c.UserContext(), &v, "", http.MethodPost, "/api/v1/session", map[string]string{"code": code})
	if call.OK() {
		if tok, _ := field(call.Body, "token").(string); tok != "" {
			c.Cookie(&fiber.Cookie{Name: cookieName, Value: code + "|" + tok, Path: Prefix, HTTPOnly: true, SameSite: "Lax"})
			v.LoggedIn = true
		}
	}
	return p.render(c, "home", v)
}

func (p *Preview) logout(c *fiber.Ctx) error {
	c.ClearCookie(cookieName)
	c.Cookie(&fiber.Cookie{Name: cookieName, Value: "", Path: Prefix, Expires: time.Unix(1, 0), HTTPOnly: true, SameSite: "Lax"})
	return c.Redirect(Prefix+"/", fiber.StatusSeeOther)
}

// needSession renders the home page's way in when there is no session.
func (p *Preview) needSession(c *fiber.Ctx) (session, bool, error) {
	s, ok := p.session(c)
	if !ok {
		return s, false, p.render(c, "home", view{Title: "首页", Nav: "home"})
	}
	return s, true, nil
}

type bindData struct {
	Worker Worker
	Bound  bool
	// WeChatPhone is the number the worker's WeChat verifies (the stand-in's phone button).
	WeChatPhone string
}

func (p *Preview) bindForm(c *fiber.Ctx) error {
	if _, ok, err := p.needSession(c); !ok {
		return err
	}
	return p.render(c, "bind", view{Title: "绑定京卡", Nav: "bind", LoggedIn: true, Data: bindData{Worker: p.o.Worker, WeChatPhone: p.o.Worker.Phone}})
}

// bind is the binding page's button: the phone-number button gives a code (the stand-in
// WeChat's "phone-<number>"), sent with the typed facts to POST /api/v1/binding.
func (p *Preview) bind(c *fiber.Ctx) error {
	s, ok, err := p.needSession(c)
	if !ok {
		return err
	}
	w := Worker{Name: c.FormValue("name"), IDNumber: c.FormValue("id_number"), JingCard: c.FormValue("jing_card")}
	phone := strings.TrimSpace(c.FormValue("wechat_phone"))
	v := view{Title: "绑定京卡", Nav: "bind", LoggedIn: true}
	call := p.api(c.UserContext(), &v, s.token, http.MethodPost, "/api/v1/binding", map[string]string{
		"name": w.Name, "id_number": w.IDNumber, "jing_card": w.JingCard, "phone_code": "phone-" + phone})
	v.Data = bindData{Worker: w, WeChatPhone: phone, Bound: call.OK()}
	return p.render(c, "bind", v)
}

func (p *Preview) eligibility(c *fiber.Ctx) error {
	s, ok, err := p.needSession(c)
	if !ok {
		return err
	}
	v := view{Title: "能否参加", Nav: "eligibility", LoggedIn: true}
	p.api(c.UserContext(), &v, s.token, http.MethodGet, "/api/v1/me/eligibility", nil)
	return p.render(c, "eligibility", v)
}

type estimateData struct {
	ClaimType, Date, SelfPay1 string
	Estimate                  any // the answer of POST /api/v1/estimates, when asked
	Unsettled                 any // the answer of GET /api/v1/estimates/unsettled
}

func (p *Preview) estimateForm(c *fiber.Ctx) error {
	s, ok, err := p.needSession(c)
	if !ok {
		return err
	}
	v := view{Title: "估算", Nav: "estimate", LoggedIn: true}
	u := p.api(c.UserContext(), &v, s.token, http.MethodGet, "/api/v1/estimates/unsettled", nil)
	v.Data = estimateData{ClaimType: "outpatient", Date: time.Now().AddDate(0, 0, -7).Format("2006-01-02"), SelfPay1: "1200.00", Unsettled: u.Body}
	return p.render(c, "estimate", v)
}

func (p *Preview) estimate(c *fiber.Ctx) error {
	s, ok, err := p.needSession(c)
	if !ok {
		return err
	}
	d := estimateData{ClaimType: c.FormValue("claim_type"), Date: c.FormValue("date"), SelfPay1: c.FormValue("self_pay1_yuan")}
	v := view{Title: "估算", Nav: "estimate", LoggedIn: true}
	call := p.api(c.UserContext(), &v, s.token, http.MethodPost, "/api/v1/estimates", map[string]any{
		"bills": []map[string]string{{"claim_type": d.ClaimType, "date": d.Date, "self_pay1_yuan": d.SelfPay1}}})
	if call.OK() {
		d.Estimate = call.Body
	}
	v.Data = d
	return p.render(c, "estimate", v)
}

func (p *Preview) payouts(c *fiber.Ctx) error {
	s, ok, err := p.needSession(c)
	if !ok {
		return err
	}
	v := view{Title: "互助金", Nav: "payouts", LoggedIn: true}
	path := "/api/v1/payouts"
	if y := c.Query("year"); y != "" {
		path += "?year=" + url.QueryEscape(y)
	}
	call := p.api(c.UserContext(), &v, s.token, http.MethodGet, path, nil)
	v.Data = call.Body
	return p.render(c, "payouts", v)
}

func (p *Preview) payout(c *fiber.Ctx) error {
	s, ok, err := p.needSession(c)
	if !ok {
		return err
	}
	v := view{Title: "互助金详情", Nav: "payouts", LoggedIn: true}
	call := p.api(c.UserContext(), &v, s.token, http.MethodGet, "/api/v1/payouts/"+url.PathEscape(c.Params("id")), nil)
	v.Data = call.Body
	return p.render(c, "payout", v)
}

func (p *Preview) preferences(c *fiber.Ctx) error {
	s, ok, err := p.needSession(c)
	if !ok {
		return err
	}
	v := view{Title: "通知设置", Nav: "preferences", LoggedIn: true}
	call := p.api(c.UserContext(), &v, s.token, http.MethodGet, "/api/v1/me/preferences", nil)
	v.Data = call.Body
	return p.render(c, "preferences", v)
}

// savePreferences reports wx.requestSubscribeMessage's result (accept for each ticked
// template, reject for the others) and the SMS opt-out with PUT /api/v1/me/preferences.
func (p *Preview) savePreferences(c *fiber.Ctx) error {
	s, ok, err := p.needSession(c)
	if !ok {
		return err
	}
	subs := map[string]string{}
	for _, t := range strings.Split(c.FormValue("templates"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			subs[t] = "reject"
		}
	}
	args := c.Request().PostArgs()
	for _, t := range args.PeekMulti("accept") {
		subs[string(t)] = "accept"
	}
	v := view{Title: "通知设置", Nav: "preferences", LoggedIn: true}
	call := p.api(c.UserContext(), &v, s.token, http.MethodPut, "/api/v1/me/preferences", map[string]any{
		"subscriptions": subs, "sms_opt_out": c.FormValue("sms_opt_out") == "on"})
	v.Data = call.Body
	return p.render(c, "preferences", v)
}

type noticesData struct {
	OpenID string
	Sent   []fakewechat.Sent
}

// notices shows the subscribe messages the stand-in WeChat received for this worker: in WeChat
// they arrive in the service notices (服务通知), not through the API.
func (p *Preview) notices(c *fiber.Ctx) error {
	s, ok, err := p.needSession(c)
	if !ok {
		return err
	}
	d := noticesData{}
	if p.o.WeChat != nil {
		d.OpenID = p.o.WeChat.OpenIDOf(s.code)
		for _, m := range p.o.WeChat.Sent(500) {
			if d.OpenID != "" && m.ToUser == d.OpenID {
				d.Sent = append(d.Sent, m)
			}
		}
	}
	return p.render(c, "notices", view{Title: "消息", Nav: "notices", LoggedIn: true, Data: d})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
