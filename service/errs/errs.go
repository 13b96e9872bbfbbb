// Package errs is huzhu's one error type. Services return *Error for everything a caller or user
// can act on; handler/ maps Kind to an HTTP status and writes Code, Message, Field and Fix. Any
// other error is internal: it is logged and the user sees only "系统繁忙，请稍后再试".
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Kind says what went wrong, in terms of what the caller can do about it.
type Kind int

// Kinds of error.
const (
	KindInternal Kind = iota
	KindInvalid
	KindNotFound
	KindConflict
	KindUnauthenticated
	KindForbidden
	KindTooMany
	KindUnavailable
)

// Error is an error a user can understand. Code is stable and machine-readable
// ("binding.card_mismatch"); Message is plain Chinese; Field names the input at fault; Fix says
// how to put it right.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Field   string
	Fix     string
	Err     error // cause, for logs only; never shown
	// RetryAfter tells a rate-limited caller (KindTooMany) or one refused while a dependency is
	// down (KindUnavailable) when to try again; handler sends it as Retry-After.
	RetryAfter time.Duration
}

// WithFix returns e with the fix set.
func (e *Error) WithFix(fix string) *Error {
	e.Fix = fix
	return e
}

// TooMany is the error of a rate limit, with when to retry.
func TooMany(code, message string, retryAfter time.Duration) *Error {
	return &Error{Kind: KindTooMany, Code: code, Message: message, RetryAfter: retryAfter}
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Field != "" {
		s = e.Code + " (" + e.Field + "): " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Code: c}) match on Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code != "" && t.Code == e.Code
}

// Unavailable is the error of a missing dependency (the kv store, WeChat, SMS): the request was
// fine and may succeed after retryAfter. It is a 503 with Retry-After, never a 500.
func Unavailable(code, message string, retryAfter time.Duration, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: code, Message: message, RetryAfter: retryAfter, Err: cause}
}

// Invalid reports bad input in field, with a fix.
func Invalid(field, message, fix string) *Error {
	return &Error{Kind: KindInvalid, Code: "invalid." + field, Field: field, Message: message, Fix: fix}
}

// New builds an error of kind with a stable code and a Chinese message.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Wrap is New with a cause kept for the logs.
func Wrap(kind Kind, code, message string, cause error) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Err: cause}
}

// NotFound is the error for something that does not exist or is not the caller's: the two are
// never told apart.
func NotFound(code, message string) *Error { return New(KindNotFound, code, message) }

// KindOf returns the Kind of err, KindInternal for errors that are not *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Invalidf is Invalid with a formatted message.
func Invalidf(field, fix, format string, args ...any) *Error {
	return Invalid(field, fmt.Sprintf(format, args...), fix)
}
