package notify

import (
	"context"
	"errors"
	"time"

	"huzhu/service/wechat"
)

// WeChat adapts *wechat.Client to TemplateSender and SubscribeSender, turning its typed errors
// into SendErrors. The client already refreshes an invalid token and retries once.
type WeChat struct {
	c *wechat.Client
}

// NewWeChat wraps c.
func NewWeChat(c *wechat.Client) *WeChat { return &WeChat{c: c} }

// SendTemplate sends an official-account template message.
func (w *WeChat) SendTemplate(ctx context.Context, m TemplateMessage) (int64, error) {
	id, err := w.c.SendTemplate(ctx, wechat.TemplateMessage{ToUser: m.ToUser, TemplateID: m.TemplateID, URL: m.URL,
		MiniProgramPage: m.MiniProgramPage, Data: m.Data, ClientMsgID: m.ClientMsgID})
	if err != nil {
		return 0, wechatError(err)
	}
	return id, nil
}

// SendSubscribe sends a mini-program subscribe message.
func (w *WeChat) SendSubscribe(ctx context.Context, m SubscribeMessage) error {
	if err := w.c.SendSubscribe(ctx, wechat.SubscribeMessage{ToUser: m.ToUser, TemplateID: m.TemplateID,
		Page: m.Page, Data: m.Data}); err != nil {
		return wechatError(err)
	}
	return nil
}

// wechatError classifies a WeChat failure for the dispatcher:
//   - user-side permanent (43004, 43101, 40003…) → FailUser: the next channel;
//   - bad data or template (47003, 40037…) → FailBadRequest: failed, for staff;
//   - an errcode WeChat answered with (busy -1, quota 45009, token still invalid after the
//     client's refresh, an unknown code) or an HTTP error status → FailTransient: nothing was
//     sent, retry with backoff (45009 is a daily quota: an hour at least);
//   - a misconfigured account (bad secret, IP not whitelisted) → FailTransient with a long
//     delay, so notices resume by themselves once an operator fixes it;
//   - a transport failure after the request may have left (timeout, broken connection) →
//     FailAmbiguous; a refused connection → FailTransient.
func wechatError(err error) error {
	code, answered := wechat.Code(err)
	kind := wechat.Classify(err)
	se := &SendError{Code: code, Message: wechat.Redact(err.Error()), Err: err}
	switch {
	case errors.Is(err, wechat.ErrNotConfigured):
		se.Kind = FailBadRequest
	case kind == wechat.UserPermanent:
		se.Kind = FailUser
	case kind == wechat.BadRequest:
		se.Kind = FailBadRequest
	case kind == wechat.Misconfigured:
		se.Kind, se.RetryAfter = FailTransient, 10*time.Minute
	case kind == wechat.RateLimited:
		se.Kind = FailTransient
		if code == 45009 {
			se.RetryAfter = time.Hour
		} else {
			se.RetryAfter = time.Minute
		}
	case answered:
		se.Kind = FailTransient
	default:
		se.Kind = classify(errors.Unwrap(err)).Kind
		if errors.Unwrap(err) == nil {
			se.Kind = FailTransient // an HTTP status from WeChat or a proxy: answered, not sent
		}
	}
	return se
}
