package wechat

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/miniprogram"
	mpcfg "github.com/silenceper/wechat/v2/miniprogram/config"
	"github.com/silenceper/wechat/v2/officialaccount"
	oacfg "github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/util"
)

// DefaultAPIBase is WeChat's API server; every endpoint the library calls is under it.
const DefaultAPIBase = "https://api.weixin.qq.com"

// Defaults applied by New to zero Options fields.
const (
	DefaultHTTPTimeout  = 10 * time.Second
	DefaultRedisTimeout = 2 * time.Second
	DefaultKeyPrefix    = "huzhu:wechat:"
)

// OfficialAccount holds the official account (公众号) settings. Token and EncodingAESKey are
// the message-server settings of the callback; EncodingAESKey is needed only in safe mode.
type OfficialAccount struct {
	AppID          string
	AppSecret      string
	Token          string
	EncodingAESKey string
}

// MiniProgram holds the mini-program (小程序) settings.
type MiniProgram struct {
	AppID     string
	AppSecret string
}

// Options configures New. An account with an empty AppID is not configured: its methods return
// ErrNotConfigured.
type Options struct {
	OA OfficialAccount
	MP MiniProgram
	// APIBase replaces https://api.weixin.qq.com for every call (tests, fakes, egress
	// proxies). It may carry a path prefix ("https://proxy.example/wx"). Empty: the default.
	APIBase string
	// HTTPTimeout bounds every WeChat HTTP call, including those of library methods that take
	// no context. Zero: DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// Redis holds access tokens shared by every instance. Nil: an in-process cache, right only
	// for a single instance.
	Redis redis.UniversalClient
	// RedisTimeout bounds each cache operation (the library's cache interface has no context).
	// Zero: DefaultRedisTimeout.
	RedisTimeout time.Duration
	// KeyPrefix is put before the library's Redis keys. Empty: DefaultKeyPrefix.
	KeyPrefix string
	// MiniProgramState is sent with mini-program subscribe messages whose State is empty:
	// "formal" (default), "trial" or "developer".
	MiniProgramState string
	// Now is the clock of the in-process cache. Nil: time.Now.
	Now func() time.Time
}

// Client is huzhu's one door to WeChat: the official-account and mini-program clients, built once,
// with a shared token cache, typed errors and one token retry. It is safe for concurrent use.
type Client struct {
	opts  Options
	log   *slog.Logger
	cache cache.Cache
	oa    *officialaccount.OfficialAccount // nil when not configured
	mp    *miniprogram.MiniProgram         // nil when not configured

	// dropMu serialises token invalidation so that concurrent 40001s drop a token once.
	dropMu sync.Mutex
}

