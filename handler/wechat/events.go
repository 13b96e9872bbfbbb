package wechat

import (
	"context"
	"strings"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"
)

// Followers keeps the links between official-account followers and workers;
// *member.Followers satisfies it.
type Followers interface {
	// Subscribed runs on a subscribe push, which carries the openid only.
	Subscribed(ctx context.Context, openID string) error
	// Seen runs on any other message, to link an openid that is not linked yet.
	Seen(ctx context.Context, openID string) error
}

// Receipts takes the delivery receipt of a template message; *notify.Dispatcher satisfies it.
type Receipts interface {
	TemplateFinished(ctx context.Context, openID string, msgID int64, status string) error
}

// linkTimeout bounds the follower lookup inside WeChat's 5 seconds, leaving the bot time to
// answer; a lookup that does not finish is made again on the follower's next message.
const linkTimeout = 2 * time.Second

// event does the bookkeeping of a push before the bot answers it, and reports whether the bot
// should see it: template receipts are for the notice dispatcher only. Failures are logged, never
// answered: the worker's reply must not depend on them.
func (h *Handler) event(ctx context.Context, m *message.MixMessage) bool {
	openID := string(m.FromUserName)
	if m.MsgType == message.MsgTypeEvent {
		switch strings.ToUpper(string(m.Event)) {
		case "TEMPLATESENDJOBFINISH":
			if h.opts.Receipts != nil {
				if err := h.opts.Receipts.TemplateFinished(ctx, openID, m.TemplateMsgID, m.Status); err != nil {
					h.log.Error("wechat callback: template receipt", "msg_id", m.TemplateMsgID, "err", err)
				}
			}
			return false
		case "SUBSCRIBE":
			if h.opts.Followers != nil {
				lctx, cancel := context.WithTimeout(ctx, linkTimeout)
				defer cancel()
				if err := h.opts.Followers.Subscribed(lctx, openID); err != nil {
					h.log.Warn("wechat callback: link follower", "err", err)
				}
			}
			return true
		case "UNSUBSCRIBE":
			return true // the bot marks the account unfollowed, which stops template messages
		}
	}
	if h.opts.Followers != nil && openID != "" {
		lctx, cancel := context.WithTimeout(ctx, linkTimeout)
		defer cancel()
		if err := h.opts.Followers.Seen(lctx, openID); err != nil {
			h.log.Warn("wechat callback: link follower", "err", err)
		}
	}
	return true
}
