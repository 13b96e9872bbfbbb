package wechat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/silenceper/wechat/v2/util"
)

// ErrNotConfigured is returned (wrapped) by every method whose account — official account or
// mini-program — has no AppID in Options.
var ErrNotConfigured = errors.New("wechat account not configured")

// Kind is the class of a WeChat failure, which tells a caller what to do next.
type Kind int

// Kinds of WeChat failure.
const (
	// Other is every failure not listed below; treat it as a bug or an unknown code: do not
	// retry blindly, look at the log.
	Other Kind = iota
	// TokenInvalid means the access token was invalid or expired (40001, 42001, 40014). The
	// Client already dropped the token and retried once; seeing it again means the AppSecret
	// changed or another system is force-refreshing the token.
	TokenInvalid
	// RateLimited means a WeChat quota or frequency limit (45009 daily quota, 45047 too many
	// subscribe messages, 45011 API frequency): retry later, hours for 45009.
	RateLimited
	// Transient means WeChat was busy (-1), answered with an HTTP 5xx or 429, or the network
	// failed or timed out: retry with backoff.
	Transient
	// UserPermanent means this user cannot receive the message (43004 not following the
	// official account, 43101 refused or out of subscription quota, 40003 bad openid, 43019
	// blocked, 40226 high-risk user): do not retry for this user.
	UserPermanent
	// BadRequest means our request was wrong (47003 bad data, 40037 bad template_id, 40029
	// invalid login code, 40163 code already used, 47001, 44002, 40036…): fix the caller.
	BadRequest
	// Misconfigured means the account settings are wrong (40013 bad AppID, 40125 bad secret,
	// 40164 server IP not whitelisted, 48001 API not authorised, 41002/41004 missing
	// appid/secret) or the account is not configured at all: alert an operator.
	Misconfigured
)

// String returns the kind's name in snake_case, for logs and metrics labels.
func (k Kind) String() string {
	switch k {
	case TokenInvalid:
		return "token_invalid"
	case RateLimited:
		return "rate_limited"
	case Transient:
		return "transient"
	case UserPermanent:
		return "user_permanent"
	case BadRequest:
		return "bad_request"
	case Misconfigured:
		return "misconfigured"
	}
	return "other"
}

// Retryable reports whether the same request may succeed later unchanged: true for Transient,
// RateLimited and TokenInvalid.
func (k Kind) Retryable() bool {
	return k == Transient || k == RateLimited || k == TokenInvalid
}

// kindOfCode maps a WeChat errcode to its Kind.
func kindOfCode(code int64) Kind {
	switch code {
	case 40001, 42001, 40014:
		return TokenInvalid
	case 45009, 45047, 45011, 45015:
		return RateLimited
	case -1:
		return Transient
	case 43004, 43101, 40003, 43019, 40226:
		return UserPermanent
	case 47003, 40037, 40029, 40163, 47001, 44002, 40036, 40008, 41028, 41029, 41030, 40165:
		return BadRequest
	case 40013, 40125, 40164, 48001, 41002, 41004, 40002, 61024:
		return Misconfigured
	}
	return Other
}

// Error is a failed WeChat call. Code is WeChat's errcode (0 when the failure happened before
// WeChat answered: network, timeout, HTTP status), Msg its errmsg or a description of the
// failure, API the operation (e.g. "template_send"). Error text never holds a secret, access
// token or login code: they are redacted.
type Error struct {
	Code int64
	Msg  string
	API  string

	kind  Kind  // used when Code is 0
	cause error // a redacted cause for errors.Is/As (context errors, *url.Error), may be nil
}

// Error implements error as "wechat template_send: errcode=43004 errmsg=…".
func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("wechat %s: errcode=%d errmsg=%s", e.API, e.Code, e.Msg)
	}
	return fmt.Sprintf("wechat %s: %s", e.API, e.Msg)
}

