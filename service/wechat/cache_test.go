package wechat

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/cache"
)

// fakeClock is a settable clock for the in-process cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type cacheBackend struct {
	name    string
	cache   cache.Cache
	advance func(time.Duration) // moves the backend's clock
}

// backends returns the token caches to test: in-process and miniredis always, and the Redis at
// HUZHU_TEST_REDIS_ADDR when set (required when HUZHU_TEST_REQUIRE_EXTERNAL=1).
func backends(t *testing.T) []cacheBackend {
	t.Helper()
	clk := &fakeClock{t: time.Date(2025, 4, 21, 9, 0, 0, 0, time.UTC)}
	out := []cacheBackend{{"memory", newMemoryCache(clk.now), clk.add}}

	mr := miniredis.RunT(t)
	mc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = mc.Close() })
	out = append(out, cacheBackend{"miniredis", newRedisCache(mc, "test:", time.Second), mr.FastForward})

	addr := os.Getenv("HUZHU_TEST_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("HUZHU_TEST_REQUIRE_EXTERNAL") == "1" {
			t.Fatal("HUZHU_TEST_REQUIRE_EXTERNAL=1 but HUZHU_TEST_REDIS_ADDR is empty")
		}
		return out
	}
	rc := redis.NewClient(&redis.Options{Addr: addr})
	if err := rc.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("test Redis at %s: %v", addr, err)
	}
	prefix := fmt.Sprintf("huzhutest:wechat:%d:", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rc.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
		_ = rc.Close()
	})
	// A real server's clock cannot be moved: expiry is tested with a short TTL and a sleep.
	out = append(out, cacheBackend{"redis", newRedisCache(rc, prefix, time.Second), func(d time.Duration) { time.Sleep(d) }})
	return out
}

func TestCacheContract(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			c := b.cache
			if v := c.Get("k"); v != nil {
				t.Fatalf("Get(missing) = %#v, want untyped nil", v)
			}
			if c.IsExist("k") {
				t.Fatal("IsExist(missing) = true")
			}
			if err := c.Set("k", "TOKEN", 2*time.Second); err != nil {
				t.Fatalf("Set: %v", err)
			}
			v := c.Get("k")
			if s, ok := v.(string); !ok || s != "TOKEN" {
				t.Fatalf("Get(k) = %#v, want the string \"TOKEN\" (the library type-asserts string)", v)
			}
			if !c.IsExist("k") {
				t.Fatal("IsExist(k) = false after Set")
			}
			if err := c.Delete("k"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if v := c.Get("k"); v != nil {
				t.Fatalf("Get after Delete = %#v, want nil", v)
			}
			if err := c.Delete("k"); err != nil {
				t.Fatalf("Delete(missing) = %v, want nil", err)
			}
			// Expiry.
			if err := c.Set("e", "X", time.Second); err != nil {
				t.Fatal(err)
			}
			b.advance(1100 * time.Millisecond)
			if v := c.Get("e"); v != nil {
				t.Fatalf("Get(expired) = %#v, want nil", v)
			}
			// A negative TTL (expires_in below the library's margin) still stores the value briefly.
			if err := c.Set("n", "Y", -5*time.Second); err != nil {
				t.Fatalf("Set(negative ttl) = %v", err)
			}
			if v := c.Get("n"); v != "Y" {
				t.Fatalf("Get after negative-ttl Set = %#v, want \"Y\"", v)
			}
		})
	}
}

func TestRedisCachePrefixAndDownServer(t *testing.T) {
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr(), DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { _ = rc.Close() })
	c := newRedisCache(rc, "huzhu:wechat:", time.Second)
	if err := c.Set("gowechat_officialaccount__stable_access_token_wx1", "T", time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, err := mr.Get("huzhu:wechat:gowechat_officialaccount__stable_access_token_wx1"); err != nil || got != "T" {
		t.Fatalf("raw key = %q, %v, want the prefixed key holding T", got, err)
	}
	mr.Close()
	start := time.Now()
	if v := c.Get("anything"); v != nil {
		t.Errorf("Get with Redis down = %#v, want nil (a miss)", v)
	}
	if c.Set("k", "v", time.Minute) == nil {
		t.Error("Set with Redis down = nil error, want an error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("calls with Redis down took %s, want them bounded by the timeout", d)
	}
}

func TestMemoryCacheConcurrent(t *testing.T) {
	c := newMemoryCache(time.Now)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 500 {
				k := fmt.Sprintf("k%d", j%7)
				switch (i + j) % 4 {
				case 0:
					_ = c.Set(k, "v", time.Millisecond*time.Duration(j%3))
				case 1:
					_ = c.Get(k)
				case 2:
					_ = c.IsExist(k)
				default:
					_ = c.Delete(k)
				}
			}
		}()
	}
	wg.Wait()
}

