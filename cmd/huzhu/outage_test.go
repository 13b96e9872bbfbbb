package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"

	"huzhu/service/kv/kvtest"
	"huzhu/service/wechat/wechattest"
)

// TestKVOutageIs503: with the kv store (a redis-server of this test's own, never the shared one)
// killed mid-traffic, every front that needs it — wx login, binding, the console's pages, its
// login and its API, the callback — answers 503 with Retry-After instead of 500, /readyz says
// so, and all of them recover when Redis comes back, without a restart.
func TestKVOutageIs503(t *testing.T) {
	srv := kvtest.StartServer(t)
	fake := wechattest.New(t)
	extra := fakeOA(fake)
	extra["HUZHU_WECHAT_OA_MODE"] = "compatible"
	extra["HUZHU_SECURITY_PII_KEY"] = apiTestPIIKey
	extra["HUZHU_SECURITY_SESSION_SECRET"] = "outage-test-session-secret-0123456789abcdef"
	extra["HUZHU_NOTIFY_ENABLED"] = "false"
	extra["HUZHU_REDIS_ADDR"] = srv.Addr
	_, base := serveEnv(t, extra)
	hc := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	fake.Code2SessionFor("code-before", "openid-outage", "unionid-outage")
	worker := &client{base: base, http: hc}
	st, m, err := worker.do("POST", "/api/v1/session", map[string]string{"code": "code-before"})
	if err != nil || st != 200 {
		t.Fatalf("login before the outage = %d %v %v", st, m, err)
	}
	worker.token = m["token"].(string)

	seq := 0
	type probe struct {
		name string
		send func() (*http.Response, error)
		up   func(status int) bool // the answer while Redis is up
	}
	form := func(path, body string, header map[string]string) func() (*http.Response, error) {
		return func() (*http.Response, error) {
			req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range header {
				req.Header.Set(k, v)
			}
			return hc.Do(req)
		}
	}
	withCookie := func(path string) func() (*http.Response, error) {
		return func() (*http.Response, error) {
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Cookie", "huzhu_admin=a-session-token-that-is-not-there")
			return hc.Do(req)
		}
	}
	jsonPost := func(path, token string, body func() string) func() (*http.Response, error) {
		return func() (*http.Response, error) {
			req, _ := http.NewRequest("POST", base+path, strings.NewReader(body()))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return hc.Do(req)
		}
	}
	probes := []probe{
		{"wx login", jsonPost("/api/v1/session", "", func() string {
			seq++
			code := fmt.Sprintf("code-%d", seq)
			fake.Code2SessionFor(code, "openid-outage", "unionid-outage")
			return `{"code":"` + code + `"}`
		}), func(s int) bool { return s == 200 }},
		{"binding", jsonPost("/api/v1/binding", worker.token, func() string {
			return `{"name":"张三","id_number":"110101199003074477","jing_card":"6214000000000001","phone":"13800000000"}`
		}), func(s int) bool { return s >= 400 && s < 500 }},
		{"console page", withCookie("/admin/"), func(s int) bool { return s == http.StatusSeeOther }},
		{"console API", withCookie("/admin/api/me"), func(s int) bool { return s == http.StatusUnauthorized }},
		{"console login", form("/admin/login", "_csrf=tok&username=nobody&password=wrong", map[string]string{"Cookie": "huzhu_admin_login=tok"}),
			func(s int) bool { return s == http.StatusUnauthorized }},
		{"callback", func() (*http.Response, error) {
			seq++
			ts, n := fmt.Sprint(time.Now().Unix()), fmt.Sprintf("outage%d", seq)
			body := `<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o-out]]></FromUserName><CreateTime>1</CreateTime>` +
				`<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[电话]]></Content><MsgId>` + fmt.Sprint(seq) + `</MsgId></xml>`
			req, _ := http.NewRequest("POST", base+"/wechat/callback?timestamp="+ts+"&nonce="+n+"&signature="+util.Signature(wechattest.OAToken, ts, n), strings.NewReader(body))
			return hc.Do(req)
		}, func(s int) bool { return s == 200 }},
		{"readyz", func() (*http.Response, error) { return hc.Get(base + "/readyz") }, func(s int) bool { return s == 200 }},
	}
	send := func(p probe) (int, string, string) {
		t.Helper()
		resp, err := p.send()
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
	}
	for _, p := range probes {
		if st, _, body := send(p); !p.up(st) {
			t.Fatalf("%s before the outage = %d %s", p.name, st, body)
		}
	}

	srv.Stop()
	for _, p := range probes {
		st, retry, body := send(p)
		if st != http.StatusServiceUnavailable {
			t.Errorf("%s while Redis is down = %d %.200s, want 503", p.name, st, body)
		}
		if p.name != "readyz" && retry != "10" {
			t.Errorf("%s while Redis is down: Retry-After %q, want 10", p.name, retry)
		}
		if strings.Contains(body, "系统繁忙") {
			t.Errorf("%s while Redis is down says 系统繁忙 (an internal error): %.200s", p.name, body)
		}
	}

	srv.Start()
	for _, p := range probes {
		var st int
		var body string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if st, _, body = send(p); p.up(st) {
				break
			}
		}
		if !p.up(st) {
			t.Errorf("%s after Redis is back = %d %.200s", p.name, st, body)
		}
	}
}