// Unwrap returns the redacted cause, so errors.Is(err, context.DeadlineExceeded) works.
func (e *Error) Unwrap() error { return e.cause }

// Kind classifies the failure.
func (e *Error) Kind() Kind {
	if e.Code != 0 {
		return kindOfCode(e.Code)
	}
	return e.kind
}

var (
	reErrCode    = regexp.MustCompile(`errcode=(-?\d+)`)
	reErrMsg     = regexp.MustCompile(`(?:errmsg|errormsg)=(.*)$`)
	reStatusCode = regexp.MustCompile(`statusCode=(\d+)`)
	reSecret     = regexp.MustCompile(`(?i)(\b(?:secret|appsecret|access_token|js_code|code|session_key)(?:"\s*:\s*"|=))[^&\s"',}]*`)
)

// Redact replaces the values of secret=, access_token=, js_code=, code= and session_key= (and
// their JSON forms) in s with REDACTED. Every error this package returns is already redacted;
// use Redact on any other text that may hold a WeChat URL.
func Redact(s string) string {
	return reSecret.ReplaceAllString(s, "${1}REDACTED")
}

// Classify returns the Kind of any error a WeChat call produced, whatever its form: *Error,
// the library's *util.CommonError, its plain "errcode=N" error strings, HTTP status errors,
// *url.Error, net.Error timeouts and context errors. Classify(nil) is Other.
func Classify(err error) Kind {
	if err == nil {
		return Other
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind()
	}
	return toError("", err).Kind()
}

// Code returns the WeChat errcode carried by err in any of its forms, and whether there was one.
func Code(err error) (int64, bool) {
	if err == nil {
		return 0, false
	}
	var e *Error
	if !errors.As(err, &e) {
		e = toError("", err)
	}
	return e.Code, e.Code != 0
}

// toError converts any error from the library, net/http or our own decoding into a redacted
// *Error for api.
func toError(api string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ce *util.CommonError
	if errors.As(err, &ce) {
		return &Error{Code: ce.ErrCode, Msg: Redact(ce.ErrMsg), API: api}
	}
	text := err.Error()
	out := &Error{API: api, Msg: Redact(text)}

	var ue *url.Error
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		out.kind = Transient
		out.cause = redactedCause(err)
		return out
	case errors.As(err, &ue):
		out.kind = Transient
		out.cause = redactedCause(err)
		return out
	case errors.As(err, &ne):
		out.kind = Transient
		return out
	}
	if m := reErrCode.FindStringSubmatch(text); m != nil {
		if n, perr := strconv.ParseInt(m[1], 10, 64); perr == nil && n != 0 {
			out.Code = n
			if mm := reErrMsg.FindStringSubmatch(text); mm != nil {
				out.Msg = Redact(strings.TrimSpace(mm[1]))
			}
			return out
		}
	}
	if m := reStatusCode.FindStringSubmatch(text); m != nil {
		status, _ := strconv.Atoi(m[1])
		if status >= 500 || status == 429 {
			out.kind = Transient
		}
		return out
	}
	return out
}

// redactedCause keeps what errors.Is/As callers need (context errors, *url.Error with its
// timeout flag) without the URL's secrets.
func redactedCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: Redact(ue.URL), Err: redactedInner(ue.Err)}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return context.Canceled
	}
	return nil
}

// redactedInner keeps an inner transport error when its text holds nothing secret (net.OpError
// and friends name hosts and ports, not URLs), otherwise it reduces it to its text, redacted.
func redactedInner(err error) error {
	if err == nil {
		return nil
	}
	if Redact(err.Error()) == err.Error() {
		return err
	}
	return &redactedError{msg: Redact(err.Error()), timeout: isTimeout(err)}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// redactedError stands in for an error whose text had to be redacted.
type redactedError struct {
	msg     string
	timeout bool
}

func (r *redactedError) Error() string   { return r.msg }
func (r *redactedError) Timeout() bool   { return r.timeout }
func (r *redactedError) Temporary() bool { return r.timeout }
