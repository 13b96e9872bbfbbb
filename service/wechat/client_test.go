package wechat_test

// These tests point the process-global util.DefaultHTTPClient at a fake per test: none of them
// may call t.Parallel.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"

	"huzhu/service/wechat"
	"huzhu/service/wechat/wechattest"
)

const oaKey = "gowechat_officialaccount__stable_access_token_" + wechattest.OAAppID

func template(to string) wechat.TemplateMessage {
	return wechat.TemplateMessage{ToUser: to, TemplateID: "TPL-ARRIVED", Data: map[string]string{"amount2": "200653.00元"}}
}

func TestTokenCachedAcrossSends(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	ctx := context.Background()
	for i := range 5 {
		if _, err := wx.SendTemplate(ctx, template(fmt.Sprintf("openid-%d", i))); err != nil {
			t.Fatalf("SendTemplate #%d: %v", i, err)
		}
		if err := wx.SendSubscribe(ctx, wechat.SubscribeMessage{ToUser: "o", TemplateID: "SUB"}); err != nil {
			t.Fatalf("SendSubscribe #%d: %v", i, err)
		}
	}
	tokReqs := fake.Requests(wechattest.PathStableToken)
	if len(tokReqs) != 2 {
		t.Fatalf("stable_token requests = %d, want 2 (one per account)", len(tokReqs))
	}
	if n := fake.Count(wechattest.PathToken); n != 0 {
		t.Errorf("classic /cgi-bin/token requests = %d, want 0 (stable token only)", n)
	}
	used := map[string]bool{}
	for _, r := range fake.Requests(wechattest.PathTemplateSend) {
		used[r.AccessToken()] = true
	}
	if len(used) != 1 {
		t.Errorf("template sends used tokens %v, want one", used)
	}
	mpTok := fake.Requests(wechattest.PathSubscribeSend)[0].AccessToken()
	if used[mpTok] {
		t.Errorf("mini-program send used the official-account token %q", mpTok)
	}
}

func TestTokenRetry(t *testing.T) {
	for _, code := range []int64{40001, 42001, 40014} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			fake := wechattest.New(t)
			wx := fake.Client(t)
			ctx := context.Background()
			if _, err := wx.SendTemplate(ctx, template("o1")); err != nil {
				t.Fatal(err)
			}
			fake.FailNext(wechattest.PathTemplateSend, code, 1)
			id, err := wx.SendTemplate(ctx, template("o2"))
			if err != nil {
				t.Fatalf("SendTemplate after one %d = %v, want success on the retry", code, err)
			}
			if id == 0 {
				t.Error("msgid = 0, want WeChat's id")
			}
			if got := fake.Count(wechattest.PathStableToken); got != 2 {
				t.Errorf("stable_token requests = %d, want 2 (token dropped and refetched)", got)
			}
			if got := fake.Count(wechattest.PathTemplateSend); got != 3 {
				t.Errorf("template sends = %d, want 3 (ok, rejected, retried)", got)
			}
		})
	}
}

func TestTokenRetryOnlyOnce(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	fake.FailNext(wechattest.PathTemplateSend, 40001, 3)
	_, err := wx.SendTemplate(context.Background(), template("o"))
	if k := wechat.Classify(err); k != wechat.TokenInvalid {
		t.Fatalf("SendTemplate = %v (kind %v), want TokenInvalid", err, k)
	}
	var we *wechat.Error
	if !errors.As(err, &we) || we.Code != 40001 || we.API != "template_send" {
		t.Errorf("error = %#v, want *wechat.Error{Code: 40001, API: template_send}", err)
	}
	if got := fake.Count(wechattest.PathTemplateSend); got != 2 {
		t.Errorf("template sends = %d, want 2 (one retry only)", got)
	}
	if got := fake.Count(wechattest.PathStableToken); got != 2 {
		t.Errorf("stable_token requests = %d, want 2", got)
	}
}

