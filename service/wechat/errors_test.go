package wechat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/silenceper/wechat/v2/util"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		want     Kind
		wantCode int64
	}{
		{"nil", nil, Other, 0},
		{"common 40001", util.NewCommonError("x", 40001, "invalid credential"), TokenInvalid, 40001},
		{"common 42001", util.NewCommonError("x", 42001, "expired"), TokenInvalid, 42001},
		{"common 40014", util.NewCommonError("x", 40014, "invalid access_token"), TokenInvalid, 40014},
		{"common 45009", util.NewCommonError("x", 45009, "quota"), RateLimited, 45009},
		{"common 45047", util.NewCommonError("x", 45047, "out of limit"), RateLimited, 45047},
		{"common 45011", util.NewCommonError("x", 45011, "freq limit"), RateLimited, 45011},
		{"common -1 busy", util.NewCommonError("x", -1, "system error"), Transient, -1},
		{"common 43004", util.NewCommonError("x", 43004, "require subscribe"), UserPermanent, 43004},
		{"common 43101", util.NewCommonError("x", 43101, "user refuse"), UserPermanent, 43101},
		{"common 40003", util.NewCommonError("x", 40003, "invalid openid"), UserPermanent, 40003},
		{"common 47003", util.NewCommonError("x", 47003, "argument invalid"), BadRequest, 47003},
		{"common 40037", util.NewCommonError("x", 40037, "invalid template_id"), BadRequest, 40037},
		{"common 40029", util.NewCommonError("x", 40029, "invalid code"), BadRequest, 40029},
		{"common 40163", util.NewCommonError("x", 40163, "code been used"), BadRequest, 40163},
		{"common 40125", util.NewCommonError("x", 40125, "invalid appsecret"), Misconfigured, 40125},
		{"common unknown", util.NewCommonError("x", 99999, "what"), Other, 99999},
		{"wrapped common", fmt.Errorf("notify: %w", util.NewCommonError("x", 43101, "refuse")), UserPermanent, 43101},
		{"template string", errors.New("template msg send error : errcode=43004 , errmsg=require subscribe"), UserPermanent, 43004},
		{"code2session string", errors.New("Code2Session error : errcode=40029 , errmsg=invalid code"), BadRequest, 40029},
		{"stable token string", errors.New("get stable access_token error : errcode=40164 , errormsg=invalid ip"), Misconfigured, 40164},
		{"busy string", errors.New("send error : errcode=-1 , errmsg=system error"), Transient, -1},
		{"http 502", errors.New("http get error : uri=https://api.weixin.qq.com/x?secret=S , statusCode=502"), Transient, 0},
		{"http 429", errors.New("http post error : uri=https://api.weixin.qq.com/x , statusCode=429"), Transient, 0},
		{"http 404", errors.New("http post error : uri=https://api.weixin.qq.com/x , statusCode=404"), Other, 0},
		{"url error", &url.Error{Op: "Post", URL: "https://api.weixin.qq.com/x", Err: errors.New("connection reset by peer")}, Transient, 0},
		{"url timeout", &url.Error{Op: "Get", URL: "https://api.weixin.qq.com/x", Err: timeoutErr{}}, Transient, 0},
		{"net op error", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}, Transient, 0},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), Transient, 0},
		{"canceled", context.Canceled, Transient, 0},
		{"our error", &Error{Code: 45009, API: "template_send"}, RateLimited, 45009},
		{"our local error", fmt.Errorf("x: %w", &Error{API: "menu_create", kind: BadRequest}), BadRequest, 0},
		{"json garbage", errors.New("json Unmarshal Error, err=invalid character '<'"), Other, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
			code, ok := Code(tc.err)
			if code != tc.wantCode || ok != (tc.wantCode != 0) {
				t.Errorf("Code(%v) = %d, %v, want %d", tc.err, code, ok, tc.wantCode)
			}
		})
	}
}

func TestKindRetryable(t *testing.T) {
	want := map[Kind]bool{Other: false, TokenInvalid: true, RateLimited: true, Transient: true,
		UserPermanent: false, BadRequest: false, Misconfigured: false}
	for k, r := range want {
		if k.Retryable() != r {
			t.Errorf("%v.Retryable() = %v, want %v", k, k.Retryable(), r)
		}
		if k.String() == "" {
			t.Errorf("Kind(%d).String() is empty", k)
		}
	}
}

func TestRedaction(t *testing.T) {
	const secret, token, code = "SUPERSECRET123", "ACCESSTOKEN456", "JSCODE789"
	tests := []struct {
		name string
		err  error
	}{
		{"http status with secret and code", fmt.Errorf("http get error : uri=https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=%s&js_code=%s&grant_type=authorization_code , statusCode=502", secret, code)},
		{"url error with token", &url.Error{Op: "Post", URL: "https://api.weixin.qq.com/cgi-bin/message/template/send?access_token=" + token, Err: timeoutErr{}}},
		{"url error with secret, wrapped", fmt.Errorf("token: %w", &url.Error{Op: "Get", URL: "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx&secret=" + secret, Err: errors.New("EOF")})},
		{"inner error text holding the URL", &url.Error{Op: "Get", URL: "https://x/?access_token=" + token, Err: fmt.Errorf("proxy said no to https://x/?access_token=%s", token)}},
		{"errmsg echoing the token", util.NewCommonError("x", 40001, "invalid credential, access_token is invalid: access_token="+token)},
		{"json secret", fmt.Errorf(`bad body {"appid":"wx","secret":"%s"}`, secret)},
		{"context deadline with URL", fmt.Errorf("Post %q: %w", "https://api.weixin.qq.com/x?access_token="+token, context.DeadlineExceeded)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := toError("api", tc.err)
			for _, s := range []string{secret, token, code} {
				if strings.Contains(e.Error(), s) {
					t.Errorf("toError(%q).Error() = %q, leaks %q", tc.err, e.Error(), s)
				}
				for c := errors.Unwrap(e); c != nil; c = errors.Unwrap(c) {
					if strings.Contains(c.Error(), s) {
						t.Errorf("cause %T %q leaks %q", c, c.Error(), s)
					}
				}
			}
			if !strings.Contains(e.Error(), "REDACTED") {
				t.Errorf("toError(%q).Error() = %q, want a REDACTED mark", tc.err, e.Error())
			}
		})
	}
}

func TestRedactKeepsErrcode(t *testing.T) {
	in := "x errcode=40029 , errmsg=invalid code js_code=abc&code=def hint: code"
	got := Redact(in)
	want := "x errcode=40029 , errmsg=invalid code js_code=REDACTED&code=REDACTED hint: code"
	if got != want {
		t.Errorf("Redact(%q) = %q, want %q", in, got, want)
	}
}

func TestErrorKeepsTimeoutAndContext(t *testing.T) {
	e := toError("template_send", &url.Error{Op: "Post", URL: "https://a/?access_token=T", Err: timeoutErr{}})
	var ue *url.Error
	if !errors.As(e, &ue) || !ue.Timeout() {
		t.Fatalf("errors.As(%v, *url.Error) timeout = false, want the timeout kept", e)
	}
	e = toError("template_send", fmt.Errorf("wrap: %w", context.DeadlineExceeded))
	if !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, DeadlineExceeded) = false", e)
	}
}
