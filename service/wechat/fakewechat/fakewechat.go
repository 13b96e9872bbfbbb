// Package fakewechat is a stand-in for WeChat's server API: stable and classic access tokens,
// mini-program login and phone number, template messages (with client_msg_id de-duplication),
// subscribe messages, the menu, and the follower list and user information. It records every
// request and can fail, slow down or drop chosen calls.
//
// Tests use it through package wechattest. `huzhu serve --demo` runs one on loopback in Demo
// mode, where any wx.login code is a fresh user and a phone-number code "phone-<11 digits>" is
// that number, so that a newcomer can try the mini-program API and the notices without a
// WeChat account. It is never for production: it accepts its own fixed credentials only.
//
// It imports no testing package: production code may build it.
package fakewechat

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"huzhu/service/wechat"
)

// Paths the fake serves.
const (
	PathStableToken   = "/cgi-bin/stable_token"
	PathToken         = "/cgi-bin/token"
	PathCode2Session  = "/sns/jscode2session"
	PathTemplateSend  = "/cgi-bin/message/template/send"
	PathSubscribeSend = "/cgi-bin/message/subscribe/send"
	PathMenuCreate    = "/cgi-bin/menu/create"
	PathPhoneNumber   = "/wxa/business/getuserphonenumber"
	PathUserInfo      = "/cgi-bin/user/info"
	PathUserInfoBatch = "/cgi-bin/user/info/batchget"
	PathUserGet       = "/cgi-bin/user/get"
)

// Credentials the fake accepts; Options uses them. Any other AppID gets 40013, a wrong secret
// 40125, as WeChat answers.
const (
	OAAppID          = "wxfakeofficial00"
	OASecret         = "fake-oa-secret-0123456789abcdef"
	OAToken          = "huzhufaketoken"
	OAEncodingAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	MPAppID          = "wxfakeminiprog00"
	MPSecret         = "fake-mp-secret-0123456789abcdef"
)

// PhoneCodeTTL is how long a phone-number code stays valid, as WeChat documents.
const PhoneCodeTTL = 5 * time.Minute

// maxBody bounds what the fake reads of one request.
const maxBody = 1 << 20

// Request is one request the fake received.
type Request struct {
	At     time.Time
	Method string
	Path   string
	Query  url.Values
	Body   []byte
	// Answered says the fake answered with JSON, and Errcode is its errcode (0: success); a
	// dropped connection or an HTTP error status is not answered.
	Answered bool
	Errcode  int64
}

// Decode unmarshals the JSON body into v.
func (r Request) Decode(v any) error { return json.Unmarshal(r.Body, v) }

// AccessToken returns the access_token query parameter.
func (r Request) AccessToken() string { return r.Query.Get("access_token") }

// Message is the decoded body of a template or subscribe message, for assertions.
type Message struct {
	ToUser      string `json:"touser"`
	TemplateID  string `json:"template_id"`
	URL         string `json:"url"`
	Page        string `json:"page"`
	ClientMsgID string `json:"client_msg_id"`
	State       string `json:"miniprogram_state"`
	MiniProgram *struct {
		AppID    string `json:"appid"`
		PagePath string `json:"pagepath"`
	} `json:"miniprogram"`
	Data map[string]struct {
		Value string `json:"value"`
	} `json:"data"`
}

// Value returns the value of data key k.
func (m Message) Value(k string) string { return m.Data[k].Value }

// Options configures a fake.
type Options struct {
	// Demo accepts any wx.login code as a new user (a fresh openid each time) and any
	// phone-number code "phone-<11 digits>" as that number, as often as it is sent.
	Demo bool
	// MaxRequests keeps only the latest requests (0: all of them, for tests); a long-running
	// demo sets it so that memory stays bounded.
	MaxRequests int
}

type session struct{ openID, unionID string }

type phoneGrant struct {
	countryCode, pure string
	issued            time.Time
}