func TestRevokedTokenIsReplaced(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	ctx := context.Background()
	if _, err := wx.SendTemplate(ctx, template("o")); err != nil {
		t.Fatal(err)
	}
	fake.RevokeTokens()
	if _, err := wx.SendTemplate(ctx, template("o")); err != nil {
		t.Fatalf("SendTemplate after the token was revoked = %v, want success with a new token", err)
	}
	reqs := fake.Requests(wechattest.PathTemplateSend)
	if len(reqs) != 3 || reqs[1].AccessToken() != reqs[0].AccessToken() || reqs[2].AccessToken() == reqs[1].AccessToken() {
		t.Errorf("tokens used = %v, want old, old (rejected), new", tokens(reqs))
	}
}

func tokens(reqs []wechattest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.AccessToken())
	}
	return out
}

func TestSendErrorsClassified(t *testing.T) {
	tests := []struct {
		code int64
		want wechat.Kind
	}{
		{45009, wechat.RateLimited},
		{45047, wechat.RateLimited},
		{-1, wechat.Transient},
		{43004, wechat.UserPermanent},
		{43101, wechat.UserPermanent},
		{40003, wechat.UserPermanent},
		{47003, wechat.BadRequest},
		{40037, wechat.BadRequest},
		{48001, wechat.Misconfigured},
		{12345, wechat.Other},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			fake := wechattest.New(t)
			wx := fake.Client(t)
			fake.FailNext(wechattest.PathTemplateSend, tc.code, 1)
			fake.FailNext(wechattest.PathSubscribeSend, tc.code, 1)
			_, err := wx.SendTemplate(context.Background(), template("o"))
			if got := wechat.Classify(err); got != tc.want {
				t.Errorf("SendTemplate errcode %d: Classify(%v) = %v, want %v", tc.code, err, got, tc.want)
			}
			err = wx.SendSubscribe(context.Background(), wechat.SubscribeMessage{ToUser: "o", TemplateID: "S"})
			if got := wechat.Classify(err); got != tc.want {
				t.Errorf("SendSubscribe errcode %d: Classify(%v) = %v, want %v", tc.code, err, got, tc.want)
			}
			if code, _ := wechat.Code(err); code != tc.code {
				t.Errorf("Code(%v) = %d, want %d", err, code, tc.code)
			}
			if n := fake.Count(wechattest.PathTemplateSend); n != 1 {
				t.Errorf("template sends = %d, want 1 (only token errors are retried here)", n)
			}
		})
	}
}

func TestCode2Session(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	ctx := context.Background()
	fake.Code2SessionFor("CODE-A", "openid-a", "unionid-a")

	s, err := wx.Code2Session(ctx, "CODE-A")
	if err != nil {
		t.Fatalf("Code2Session: %v", err)
	}
	if diff := cmp.Diff(wechat.Session{OpenID: "openid-a", UnionID: "unionid-a", SessionKey: "sk-CODE-A"}, s); diff != "" {
		t.Errorf("session (-want +got):\n%s", diff)
	}
	q := fake.Requests(wechattest.PathCode2Session)[0].Query
	if q.Get("appid") != wechattest.MPAppID || q.Get("grant_type") != "authorization_code" {
		t.Errorf("query = %v, want the mini-program appid and grant_type", q)
	}

	tests := []struct {
		name, code string
		inject     int64
		want       wechat.Kind
		wantCode   int64
	}{
		{"used code", "CODE-A", 0, wechat.BadRequest, 40163},
		{"unknown code", "CODE-NOPE", 0, wechat.BadRequest, 40029},
		{"rate limited", "CODE-B", 45011, wechat.RateLimited, 45011},
		{"busy", "CODE-B", -1, wechat.Transient, -1},
		{"empty", "", 0, wechat.BadRequest, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.inject != 0 {
				fake.FailNext(wechattest.PathCode2Session, tc.inject, 1)
			}
			_, err := wx.Code2Session(ctx, tc.code)
			if got := wechat.Classify(err); got != tc.want {
				t.Errorf("Code2Session(%q) = %v (kind %v), want %v", tc.code, err, got, tc.want)
			}
			if code, _ := wechat.Code(err); code != tc.wantCode {
				t.Errorf("Code = %d, want %d", code, tc.wantCode)
			}
		})
	}
	if got := s.LogValue().String(); strings.Contains(got, "sk-CODE-A") {
		t.Errorf("Session.LogValue() = %s, leaks the session key", got)
	}
}

