package wechat

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"unicode/utf8"

	"github.com/silenceper/wechat/v2/util"
)

// API names used in errors and logs.
const (
	apiToken        = "access_token"
	apiCode2Session = "code2session"
	apiTemplate     = "template_send"
	apiSubscribe    = "subscribe_send"
	apiMenu         = "menu_create"
)

// Endpoint paths, under DefaultAPIBase (the transport rewrites the host when APIBase differs).
const (
	pathTemplateSend  = "/cgi-bin/message/template/send"
	pathSubscribeSend = "/cgi-bin/message/subscribe/send"
	pathMenuCreate    = "/cgi-bin/menu/create"
)

// account is one WeChat app whose API calls need an access token.
type account struct {
	name     string // "official account" or "mini-program", for errors
	appID    string
	tokenKey string
	token    func(ctx context.Context) (string, error)
}

func (c *Client) oaAccount() (*account, error) {
	if c.oa == nil {
		return nil, fmt.Errorf("official account: %w", ErrNotConfigured)
	}
	return &account{
		name: "official account", appID: c.opts.OA.AppID,
		tokenKey: tokenKey(oaPrefix, c.opts.OA.AppID),
		token:    c.oa.GetAccessTokenContext,
	}, nil
}

func (c *Client) mpAccount() (*account, error) {
	if c.mp == nil {
		return nil, fmt.Errorf("mini-program: %w", ErrNotConfigured)
	}
	return &account{
		name: "mini-program", appID: c.opts.MP.AppID,
		tokenKey: tokenKey(mpPrefix, c.opts.MP.AppID),
		token:    c.mp.GetContext().GetAccessTokenContext,
	}, nil
}

// withToken runs call with the account's access token. When WeChat rejects the token
// (TokenInvalid) it drops the cached token, fetches a new one and calls once more; a second
// rejection is returned as is.
func (c *Client) withToken(ctx context.Context, a *account, api string, call func(token string) error) error {
	for attempt := 0; ; attempt++ {
		tok, err := a.token(ctx)
		if err != nil {
			return toError(apiToken, err)
		}
		err = call(tok)
		if err == nil {
			return nil
		}
		e := toError(api, err)
		if e.Kind() != TokenInvalid || attempt > 0 {
			return e
		}
		c.dropToken(a, tok)
		c.log.Warn("wechat rejected the access token; fetching a new one",
			"api", api, "app_id", a.appID, "errcode", e.Code)
	}
}

// dropToken deletes the cached token, but only if it is still the one that was rejected: when
// many requests fail at once, the first drops it and the others reuse its replacement.
func (c *Client) dropToken(a *account, rejected string) {
	c.dropMu.Lock()
	defer c.dropMu.Unlock()
	if v, ok := c.cache.Get(a.tokenKey).(string); ok && v != rejected {
		return
	}
	if err := c.cache.Delete(a.tokenKey); err != nil {
		c.log.Warn("wechat token cache delete failed", "app_id", a.appID, "err", err)
	}
}

// postJSON posts body to path with the token and decodes the answer into out, which must embed
// util.CommonError. Errors come back as *util.CommonError or transport errors for toError.
func postJSON(ctx context.Context, path, token string, body, out any, api string) error {
	b, err := util.PostJSONContext(ctx, DefaultAPIBase+path+"?access_token="+url.QueryEscape(token), body)
	if err != nil {
		return err
	}
	return util.DecodeWithError(b, out, api)
}

// Session is the result of a mini-program login. SessionKey must stay on the server.
type Session struct {
	OpenID     string
	UnionID    string // empty unless the mini-program is bound to an open-platform account
	SessionKey string
}

// LogValue implements slog.LogValuer, leaving out the session key.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("openid", s.OpenID), slog.Bool("has_unionid", s.UnionID != ""))
}

// Code2Session exchanges a wx.login code for the user's session. An invalid or used code is a
// BadRequest *Error (40029, 40163), a blocked user UserPermanent (40226), a frequency limit
// RateLimited (45011).
func (c *Client) Code2Session(ctx context.Context, code string) (Session, error) {
	if c.mp == nil {
		return Session{}, fmt.Errorf("code2session: mini-program: %w", ErrNotConfigured)
	}
	if code == "" {
		return Session{}, &Error{API: apiCode2Session, Msg: "empty login code", kind: BadRequest}
	}
	res, err := c.mp.GetAuth().Code2SessionContext(ctx, code)
	if res.ErrCode != 0 {
		return Session{}, &Error{Code: res.ErrCode, Msg: Redact(res.ErrMsg), API: apiCode2Session}
	}
	if err != nil {
		return Session{}, toError(apiCode2Session, err)
	}
	if res.OpenID == "" {
		return Session{}, &Error{API: apiCode2Session, Msg: "answer has no openid"}
	}
	return Session{OpenID: res.OpenID, UnionID: res.UnionID, SessionKey: res.SessionKey}, nil
}