// Fake is the fake WeChat server. Its methods are safe for concurrent use.
type Fake struct {
	// URL is the base URL to put in wechat.Options.APIBase, set by Start.
	URL string

	opts Options
	srv  *http.Server
	stop chan struct{}
	done chan struct{}

	mu        sync.Mutex
	reqs      []*Request
	fails     map[string][]int64
	httpFails map[string][]int
	drops     map[string]int
	dropAfter map[string]int
	delays    map[string]time.Duration
	sessions  map[string]session
	usedCodes map[string]bool
	phones    map[string]phoneGrant
	watermark string            // appid put in phone_info.watermark; empty: the caller's own
	secrets   map[string]string // appid → secret
	stable    map[string]string // appid → current stable token
	valid     map[string]bool   // tokens WeChat accepts
	seq       int
	demoUsers int
	logins    map[string]string // demo login code → the openid it became, latest only
	msgID     int64

	followers []follower       // in follow order, as user/get lists them
	pageSize  int              // user/get page size; WeChat's is 10,000
	now       func() time.Time // the de-duplication window's clock
	sentBy    map[string]sent  // touser|client_msg_id → first delivery
	delivered map[string]int   // touser|client_msg_id (or touser|template|n) → deliveries
	deduped   int
}

type follower struct {
	openID, unionID string
	subscribed      bool
}

type sent struct {
	msgID int64
	at    time.Time
}

// DedupWindow is how long WeChat drops a template message that repeats the openid and
// client_msg_id of one already sent: "对于同一个openid + client_msg_id, 只发送一条消息, 10分钟有效,
// 超过10分钟不保证效果". The fake drops repeats inside the window (answering ok with the first
// msgid; WeChat does not document its answer) and delivers them again after it.
const DedupWindow = 10 * time.Minute

// New returns a fake that is not listening yet: call Start, or use it as an http.Handler.
func New(opts Options) *Fake {
	return &Fake{
		opts:      opts,
		stop:      make(chan struct{}),
		fails:     map[string][]int64{},
		httpFails: map[string][]int{},
		drops:     map[string]int{},
		dropAfter: map[string]int{},
		delays:    map[string]time.Duration{},
		sessions:  map[string]session{},
		usedCodes: map[string]bool{},
		phones:    map[string]phoneGrant{},
		logins:    map[string]string{},
		secrets:   map[string]string{OAAppID: OASecret, MPAppID: MPSecret},
		stable:    map[string]string{},
		valid:     map[string]bool{},
		msgID:     1000,
		pageSize:  10000,
		now:       time.Now,
		sentBy:    map[string]sent{},
		delivered: map[string]int{},
	}
}

// Start listens on addr (use "127.0.0.1:0" for a free loopback port) and serves until Close;
// URL is set when it returns. Only loopback addresses are accepted: the fake hands out tokens
// to anyone who asks.
func (f *Fake) Start(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("fake wechat: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("fake wechat: listen address %q is not loopback (use 127.0.0.1:0)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fake wechat: listen on %s: %w", addr, err)
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	f.done = make(chan struct{})
	f.URL = "http://" + ln.Addr().String()
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(ln)
	}()
	return nil
}

// Close stops the server and every delayed answer; it is safe to call more than once.
func (f *Fake) Close() error {
	f.mu.Lock()
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.mu.Unlock()
	if f.srv == nil {
		return nil
	}
	err := f.srv.Close()
	<-f.done
	return err
}

// Options returns wechat.Options for both fake accounts, pointed at the fake, with a 3-second
// HTTP timeout and the in-process token cache.
func (f *Fake) Options() wechat.Options {
	return wechat.Options{
		OA:          wechat.OfficialAccount{AppID: OAAppID, AppSecret: OASecret, Token: OAToken, EncodingAESKey: OAEncodingAESKey},
		MP:          wechat.MiniProgram{AppID: MPAppID, AppSecret: MPSecret},
		APIBase:     f.URL,
		HTTPTimeout: 3 * time.Second,
	}
}

// FailNext makes the next n calls to path answer errcode (with HTTP 200, as WeChat does).
func (f *Fake) FailNext(path string, errcode int64, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.fails[path] = append(f.fails[path], errcode)
	}
}

// FailHTTP makes the next n calls to path answer the HTTP status with an HTML body, as a proxy
// in front of WeChat would.
func (f *Fake) FailHTTP(path string, status, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.httpFails[path] = append(f.httpFails[path], status)
	}
}

// Drop makes the next n calls to path close the connection without an answer. Go's transport
// may retry a GET on a reused connection by itself, so prefer POST paths or n ≥ 2 for GETs.
func (f *Fake) Drop(path string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drops[path] += n
}