// New validates opts and builds the clients. It reports every bad option at once.
//
// New sets util.DefaultHTTPClient, a process-global of silenceper/wechat, to a new
// *http.Client with opts.HTTPTimeout whose Transport sends requests for api.weixin.qq.com to
// opts.APIBase. Every WeChat call of the process then goes through it, so build one Client per
// process (cmd/huzhu does, at start) and, in tests, one at a time: tests that build Clients for
// different fakes must not run in parallel. http.DefaultClient is never modified.
func New(opts Options, log *slog.Logger) (*Client, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPTimeout == 0 {
		opts.HTTPTimeout = DefaultHTTPTimeout
	}
	if opts.RedisTimeout == 0 {
		opts.RedisTimeout = DefaultRedisTimeout
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if opts.MiniProgramState == "" {
		opts.MiniProgramState = "formal"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.APIBase == "" {
		opts.APIBase = DefaultAPIBase
	}
	opts.APIBase = strings.TrimRight(opts.APIBase, "/")
	base, err := validate(opts)
	if err != nil {
		return nil, err
	}

	c := &Client{opts: opts, log: log}
	if opts.Redis != nil {
		c.cache = newRedisCache(opts.Redis, opts.KeyPrefix, opts.RedisTimeout)
	} else {
		c.cache = newMemoryCache(opts.Now)
	}
	if opts.OA.AppID != "" {
		c.oa = officialaccount.NewOfficialAccount(&oacfg.Config{
			AppID: opts.OA.AppID, AppSecret: opts.OA.AppSecret, Token: opts.OA.Token,
			EncodingAESKey: opts.OA.EncodingAESKey, Cache: c.cache, UseStableAK: true,
		})
	}
	if opts.MP.AppID != "" {
		c.mp = miniprogram.NewMiniProgram(&mpcfg.Config{
			AppID: opts.MP.AppID, AppSecret: opts.MP.AppSecret, Cache: c.cache, UseStableAK: true,
		})
	}
	util.DefaultHTTPClient = newHTTPClient(base, opts.HTTPTimeout)
	return c, nil
}

func validate(opts Options) (*url.URL, error) {
	var problems []error
	base, err := url.Parse(opts.APIBase)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" {
		problems = append(problems, fmt.Errorf("wechat.api_base: %q is not an http(s) base URL (example: %s)", opts.APIBase, DefaultAPIBase))
	}
	if opts.OA.AppID != "" && opts.OA.AppSecret == "" {
		problems = append(problems, errors.New("wechat.oa.app_secret: empty while wechat.oa.app_id is set (copy it from mp.weixin.qq.com → 设置与开发 → 基本配置)"))
	}
	if opts.OA.AppID != "" && opts.OA.Token == "" {
		problems = append(problems, errors.New("wechat.oa.token: empty while wechat.oa.app_id is set; the callback cannot be verified without it (example: a random 32-letter string, also entered in 基本配置 → 服务器配置)"))
	}
	if k := opts.OA.EncodingAESKey; k != "" && len(k) != 43 {
		problems = append(problems, fmt.Errorf("wechat.oa.encoding_aes_key: has %d characters, want 43 (the EncodingAESKey shown in 服务器配置)", len(k)))
	}
	if opts.MP.AppID != "" && opts.MP.AppSecret == "" {
		problems = append(problems, errors.New("wechat.mp.app_secret: empty while wechat.mp.app_id is set (copy it from mp.weixin.qq.com → 开发 → 开发管理)"))
	}
	switch opts.MiniProgramState {
	case "formal", "trial", "developer":
	default:
		problems = append(problems, fmt.Errorf("wechat.mp.state: %q, want formal, trial or developer", opts.MiniProgramState))
	}
	if opts.HTTPTimeout < 0 {
		problems = append(problems, fmt.Errorf("wechat.http_timeout: %s is negative (example: 10s)", opts.HTTPTimeout))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return base, nil
}

// newHTTPClient returns the client every WeChat call uses: a timeout and, when base is not the
// default, a transport that rewrites the scheme and host (and prepends base's path).
func newHTTPClient(base *url.URL, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// The default keeps 2 idle connections per host: with a dispatcher's sends in flight, every
	// other call would open (and TLS-handshake) a new connection to api.weixin.qq.com.
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 512, 512
	var rt http.RoundTripper = tr
	if base.String() != DefaultAPIBase {
		rt = &rewriteTransport{base: base, next: tr}
	}
	return &http.Client{Timeout: timeout, Transport: rt}
}

// rewriteTransport sends requests for api.weixin.qq.com to base; other hosts pass unchanged.
type rewriteTransport struct {
	base *url.URL
	next http.RoundTripper
}

func (t *rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != "api.weixin.qq.com" {
		return t.next.RoundTrip(r)
	}
	r2 := r.Clone(r.Context())
	r2.URL.Scheme = t.base.Scheme
	r2.URL.Host = t.base.Host
	if p := strings.TrimRight(t.base.Path, "/"); p != "" {
		r2.URL.Path = p + r.URL.Path
		r2.URL.RawPath = ""
	}
	r2.Host = ""
	return t.next.RoundTrip(r2)
}

// tokenKey returns the library's cache key for the stable access token of an account
// (credential.CacheKey…Prefix + "_stable_access_token_" + appID; note the double underscore).
func tokenKey(prefix, appID string) string {
	return prefix + "_stable_access_token_" + appID
}

const (
	oaPrefix = credential.CacheKeyOfficialAccountPrefix
	mpPrefix = credential.CacheKeyMiniProgramPrefix
)