// TemplateMessage is an official-account template message (模板消息). Data maps the template's
// keys (e.g. "amount2") to values; use the field helpers (Thing, Amount, Time…) to keep each
// value inside WeChat's limits. MiniProgramPage, when set, opens that page of our mini-program
// instead of URL. ClientMsgID is WeChat's de-duplication id: the same id is delivered once, so
// use a stable id per notice (e.g. the outbox row id) to make retries safe.
type TemplateMessage struct {
	ToUser          string
	TemplateID      string
	URL             string
	MiniProgramPage string
	Data            map[string]string
	ClientMsgID     string
}

type valueItem struct {
	Value string `json:"value"`
}

func values(m map[string]string) map[string]valueItem {
	out := make(map[string]valueItem, len(m))
	for k, v := range m {
		out[k] = valueItem{Value: v}
	}
	return out
}

type templateBody struct {
	ToUser      string               `json:"touser"`
	TemplateID  string               `json:"template_id"`
	URL         string               `json:"url,omitempty"`
	MiniProgram *miniProgramLink     `json:"miniprogram,omitempty"`
	Data        map[string]valueItem `json:"data"`
	ClientMsgID string               `json:"client_msg_id,omitempty"`
}

type miniProgramLink struct {
	AppID    string `json:"appid"`
	PagePath string `json:"pagepath"`
}

// SendTemplate sends an official-account template message and returns WeChat's msgid. Errors
// are *Error: 43004 (not following) is UserPermanent, 45009 RateLimited, 40037/47003 BadRequest;
// an invalid token is retried once with a fresh one.
func (c *Client) SendTemplate(ctx context.Context, m TemplateMessage) (int64, error) {
	a, err := c.oaAccount()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", apiTemplate, err)
	}
	if m.ToUser == "" || m.TemplateID == "" {
		return 0, &Error{API: apiTemplate, Msg: "touser and template_id are required", kind: BadRequest}
	}
	body := templateBody{ToUser: m.ToUser, TemplateID: m.TemplateID, URL: m.URL, Data: values(m.Data), ClientMsgID: m.ClientMsgID}
	if m.MiniProgramPage != "" {
		if c.mp == nil {
			return 0, &Error{API: apiTemplate, Msg: "MiniProgramPage is set but no mini-program is configured", kind: Misconfigured}
		}
		body.MiniProgram = &miniProgramLink{AppID: c.opts.MP.AppID, PagePath: m.MiniProgramPage}
	}
	var msgID int64
	err = c.withToken(ctx, a, apiTemplate, func(tok string) error {
		var res struct {
			util.CommonError
			MsgID int64 `json:"msgid"`
		}
		if err := postJSON(ctx, pathTemplateSend, tok, body, &res, apiTemplate); err != nil {
			return err
		}
		msgID = res.MsgID
		return nil
	})
	return msgID, err
}

// SubscribeMessage is a mini-program subscribe message (订阅消息). The user must have accepted
// the template in the mini-program (one acceptance, one message). Page is the mini-program page
// opened from the message; State is "formal", "trial" or "developer" (empty: Options'
// MiniProgramState).
type SubscribeMessage struct {
	ToUser     string
	TemplateID string
	Page       string
	Data       map[string]string
	State      string
}

type subscribeBody struct {
	ToUser           string               `json:"touser"`
	TemplateID       string               `json:"template_id"`
	Page             string               `json:"page,omitempty"`
	Data             map[string]valueItem `json:"data"`
	MiniProgramState string               `json:"miniprogram_state"`
	Lang             string               `json:"lang"`
}