func TestRewriteTransport(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.RequestURI())
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL + "/egress/wx/")
	hc := newHTTPClient(base, time.Second)
	resp, err := hc.Get("https://api.weixin.qq.com/cgi-bin/token?appid=a")
	if err != nil {
		t.Fatalf("GET through the rewrite: %v", err)
	}
	resp.Body.Close()
	if want := "/egress/wx/cgi-bin/token?appid=a"; len(seen) != 1 || seen[0] != want {
		t.Errorf("fake saw %q, want [%q]", seen, want)
	}
	// Other hosts are left alone: a request to the test server's own URL goes there unchanged.
	resp, err = hc.Get(srv.URL + "/direct")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(seen) != 2 || seen[1] != "/direct" {
		t.Errorf("fake saw %q, want /direct unchanged", seen)
	}
	def, _ := url.Parse(DefaultAPIBase)
	if _, ok := newHTTPClient(def, time.Second).Transport.(*http.Transport); !ok {
		t.Error("default APIBase: transport is wrapped, want the plain *http.Transport")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		wants []string // substrings of the error; none: valid
	}{
		{"empty is valid (nothing configured)", Options{APIBase: DefaultAPIBase, MiniProgramState: "formal"}, nil},
		{"all problems at once", Options{
			APIBase:          "ftp://x",
			OA:               OfficialAccount{AppID: "wx1", EncodingAESKey: "short"},
			MP:               MiniProgram{AppID: "wx2"},
			MiniProgramState: "prod",
			HTTPTimeout:      -time.Second,
		}, []string{"wechat.api_base", "wechat.oa.app_secret", "wechat.oa.token", "wechat.oa.encoding_aes_key: has 5 characters", "wechat.mp.app_secret", "wechat.mp.state", "wechat.http_timeout"}},
		{"base without host", Options{APIBase: "http://", MiniProgramState: "formal"}, []string{"wechat.api_base"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validate(tc.opts)
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("validate = nil, want errors %q", tc.wants)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("validate error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestCheckMenu(t *testing.T) {
	click := Button{Type: "click", Name: "我的钱", Key: "MY_MONEY"}
	tests := []struct {
		name    string
		buttons []Button
		wantErr string
	}{
		{"ok", []Button{click, {Name: "服务", Sub: []Button{{Type: "view", Name: "政策", URL: "https://x"}, {Type: "miniprogram", Name: "小程序", URL: "https://x", AppID: "wx", PagePath: "pages/index"}}}}, ""},
		{"none", nil, "want 1 to 3"},
		{"four", []Button{click, click, click, click}, "want 1 to 3"},
		{"six subs", []Button{{Name: "多", Sub: []Button{click, click, click, click, click, click}}}, "at most 5"},
		{"long top name", []Button{{Type: "click", Name: "互助金到账查询一下", Key: "K"}}, "name is 18 bytes wide"},
		{"long sub name", []Button{{Name: "父", Sub: []Button{{Type: "click", Name: strings.Repeat("查", 31), Key: "K"}}}}, "name is 62 bytes wide"},
		{"eight Chinese characters fit", []Button{{Type: "click", Name: "互助金到账查询一", Key: "K"}}, ""},
		{"click without key", []Button{{Type: "click", Name: "查"}}, "needs a key"},
		{"view without url", []Button{{Type: "view", Name: "查"}}, "needs a url"},
		{"miniprogram without page", []Button{{Type: "miniprogram", Name: "查", URL: "https://x", AppID: "wx"}}, "needs appid, pagepath"},
		{"unknown type", []Button{{Type: "scancode", Name: "扫"}}, "want click, view or miniprogram"},
		{"sub-menu with type", []Button{{Type: "click", Name: "父", Key: "K", Sub: []Button{click}}}, "cannot have type"},
		{"nested too deep", []Button{{Name: "父", Sub: []Button{{Name: "子", Sub: []Button{click}}}}}, "cannot have sub-buttons"},
		{"no name", []Button{{Type: "click", Key: "K"}}, "no name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkMenu(tc.buttons)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("checkMenu = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("checkMenu = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
