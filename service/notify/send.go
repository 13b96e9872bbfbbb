package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// TemplateMessage is an official-account template message. ClientMsgID is WeChat's
// de-duplication id; the dispatcher sets it to the row's DedupKey.
type TemplateMessage struct {
	ToUser          string // official-account openid
	TemplateID      string
	URL             string
	MiniProgramPage string // page of our mini-program the message opens
	Data            map[string]string
	ClientMsgID     string
}

// SubscribeMessage is a mini-program subscribe message.
type SubscribeMessage struct {
	ToUser     string // mini-program openid
	TemplateID string
	Page       string
	Data       map[string]string
}

// TemplateSender sends official-account template messages and returns WeChat's msgid.
type TemplateSender interface {
	SendTemplate(ctx context.Context, m TemplateMessage) (int64, error)
}

// SubscribeSender sends mini-program subscribe messages.
type SubscribeSender interface {
	SendSubscribe(ctx context.Context, m SubscribeMessage) error
}

// SMSSender sends one text message to one phone number.
type SMSSender interface {
	Send(ctx context.Context, phone, text string) error
}

// Decrypter opens a member's encrypted phone number; *pii.Cipher is one.
type Decrypter interface {
	Decrypt(sealed []byte) (string, error)
}

// Senders are the channels a Dispatcher may use. A nil sender means the channel is not
// configured and is skipped. Phones decrypts the phone number just before an SMS is sent.
type Senders struct {
	Template  TemplateSender
	Subscribe SubscribeSender
	SMS       SMSSender
	Phones    Decrypter
}

// FailKind says what a failed send means for the notice.
type FailKind int

// Kinds of send failure.
const (
	// FailTransient: nothing was sent (busy, rate limit, quota, refused connection); retry later.
	FailTransient FailKind = iota
	// FailAmbiguous: the request may have reached the provider (timeout, connection broken after
	// sending); the message may or may not have been delivered.
	FailAmbiguous
	// FailUser: permanent for this person on this channel (not following, refused the
	// subscription, bad openid or phone); try the next channel.
	FailUser
	// FailBadRequest: our message or configuration is wrong (bad data 47003, bad template id);
	// retrying cannot help until staff fix it.
	FailBadRequest
)

// String names the kind for logs and metrics.
func (k FailKind) String() string {
	switch k {
	case FailTransient:
		return "transient"
	case FailAmbiguous:
		return "ambiguous"
	case FailUser:
		return "user"
	case FailBadRequest:
		return "bad_request"
	}
	return fmt.Sprintf("FailKind(%d)", int(k))
}

// SendError is a classified send failure. Senders (and adapters over them) return it so the
// dispatcher knows whether to retry, fall back, or give up. Code is the provider's error code
// (WeChat errcode, HTTP status) for the row's last_error; RetryAfter, when set, is the earliest
// sensible retry.
type SendError struct {
	Kind       FailKind
	Code       int64
	Message    string
	RetryAfter time.Duration
	Err        error
}

// Error describes the failure with its kind and code; it holds no credentials when senders redact theirs.
func (e *SendError) Error() string {
	s := fmt.Sprintf("%s failure", e.Kind)
	if e.Code != 0 {
		s += fmt.Sprintf(" (code %d)", e.Code)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *SendError) Unwrap() error { return e.Err }

// classify maps any error from a sender to a SendError. Errors that are not SendErrors are
// judged by their type: a deadline or a network error after the request may have gone out is
// ambiguous; anything else unknown is treated as transient.
func classify(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &SendError{Kind: FailAmbiguous, Message: "timeout or cancelled while sending", Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return &SendError{Kind: FailTransient, Message: "connect failed", Err: err}
		}
		return &SendError{Kind: FailAmbiguous, Message: "network error", Err: err}
	}
	return &SendError{Kind: FailTransient, Err: err}
}