// SendSubscribe sends a mini-program subscribe message. 43101 (no acceptance left) is
// UserPermanent, 47003 (a value breaks its field's rule) BadRequest; an invalid token is retried
// once with a fresh one.
func (c *Client) SendSubscribe(ctx context.Context, m SubscribeMessage) error {
	a, err := c.mpAccount()
	if err != nil {
		return fmt.Errorf("%s: %w", apiSubscribe, err)
	}
	if m.ToUser == "" || m.TemplateID == "" {
		return &Error{API: apiSubscribe, Msg: "touser and template_id are required", kind: BadRequest}
	}
	state := m.State
	if state == "" {
		state = c.opts.MiniProgramState
	}
	body := subscribeBody{ToUser: m.ToUser, TemplateID: m.TemplateID, Page: m.Page, Data: values(m.Data),
		MiniProgramState: state, Lang: "zh_CN"}
	return c.withToken(ctx, a, apiSubscribe, func(tok string) error {
		var res struct{ util.CommonError }
		return postJSON(ctx, pathSubscribeSend, tok, body, &res, apiSubscribe)
	})
}

// Button is one official-account menu button. Type is "click" (Key required), "view" (URL
// required) or "miniprogram" (AppID, PagePath and a fallback URL required); a button with Sub
// opens a sub-menu and has no Type.
type Button struct {
	Type     string   `json:"type,omitempty"`
	Name     string   `json:"name"`
	Key      string   `json:"key,omitempty"`
	URL      string   `json:"url,omitempty"`
	AppID    string   `json:"appid,omitempty"`
	PagePath string   `json:"pagepath,omitempty"`
	Sub      []Button `json:"sub_button,omitempty"`
}

// CreateMenu replaces the official account's custom menu. It checks WeChat's rules first (1–3
// buttons, at most 5 in a sub-menu, names of at most 16 bytes at the top and 60 below, a Chinese character counting two, the fields
// each type needs) and returns a BadRequest *Error naming the button that breaks one.
func (c *Client) CreateMenu(ctx context.Context, buttons []Button) error {
	a, err := c.oaAccount()
	if err != nil {
		return fmt.Errorf("%s: %w", apiMenu, err)
	}
	if err := checkMenu(buttons); err != nil {
		return &Error{API: apiMenu, Msg: err.Error(), kind: BadRequest}
	}
	body := struct {
		Button []Button `json:"button"`
	}{buttons}
	return c.withToken(ctx, a, apiMenu, func(tok string) error {
		var res struct{ util.CommonError }
		return postJSON(ctx, pathMenuCreate, tok, body, &res, apiMenu)
	})
}

func checkMenu(buttons []Button) error {
	if len(buttons) == 0 || len(buttons) > 3 {
		return fmt.Errorf("menu has %d buttons, want 1 to 3", len(buttons))
	}
	for _, b := range buttons {
		if err := checkButton(b, 16); err != nil {
			return err
		}
		if len(b.Sub) > 5 {
			return fmt.Errorf("button %q has %d sub-buttons, want at most 5", b.Name, len(b.Sub))
		}
		for _, s := range b.Sub {
			if len(s.Sub) > 0 {
				return fmt.Errorf("button %q: sub-buttons cannot have sub-buttons", s.Name)
			}
			if err := checkButton(s, 60); err != nil {
				return err
			}
		}
	}
	return nil
}

// nameWidth counts a menu name as WeChat's byte limits do: two for a Chinese (non-ASCII)
// character, one for ASCII.
func nameWidth(s string) int {
	n := 0
	for _, r := range s {
		if r < 0x80 {
			n++
		} else {
			n += 2
		}
	}
	return n
}

func checkButton(b Button, maxName int) error {
	switch {
	case b.Name == "" || !utf8.ValidString(b.Name):
		return fmt.Errorf("a button has no name")
	case nameWidth(b.Name) > maxName:
		return fmt.Errorf("button %q: name is %d bytes wide, want at most %d", b.Name, nameWidth(b.Name), maxName)
	case len(b.Sub) > 0:
		if b.Type != "" {
			return fmt.Errorf("button %q opens a sub-menu and cannot have type %q", b.Name, b.Type)
		}
		return nil
	}
	switch b.Type {
	case "click":
		if b.Key == "" || len(b.Key) > 128 {
			return fmt.Errorf("button %q: click needs a key of 1 to 128 bytes", b.Name)
		}
	case "view":
		if b.URL == "" {
			return fmt.Errorf("button %q: view needs a url", b.Name)
		}
	case "miniprogram":
		if b.AppID == "" || b.PagePath == "" || b.URL == "" {
			return fmt.Errorf("button %q: miniprogram needs appid, pagepath and a fallback url", b.Name)
		}
	default:
		return fmt.Errorf("button %q: type %q, want click, view or miniprogram", b.Name, b.Type)
	}
	return nil
}