func TestMisconfigured(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t, func(o *wechat.Options) {
		o.OA.AppSecret = "wrong-oa-secret-XYZ"
		o.MP.AppSecret = "wrong-mp-secret-XYZ"
	})
	_, err := wx.SendTemplate(context.Background(), template("o"))
	var we *wechat.Error
	if !errors.As(err, &we) || we.Code != 40125 || we.Kind() != wechat.Misconfigured || we.API != "access_token" {
		t.Errorf("SendTemplate with a wrong secret = %#v, want access_token 40125 Misconfigured", err)
	}
	_, err = wx.Code2Session(context.Background(), "C")
	if wechat.Classify(err) != wechat.Misconfigured {
		t.Errorf("Code2Session with a wrong secret = %v, want Misconfigured", err)
	}
	if strings.Contains(err.Error(), "wrong-mp-secret") {
		t.Errorf("error %q leaks the secret", err)
	}

	only := fake.Client(t, func(o *wechat.Options) { o.MP = wechat.MiniProgram{} })
	if _, err := only.Code2Session(context.Background(), "C"); !errors.Is(err, wechat.ErrNotConfigured) {
		t.Errorf("Code2Session without a mini-program = %v, want ErrNotConfigured", err)
	}
	if err := only.SendSubscribe(context.Background(), wechat.SubscribeMessage{ToUser: "o", TemplateID: "T"}); !errors.Is(err, wechat.ErrNotConfigured) {
		t.Errorf("SendSubscribe without a mini-program = %v, want ErrNotConfigured", err)
	}
	m := template("o")
	m.MiniProgramPage = "pages/payout"
	if _, err := only.SendTemplate(context.Background(), m); wechat.Classify(err) != wechat.Misconfigured {
		t.Errorf("SendTemplate to a page without a mini-program = %v, want Misconfigured", err)
	}
}