// DropAfterSend makes the next n calls to path do their work (a template message is
// delivered) and then close the connection without an answer: the caller cannot tell whether
// WeChat sent it, as when a connection breaks after the request went out.
func (f *Fake) DropAfterSend(path string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropAfter[path] += n
}

// Delay makes every later call to path wait d before answering (0 removes the delay). A client
// that gives up first sees a timeout.
func (f *Fake) Delay(path string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delays[path] = d
}

// Code2SessionFor makes the login code valid, once, for the user.
func (f *Fake) Code2SessionFor(code, openID, unionID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions[code] = session{openID: openID, unionID: unionID}
}

// PhoneNumberFor makes the phone-number button code valid, once and for PhoneCodeTTL, for a
// mainland number (11 digits, country code 86), as getPhoneNumber's button gives it.
func (f *Fake) PhoneNumberFor(code, phone string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.phones[code] = phoneGrant{countryCode: "86", pure: phone, issued: time.Now()}
}

// PhoneWatermark makes every later phone-number answer carry appID in its watermark, as a code
// issued to another mini-program would; "" restores the caller's own.
func (f *Fake) PhoneWatermark(appID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watermark = appID
}

// RevokeTokens makes every token issued so far invalid (40001), as when the AppSecret is reset
// or another system force-refreshes the token.
func (f *Fake) RevokeTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.valid)
	clear(f.stable)
}

// Follow makes openID a follower of the official account. unionID is what user/info returns,
// as WeChat does when the account is bound to an Open Platform account; "" as when it is not.
func (f *Fake) Follow(openID, unionID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.followers {
		if f.followers[i].openID == openID {
			f.followers[i] = follower{openID, unionID, true}
			return
		}
	}
	f.followers = append(f.followers, follower{openID, unionID, true})
}

// Unfollow makes openID stop following: user/get leaves it out and user/info answers
// subscribe 0 with nothing else, as WeChat does.
func (f *Fake) Unfollow(openID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.followers {
		if f.followers[i].openID == openID {
			f.followers[i].subscribed = false
		}
	}
}

// SetPageSize sets how many openids one user/get page holds (WeChat: 10,000), so that tests can
// page through a few followers.
func (f *Fake) SetPageSize(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pageSize = n
}

// SetClock sets the clock of the client_msg_id de-duplication window.
func (f *Fake) SetClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// Delivered returns how many times template messages reached each person, keyed by
// touser|client_msg_id (touser|template_id|n for messages without one); duplicates dropped
// inside DedupWindow are not counted.
func (f *Fake) Delivered() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.delivered))
	for k, v := range f.delivered {
		out[k] = v
	}
	return out
}

// Deduped returns how many template messages the fake dropped as repeats inside DedupWindow.
func (f *Fake) Deduped() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deduped
}

// Requests returns the requests to path (every path when path is empty), oldest first.
func (f *Fake) Requests(path string) []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Request
	for _, r := range f.reqs {
		if path == "" || r.Path == path {
			out = append(out, *r)
		}
	}
	return out
}

// Count returns how many requests path received.
func (f *Fake) Count(path string) int { return len(f.Requests(path)) }

