package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/silenceper/wechat/v2/util"

	"huzhu/service/kv"
	"huzhu/service/wechat/wechattest"
)

// serveEnv runs `huzhu serve` in-process over env e and returns its base URL; the test can then
// look at what the process keeps (e.kv). The server stops when the test ends.
func serveEnv(t *testing.T, extra map[string]string) (*env, string) {
	t.Helper()
	out := &syncBuffer{}
	e := &env{getenv: testEnv(t, extra), stdin: strings.NewReader(""), stdout: out, stderr: io.Discard}
	if err := e.load(); err != nil {
		t.Fatalf("load: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.serve(ctx, false) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not shut down within 20 s")
		}
		e.close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			return e, m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start: %s", out.String())
	return nil, ""
}

// TestMixedTrafficKeepsNoRequestBytes drives every front of the server at once over keep-alive
// connections (so fasthttp reuses its buffers): the API, the console, the callback, health,
// metrics, with good, bad, odd-method and oversized requests. Afterwards /metrics must still
// answer 200 with only sane label values, and every key the in-process kv store holds (rate
// limits, sessions, nonces, bot state) must be one the traffic could have produced and still be
// findable under its own bytes: a key that aliased a request buffer changes after it is stored.
func TestMixedTrafficKeepsNoRequestBytes(t *testing.T) {
	fake := wechattest.New(t)
	extra := fakeOA(fake)
	extra["HUZHU_WECHAT_OA_MODE"] = "compatible"
	extra["HUZHU_SECURITY_PII_KEY"] = apiTestPIIKey
	extra["HUZHU_NOTIFY_ENABLED"] = "false"
	extra["HUZHU_HTTP_BODY_LIMIT_KB"] = "4"
	e, base := serveEnv(t, extra)
	mem, ok := e.kv.(*kv.Memory)
	if !ok {
		t.Fatalf("kv is %T, want the in-process store", e.kv)
	}

	type request struct {
		method, path, body string
		header             map[string]string
	}
	now := time.Now().Unix()
	callback := func(r *rand.Rand, i int) request {
		ts := fmt.Sprint(now - int64(r.IntN(400)) + 200) // some outside the 5-minute window
		n := fmt.Sprintf("nonce%d", r.IntN(50_000))      // some repeat
		q := "timestamp=" + ts + "&nonce=" + n + "&signature=" + util.Signature(wechattest.OAToken, ts, n)
		body := fmt.Sprintf(`<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o-%d]]></FromUserName>`+
			`<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>`,
			r.IntN(40), now, []string{"电话", "我能参加吗", "1", "一年最多能报多少钱"}[r.IntN(4)], i)
		return request{method: "POST", path: "/wechat/callback?" + q, body: body, header: map[string]string{"Content-Type": "text/xml"}}
	}
	gens := []func(r *rand.Rand, i int) request{
		func(*rand.Rand, int) request { return request{method: "GET", path: "/healthz"} },
		func(r *rand.Rand, _ int) request {
			return request{method: "POST", path: "/api/v1/session", body: fmt.Sprintf(`{"code":"bad-%d"}`, r.IntN(1000))}
		},
		func(*rand.Rand, int) request { return request{method: "GET", path: "/api/v1/stats"} },
		func(*rand.Rand, int) request {
			return request{method: "POST", path: "/api/v1/estimates", body: "{{{not json"}
		},
		func(*rand.Rand, int) request {
			return request{method: "POST", path: "/api/v1/session", body: `{"code":"` + strings.Repeat("长", 3000) + `"}`}
		},
		func(r *rand.Rand, _ int) request {
			return request{method: "GET", path: "/api/v1/payouts/" + fmt.Sprint(r.IntN(99)), header: map[string]string{"Authorization": "Bearer v1.forged.x"}}
		},
		func(r *rand.Rand, _ int) request {
			return request{method: []string{"PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"}[r.IntN(5)], path: "/healthz"}
		},
		func(r *rand.Rand, _ int) request {
			return request{method: "GET", path: "/nope/" + strings.Repeat("z", r.IntN(300)) + "?q=" + url.QueryEscape("GETT")}
		},
		func(r *rand.Rand, _ int) request {
			return request{method: "GET", path: "/admin/", header: map[string]string{"Cookie": fmt.Sprintf("huzhu_admin=forged%d", r.IntN(1000))}}
		},
		func(r *rand.Rand, _ int) request {
			return request{method: "GET", path: "/admin/static/admin.css", header: map[string]string{"X-Request-ID": strings.Repeat("r", r.IntN(64))}}
		},
		callback,
		callback,
	}
	const workers, perWorker = 12, 60
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// Console logins go first and one at a time: each spends a bcrypt inside a database
	// transaction, and SQLite has one connection, so among the traffic they would only queue it.
	for i := range 3 {
		tok := fmt.Sprintf("csrf%d", i)
		req, _ := http.NewRequest("POST", base+"/admin/login", strings.NewReader("_csrf="+tok+"&username=nobody&password=wrong"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", "huzhu_admin_login="+tok)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("console login with a wrong password = %d, want 401", resp.StatusCode)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 13))
			for i := range perWorker {
				rq := gens[r.IntN(len(gens))](r, w*perWorker+i)
				req, _ := http.NewRequest(rq.method, base+rq.path, strings.NewReader(rq.body))
				if rq.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				for k, v := range rq.header {
					req.Header.Set(k, v)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Errorf("%s %s: %v", rq.method, rq.path, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("statuses: %v", statuses)
	if statuses[500] > 0 {
		t.Errorf("%d requests answered 500", statuses[500])
	}

	resp, err := hc.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics = %d after the traffic: %s", resp.StatusCode, b)
	}
	labels := regexp.MustCompile(`(?m)^huzhu_http_requests_total\{method="([^"]*)",route="([^"]*)",status="([^"]*)"\}`)
	methods := map[string]bool{"OTHER": true}
	for _, m := range fiber.DefaultMethods {
		methods[m] = true
	}
	sane := regexp.MustCompile(`^(unmatched|/[a-z0-9/:_.*+-]*)$`)
	found := labels.FindAllStringSubmatch(string(b), -1)
	if len(found) == 0 {
		t.Fatalf("/metrics has no request counters:\n%s", b)
	}
	for _, m := range found {
		if !methods[m[1]] || !sane.MatchString(m[2]) || strings.Contains(m[2], "zzz") || len(m[3]) != 3 {
			t.Errorf("metric labels method=%q route=%q status=%q are not a method, a route pattern and a status", m[1], m[2], m[3])
		}
	}

	// Every key is one the services build from this traffic, and still findable: a key whose
	// bytes changed after it was stored hashes to another bucket.
	keyRe := regexp.MustCompile(`^(rl:login:ip:127\.0\.0\.1|rl:admin-login:127\.0\.0\.1|admin-login:fail:[0-9a-f]{32}:[a-z]+|wechat:callback:[0-9]{10}:nonce[0-9]{1,5}|` +
		`bot:[a-z]+:[A-Za-z0-9:_-]+|stats:[A-Za-z0-9:_-]+)$`)
	keys := mem.Keys()
	if len(keys) == 0 {
		t.Fatal("the kv store holds no keys: the traffic did not reach it")
	}
	for _, k := range keys {
		if _, ok, _ := mem.Get(context.Background(), k); !ok || !utf8.ValidString(k) || !keyRe.MatchString(k) {
			t.Errorf("kv key %q (findable %v) is not one this traffic builds", k, ok)
		}
	}
	t.Logf("%d kv keys checked, e.g. %q", len(keys), keys[:min(len(keys), 12)])
}

// TestSecurityHeadersOnEveryFront: with an https public URL, the API, the console (page, static
// file, missing static file), the callback's refusal and health all carry HSTS, nosniff and
// Referrer-Policy.
func TestSecurityHeadersOnEveryFront(t *testing.T) {
	fake := wechattest.New(t)
	extra := fakeOA(fake)
	extra["HUZHU_HTTP_PUBLIC_URL"] = "https://huzhu.example.org"
	extra["HUZHU_NOTIFY_ENABLED"] = "false"
	_, base := serveEnv(t, extra)
	for _, path := range []string{"/healthz", "/api/v1/stats", "/api/v1/payouts", "/admin/login", "/admin/", "/admin/static/admin.css",
		"/admin/static/nope.css", "/wechat/callback?timestamp=1&nonce=n&signature=forged", "/nope"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || !strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("GET %s (%d): nosniff %q, Referrer-Policy %q, HSTS %q", path, resp.StatusCode,
				h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"), h.Get("Strict-Transport-Security"))
		}
	}
}