func TestTransportFailuresAreTransientAndRedacted(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t, func(o *wechat.Options) { o.HTTPTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	fake.Code2SessionFor("SECRETCODE", "o", "")
	if _, err := wx.SendTemplate(ctx, template("o")); err != nil { // cache the token
		t.Fatal(err)
	}
	token := fake.Requests(wechattest.PathTemplateSend)[0].AccessToken()
	secrets := []string{wechattest.MPSecret, wechattest.OASecret, token, "SECRETCODE"}

	tests := []struct {
		name  string
		setup func()
		call  func() error
	}{
		{"code2session 502", func() { fake.FailHTTP(wechattest.PathCode2Session, 502, 1) },
			func() error { _, err := wx.Code2Session(ctx, "SECRETCODE"); return err }},
		{"code2session dropped twice", func() { fake.Drop(wechattest.PathCode2Session, 2) },
			func() error { _, err := wx.Code2Session(ctx, "SECRETCODE"); return err }},
		{"template dropped", func() { fake.Drop(wechattest.PathTemplateSend, 1) },
			func() error { _, err := wx.SendTemplate(ctx, template("o")); return err }},
		{"template 503", func() { fake.FailHTTP(wechattest.PathTemplateSend, 503, 1) },
			func() error { _, err := wx.SendTemplate(ctx, template("o")); return err }},
		{"template slow", func() { fake.Delay(wechattest.PathTemplateSend, 2*time.Second) },
			func() error {
				defer fake.Delay(wechattest.PathTemplateSend, 0)
				_, err := wx.SendTemplate(ctx, template("o"))
				return err
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			err := tc.call()
			if got := wechat.Classify(err); got != wechat.Transient {
				t.Errorf("error %v: kind %v, want Transient", err, got)
			}
			if err == nil {
				return
			}
			for _, s := range secrets {
				for e := err; e != nil; e = errors.Unwrap(e) {
					if strings.Contains(e.Error(), s) {
						t.Errorf("error %T %q leaks %q", e, e.Error(), s)
					}
				}
			}
		})
	}
}

func TestContextDeadline(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	fake.Delay(wechattest.PathTemplateSend, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := wx.SendTemplate(ctx, template("o"))
	if !errors.Is(err, context.DeadlineExceeded) || wechat.Classify(err) != wechat.Transient {
		t.Errorf("SendTemplate past its deadline = %v, want DeadlineExceeded, Transient", err)
	}
	if d := time.Since(start); d > 800*time.Millisecond {
		t.Errorf("SendTemplate took %s, want it to stop at the context deadline", d)
	}
}

func TestMessageBodies(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	ctx := context.Background()
	_, err := wx.SendTemplate(ctx, wechat.TemplateMessage{
		ToUser: "o-1", TemplateID: "TPL", MiniProgramPage: "pages/payout/index?id=7",
		Data: map[string]string{"thing1": "住院互助金", "amount2": "1200.00元"}, ClientMsgID: "outbox-42",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := wx.SendSubscribe(ctx, wechat.SubscribeMessage{ToUser: "o-2", TemplateID: "SUB", Page: "pages/home",
		Data: map[string]string{"phrase1": "已到账"}}); err != nil {
		t.Fatal(err)
	}
	tm := fake.Messages(t, wechattest.PathTemplateSend)[0]
	if tm.ToUser != "o-1" || tm.ClientMsgID != "outbox-42" || tm.Value("amount2") != "1200.00元" || tm.URL != "" ||
		tm.MiniProgram == nil || tm.MiniProgram.AppID != wechattest.MPAppID || tm.MiniProgram.PagePath != "pages/payout/index?id=7" {
		t.Errorf("template body = %+v", tm)
	}
	if raw := string(fake.Requests(wechattest.PathTemplateSend)[0].Body); strings.Contains(raw, `"url"`) {
		t.Errorf("template body %s sends an empty url", raw)
	}
	sm := fake.Messages(t, wechattest.PathSubscribeSend)[0]
	if sm.ToUser != "o-2" || sm.Page != "pages/home" || sm.State != "formal" || sm.Value("phrase1") != "已到账" {
		t.Errorf("subscribe body = %+v", sm)
	}
	// No mini-program page: no miniprogram object at all.
	if _, err := wx.SendTemplate(ctx, template("o-3")); err != nil {
		t.Fatal(err)
	}
	if raw := string(fake.Requests(wechattest.PathTemplateSend)[1].Body); strings.Contains(raw, "miniprogram") {
		t.Errorf("template body %s has a miniprogram object", raw)
	}
	// Missing fields are caught before any request.
	before := fake.Count("")
	if _, err := wx.SendTemplate(ctx, wechat.TemplateMessage{TemplateID: "T"}); wechat.Classify(err) != wechat.BadRequest {
		t.Errorf("SendTemplate without touser = %v, want BadRequest", err)
	}
	if err := wx.SendSubscribe(ctx, wechat.SubscribeMessage{ToUser: "o"}); wechat.Classify(err) != wechat.BadRequest {
		t.Errorf("SendSubscribe without template = %v, want BadRequest", err)
	}
	if got := fake.Count(""); got != before {
		t.Errorf("requests = %d after invalid messages, want %d", got, before)
	}
}

func TestCreateMenu(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	menu := []wechat.Button{
		{Type: "click", Name: "我的钱到了吗", Key: "MY_MONEY"},
		{Name: "互助保障", Sub: []wechat.Button{{Type: "view", Name: "政策说明", URL: "https://example.org/plan"}}},
	}
	if err := wx.CreateMenu(context.Background(), menu); err != nil {
		t.Fatalf("CreateMenu: %v", err)
	}
	var got struct {
		Button []wechat.Button `json:"button"`
	}
	if err := fake.Requests(wechattest.PathMenuCreate)[0].Decode(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(menu, got.Button); diff != "" {
		t.Errorf("menu body (-want +got):\n%s", diff)
	}
	if err := wx.CreateMenu(context.Background(), nil); wechat.Classify(err) != wechat.BadRequest {
		t.Errorf("CreateMenu(nil) = %v, want BadRequest", err)
	}
	if n := fake.Count(wechattest.PathMenuCreate); n != 1 {
		t.Errorf("menu requests = %d, want 1", n)
	}
}

func TestAPIBaseWithPathPrefix(t *testing.T) {
	fake := wechattest.New(t)
	target, _ := url.Parse(fake.URL)
	proxy := httptest.NewServer(http.StripPrefix("/egress/wx", httputil.NewSingleHostReverseProxy(target)))
	t.Cleanup(proxy.Close)
	wx := fake.Client(t, func(o *wechat.Options) { o.APIBase = proxy.URL + "/egress/wx/" })
	if _, err := wx.SendTemplate(context.Background(), template("o")); err != nil {
		t.Fatalf("SendTemplate through %s: %v", proxy.URL, err)
	}
	if fake.Count(wechattest.PathTemplateSend) != 1 || fake.Count(wechattest.PathStableToken) != 1 {
		t.Errorf("fake saw %v, want the token and template calls", fake.Paths())
	}
}

func TestNewLeavesDefaultClientAlone(t *testing.T) {
	prev := util.DefaultHTTPClient
	t.Cleanup(func() { util.DefaultHTTPClient = prev })
	if _, err := wechat.New(wechat.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	if util.DefaultHTTPClient == http.DefaultClient {
		t.Error("util.DefaultHTTPClient is still http.DefaultClient, want a new client")
	}
	if util.DefaultHTTPClient.Timeout != wechat.DefaultHTTPTimeout {
		t.Errorf("timeout = %s, want %s", util.DefaultHTTPClient.Timeout, wechat.DefaultHTTPTimeout)
	}
	if http.DefaultClient.Timeout != 0 || http.DefaultClient.Transport != nil {
		t.Error("http.DefaultClient was modified")
	}
	if _, err := wechat.New(wechat.Options{APIBase: "not a url"}, nil); err == nil {
		t.Error("New with a bad APIBase = nil error")
	}
}

func TestRedisSharedTokenCache(t *testing.T) {
	fake := wechattest.New(t)
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	withRedis := func(o *wechat.Options) { o.Redis = rc }

	a := fake.Client(t, withRedis)
	if _, err := a.SendTemplate(context.Background(), template("o")); err != nil {
		t.Fatal(err)
	}
	if v, err := mr.Get(wechat.DefaultKeyPrefix + oaKey); err != nil || v == "" {
		t.Fatalf("Redis key %s = %q, %v, want the token", wechat.DefaultKeyPrefix+oaKey, v, err)
	}
	b := fake.Client(t, withRedis) // a second instance
	if _, err := b.SendTemplate(context.Background(), template("o")); err != nil {
		t.Fatal(err)
	}
	if n := fake.Count(wechattest.PathStableToken); n != 1 {
		t.Errorf("stable_token requests = %d, want 1 (the second instance reuses Redis)", n)
	}
}

func TestConcurrentSends(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	ctx := context.Background()
	const workers, each = 32, 10
	var wg sync.WaitGroup
	errc := make(chan error, workers*each*2)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if w == 0 && i == each/2 {
					fake.RevokeTokens()
				}
				if _, err := wx.SendTemplate(ctx, template(fmt.Sprintf("o-%d-%d", w, i))); err != nil {
					errc <- err
				}
				if err := wx.SendSubscribe(ctx, wechat.SubscribeMessage{ToUser: "o", TemplateID: "S"}); err != nil {
					errc <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("concurrent send: %v", err)
	}
	// One fetch per account at start, and a few after the revocation: far fewer than sends.
	if n := fake.Count(wechattest.PathStableToken); n < 2 || n > 8 {
		t.Errorf("stable_token requests = %d, want 2..8 for %d sends", n, workers*each*2)
	}
}

func TestServerCallback(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	cb := wx.Callback()
	if cb.Token != wechattest.OAToken || cb.AppID != wechattest.OAAppID || cb.EncodingAESKey != wechattest.OAEncodingAESKey {
		t.Fatalf("Callback() = %+v", cb)
	}
	ts, nonce := "1714000000", "n0nce"
	sig := util.Signature(cb.Token, ts, nonce)
	var got []string
	handler := func(m *message.MixMessage) *message.Reply {
		got = append(got, m.Content)
		return &message.Reply{MsgType: message.MsgTypeText, MsgData: message.NewText("您好")}
	}

	t.Run("echostr", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/wx?timestamp="+ts+"&nonce="+nonce+"&signature="+sig+"&echostr=hello", nil)
		w := httptest.NewRecorder()
		srv, err := wx.Server(r, w, handler)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Serve(); err != nil {
			t.Fatalf("Serve: %v", err)
		}
		if w.Body.String() != "hello" {
			t.Errorf("echo = %q, want hello", w.Body.String())
		}
	})
	t.Run("text message", func(t *testing.T) {
		body := `<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o-user]]></FromUserName><CreateTime>1714000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[我的钱到了吗]]></Content><MsgId>1</MsgId></xml>`
		r := httptest.NewRequest(http.MethodPost, "/wx?timestamp="+ts+"&nonce="+nonce+"&signature="+sig, strings.NewReader(body))
		w := httptest.NewRecorder()
		srv, _ := wx.Server(r, w, handler)
		if err := srv.Serve(); err != nil {
			t.Fatalf("Serve: %v", err)
		}
		if err := srv.Send(); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != "我的钱到了吗" || !strings.Contains(w.Body.String(), "您好") {
			t.Errorf("handler saw %q, reply %q", got, w.Body.String())
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/wx?timestamp="+ts+"&nonce="+nonce+"&signature=forged&echostr=x", nil)
		w := httptest.NewRecorder()
		srv, _ := wx.Server(r, w, handler)
		if err := srv.Serve(); err == nil {
			t.Error("Serve with a forged signature = nil error")
		}
	})
	t.Run("not configured", func(t *testing.T) {
		none := fake.Client(t, func(o *wechat.Options) { o.OA = wechat.OfficialAccount{} })
		if _, err := none.Server(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder(), handler); !errors.Is(err, wechat.ErrNotConfigured) {
			t.Errorf("Server without an official account = %v, want ErrNotConfigured", err)
		}
	})
}

func TestTokenFetchFailure(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	fake.FailNext(wechattest.PathStableToken, -1, 1)
	_, err := wx.SendTemplate(context.Background(), template("o"))
	var we *wechat.Error
	if !errors.As(err, &we) || we.API != "access_token" || we.Kind() != wechat.Transient {
		t.Fatalf("SendTemplate with WeChat busy on the token = %v, want access_token Transient", err)
	}
	if n := fake.Count(wechattest.PathTemplateSend); n != 0 {
		t.Errorf("template sends = %d, want 0 without a token", n)
	}
	if _, err := wx.SendTemplate(context.Background(), template("o")); err != nil {
		t.Errorf("SendTemplate once WeChat recovered = %v, want success", err)
	}
}