// Messages decodes the template or subscribe messages sent to path, oldest first. Requests that
// WeChat answered with an error are included: filter on your side if needed.
func (f *Fake) Messages(path string) ([]Message, error) {
	var out []Message
	for _, r := range f.Requests(path) {
		var m Message
		if err := r.Decode(&m); err != nil {
			return nil, fmt.Errorf("decode %s body %q: %w", path, r.Body, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// maxLogins bounds the demo's memory of login codes.
const maxLogins = 10000

// OpenIDOf returns the openid the demo login code last became ("" when unknown), so that the
// worker preview can show the messages sent to the worker it logged in as.
func (f *Fake) OpenIDOf(code string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins[code]
}

// Sent is one template or subscribe message the fake received, as the console shows it.
type Sent struct {
	At         time.Time
	Channel    string // 公众号模板消息 or 小程序订阅消息
	ToUser     string
	TemplateID string
	Link       string // the page or URL the message opens
	Fields     []Field
	// Result is "已送达" or WeChat's refusal ("43101 user refuse to accept the msg").
	Result string
}

// Field is one data value of a message.
type Field struct{ Key, Value string }

// Sent returns the latest template and subscribe messages, newest first, at most limit.
func (f *Fake) Sent(limit int) []Sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Sent
	for i := len(f.reqs) - 1; i >= 0 && len(out) < limit; i-- {
		r := f.reqs[i]
		channel := map[string]string{PathTemplateSend: "公众号模板消息", PathSubscribeSend: "小程序订阅消息"}[r.Path]
		if channel == "" {
			continue
		}
		s := Sent{At: r.At, Channel: channel, Result: "已送达"}
		switch {
		case !r.Answered:
			s.Result = "未送达（连接断开或 HTTP 错误）"
		case r.Errcode != 0:
			s.Result = fmt.Sprintf("被拒绝：%d %s", r.Errcode, errMsg(r.Errcode))
		}
		var m Message
		if err := r.Decode(&m); err == nil {
			s.ToUser, s.TemplateID, s.Link = m.ToUser, m.TemplateID, m.Page
			if m.MiniProgram != nil {
				s.Link = m.MiniProgram.PagePath
			} else if m.URL != "" {
				s.Link = m.URL
			}
			for k, v := range m.Data {
				s.Fields = append(s.Fields, Field{Key: k, Value: v.Value})
			}
			sort.Slice(s.Fields, func(i, j int) bool { return s.Fields[i].Key < s.Fields[j].Key })
		}
		out = append(out, s)
	}
	return out
}

// Paths returns the distinct paths called, sorted, for debugging.
func (f *Fake) Paths() []string {
	seen := map[string]bool{}
	for _, r := range f.Requests("") {
		seen[r.Path] = true
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

type fault struct {
	delay   time.Duration
	drop    bool
	status  int
	errcode int64
}

// ServeHTTP answers one call as WeChat would.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	req := &Request{At: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body}

	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	if n := f.opts.MaxRequests; n > 0 && len(f.reqs) > n {
		f.reqs = append([]*Request(nil), f.reqs[len(f.reqs)-n/2:]...)
	}
	var ft fault
	ft.delay = f.delays[req.Path]
	if f.drops[req.Path] > 0 {
		f.drops[req.Path]--
		ft.drop = true
	} else if q := f.httpFails[req.Path]; len(q) > 0 {
		ft.status, f.httpFails[req.Path] = q[0], q[1:]
	} else if q := f.fails[req.Path]; len(q) > 0 {
		ft.errcode, f.fails[req.Path] = q[0], q[1:]
	}
	f.mu.Unlock()

	if ft.delay > 0 {
		select {
		case <-time.After(ft.delay):
		case <-r.Context().Done():
			return
		case <-f.stop:
			return
		}
	}
	switch {
	case ft.drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case ft.status != 0:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(ft.status)
		fmt.Fprintf(w, "<html><body>%d</body></html>", ft.status)
		return
	case ft.errcode != 0:
		f.answered(req, ft.errcode)
		writeJSON(w, errBody(ft.errcode, errMsg(ft.errcode)))
		return
	}

	f.mu.Lock()
	resp := f.answer(*req)
	var code int64
	switch c := resp["errcode"].(type) {
	case int64:
		code = c
	case int:
		code = int64(c)
	}
	req.Answered, req.Errcode = true, code
	// The work is done (a template message delivered); the caller may still not hear of it.
	dropAfter := f.dropAfter[req.Path] > 0
	if dropAfter {
		f.dropAfter[req.Path]--
		req.Answered = false
	}
	f.mu.Unlock()
	if dropAfter {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	writeJSON(w, resp)
}

func (f *Fake) answered(r *Request, code int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Answered, r.Errcode = true, code
}

var demoPhoneCode = regexp.MustCompile(`^phone-(1\d{10})$`)

// answer computes the normal answer; f.mu is held.
func (f *Fake) answer(r Request) map[string]any {
	switch r.Path {
	case PathStableToken:
		var b struct {
			AppID        string `json:"appid"`
			Secret       string `json:"secret"`
			ForceRefresh bool   `json:"force_refresh"`
		}
		if err := r.Decode(&b); err != nil {
			return errBody(47001, "data format error")
		}
		if e := f.checkApp(b.AppID, b.Secret); e != nil {
			return e
		}
		tok, ok := f.stable[b.AppID]
		if !ok || b.ForceRefresh || !f.valid[tok] {
			delete(f.valid, tok)
			tok = f.issue(b.AppID)
			f.stable[b.AppID] = tok
		}
		return map[string]any{"access_token": tok, "expires_in": 7200}
	case PathToken:
		q := r.Query
		if e := f.checkApp(q.Get("appid"), q.Get("secret")); e != nil {
			return e
		}
		return map[string]any{"access_token": f.issue(q.Get("appid")), "expires_in": 7200}
	case PathCode2Session:
		q := r.Query
		if e := f.checkApp(q.Get("appid"), q.Get("secret")); e != nil {
			return e
		}
		code := q.Get("js_code")
		if f.usedCodes[code] {
			return errBody(40163, "code been used")
		}
		s, ok := f.sessions[code]
		switch {
		case ok:
			f.usedCodes[code] = true
		case f.opts.Demo && code != "":
			f.demoUsers++
			s = session{openID: fmt.Sprintf("demo-openid-%d-%d", time.Now().UnixNano()%1e9, f.demoUsers),
				unionID: fmt.Sprintf("demo-unionid-%d-%d", time.Now().UnixNano()%1e9, f.demoUsers)}
			if len(f.logins) >= maxLogins {
				clear(f.logins)
			}
			f.logins[code] = s.openID
		default:
			return errBody(40029, "invalid code")
		}
		return map[string]any{"openid": s.openID, "unionid": s.unionID, "session_key": "sk-" + code}
	case PathPhoneNumber:
		return f.phoneNumber(r)
	case PathTemplateSend, PathSubscribeSend, PathMenuCreate:
		if !f.valid[r.AccessToken()] {
			return errBody(40001, "invalid credential, access_token is invalid or not latest")
		}
		var m Message
		if err := r.Decode(&m); err != nil {
			return errBody(47001, "data format error")
		}
		if r.Path == PathMenuCreate {
			return errBody(0, "ok")
		}
		if m.ToUser == "" {
			return errBody(40003, "invalid openid")
		}
		if m.TemplateID == "" {
			return errBody(40037, "invalid template_id")
		}
		if r.Path == PathTemplateSend {
			return f.deliverTemplate(m)
		}
		f.msgID++
		return map[string]any{"errcode": int64(0), "errmsg": "ok", "msgid": f.msgID}
	case PathUserInfo, PathUserInfoBatch, PathUserGet:
		if !f.valid[r.AccessToken()] {
			return errBody(40001, "invalid credential, access_token is invalid or not latest")
		}
		return f.users(r)
	}
	return errBody(404, "fake WeChat does not serve "+r.Path)
}

// phoneNumber answers wxa/business/getuserphonenumber: POST {"code"} with the mini-program's
// token; a code is good once and for PhoneCodeTTL (40029 otherwise); the answer is
// {errcode:0, errmsg:"ok", phone_info:{phoneNumber, purePhoneNumber, countryCode,
// watermark:{timestamp, appid}}}. In Demo mode "phone-<11 digits>" is that number, always.
// f.mu is held.
func (f *Fake) phoneNumber(r Request) map[string]any {
	if r.Method != http.MethodPost {
		return errBody(43002, "require POST method")
	}
	if !f.valid[r.AccessToken()] {
		return errBody(40001, "invalid credential, access_token is invalid or not latest")
	}
	var b struct {
		Code string `json:"code"`
	}
	if err := r.Decode(&b); err != nil || b.Code == "" {
		return errBody(47001, "data format error")
	}
	g, ok := f.phones[b.Code]
	if m := demoPhoneCode.FindStringSubmatch(b.Code); !ok && f.opts.Demo && m != nil {
		g = phoneGrant{countryCode: "86", pure: m[1], issued: time.Now()}
	} else {
		if !ok || f.usedCodes["phone:"+b.Code] || time.Since(g.issued) > PhoneCodeTTL {
			return errBody(40029, "invalid code")
		}
		f.usedCodes["phone:"+b.Code] = true
	}
	appID := f.watermark
	if appID == "" {
		appID = f.appOfToken(r.AccessToken())
	}
	return map[string]any{"errcode": int64(0), "errmsg": "ok", "phone_info": map[string]any{
		"phoneNumber": g.pure, "purePhoneNumber": g.pure, "countryCode": g.countryCode,
		"watermark": map[string]any{"timestamp": time.Now().Unix(), "appid": appID},
	}}
}

// appOfToken returns the appid a token was issued to (tokens are TOKEN-<appid>-<n>).
func (f *Fake) appOfToken(tok string) string {
	for appID := range f.secrets {
		if strings.HasPrefix(tok, "TOKEN-"+appID+"-") {
			return appID
		}
	}
	return ""
}

// deliverTemplate records a template message, dropping a repeat of openid and client_msg_id
// inside DedupWindow; f.mu is held.
func (f *Fake) deliverTemplate(m Message) map[string]any {
	now := f.now()
	key := m.ToUser + "|" + m.ClientMsgID
	if m.ClientMsgID != "" {
		if s, ok := f.sentBy[key]; ok && now.Sub(s.at) < DedupWindow {
			f.deduped++
			return map[string]any{"errcode": 0, "errmsg": "ok", "msgid": s.msgID}
		}
	} else {
		key = fmt.Sprintf("%s|%s|%d", m.ToUser, m.TemplateID, f.msgID+1)
	}
	f.msgID++
	f.delivered[key]++
	if m.ClientMsgID != "" {
		f.sentBy[key] = sent{msgID: f.msgID, at: now}
	}
	return map[string]any{"errcode": 0, "errmsg": "ok", "msgid": f.msgID}
}

// users answers user/info, user/info/batchget and user/get; f.mu is held. Like WeChat, an
// unknown openid is 40003, a user who stopped following has subscribe 0 and nothing else, and
// unionid is present only when the follower has one (the account bound to an Open Platform account).
func (f *Fake) users(r Request) map[string]any {
	info := func(openID string) (map[string]any, bool) {
		for _, u := range f.followers {
			if u.openID != openID {
				continue
			}
			if !u.subscribed {
				return map[string]any{"subscribe": 0, "openid": openID}, true
			}
			out := map[string]any{"subscribe": 1, "openid": openID, "language": "zh_CN", "subscribe_time": 1746842400}
			if u.unionID != "" {
				out["unionid"] = u.unionID
			}
			return out, true
		}
		return nil, false
	}
	switch r.Path {
	case PathUserInfo:
		u, ok := info(r.Query.Get("openid"))
		if !ok {
			return errBody(40003, "invalid openid")
		}
		return u
	case PathUserInfoBatch:
		var b struct {
			UserList []struct {
				OpenID string `json:"openid"`
			} `json:"user_list"`
		}
		if err := r.Decode(&b); err != nil {
			return errBody(47001, "data format error")
		}
		if len(b.UserList) > 100 {
			return errBody(45032, "user list size exceeds limit")
		}
		list := []map[string]any{}
		for _, it := range b.UserList {
			u, ok := info(it.OpenID)
			if !ok {
				return errBody(40003, "invalid openid")
			}
			list = append(list, u)
		}
		return map[string]any{"user_info_list": list}
	}
	var subs []string
	for _, u := range f.followers {
		if u.subscribed {
			subs = append(subs, u.openID)
		}
	}
	start := 0
	if next := r.Query.Get("next_openid"); next != "" {
		start = len(subs)
		for i, id := range subs {
			if id == next {
				start = i + 1
				break
			}
		}
	}
	end := min(start+f.pageSize, len(subs))
	page := append([]string{}, subs[start:end]...)
	next := ""
	if len(page) > 0 {
		next = page[len(page)-1]
	}
	return map[string]any{"total": len(subs), "count": len(page), "data": map[string]any{"openid": page}, "next_openid": next}
}

func (f *Fake) checkApp(appID, secret string) map[string]any {
	want, ok := f.secrets[appID]
	switch {
	case !ok:
		return errBody(40013, "invalid appid")
	case secret != want:
		return errBody(40125, "invalid appsecret")
	}
	return nil
}

func (f *Fake) issue(appID string) string {
	f.seq++
	tok := fmt.Sprintf("TOKEN-%s-%d", appID, f.seq)
	f.valid[tok] = true
	return tok
}

func errBody(code int64, msg string) map[string]any {
	return map[string]any{"errcode": code, "errmsg": msg}
}

func errMsg(code int64) string {
	switch code {
	case -1:
		return "system error"
	case 40001:
		return "invalid credential, access_token is invalid or not latest"
	case 42001:
		return "access_token expired"
	case 43004:
		return "require subscribe"
	case 43101:
		return "user refuse to accept the msg"
	case 45009:
		return "reach max api daily quota limit"
	case 47003:
		return "argument invalid! data.thing1.value invalid"
	case 40003:
		return "invalid openid"
	}
	return fmt.Sprintf("fake error %d", code)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}
