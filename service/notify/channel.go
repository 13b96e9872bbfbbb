package notify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/kv"
)

// channelOrder is the order of preference: the official account reaches a follower at once and
// for free; the subscribe message needs a one-time acceptance; SMS costs money and is last.
var channelOrder = [...]model.Channel{model.ChannelTemplate, model.ChannelSubscribe, model.ChannelSMS}

// usable reports whether the worker can receive kind on ch now, and if not, why (in Chinese, for
// the row's last_error).
func (d *Dispatcher) usable(ch model.Channel, k model.NoticeKind, a *model.WeChatAccount, phone []byte) (bool, string) {
	switch ch {
	case model.ChannelTemplate:
		switch {
		case d.s.Template == nil || d.o.Templates.oa(k) == "":
			return false, "公众号模板消息未配置"
		case a == nil || !a.Following || a.OAOpenID == nil || *a.OAOpenID == "":
			return false, "未关注公众号"
		}
		return true, ""
	case model.ChannelSubscribe:
		tid := d.o.Templates.mp(k)
		switch {
		case d.s.Subscribe == nil || tid == "":
			return false, "小程序订阅消息未配置"
		case a == nil || a.MPOpenID == nil || *a.MPOpenID == "" || !hasSubscription(a.Subscriptions, tid):
			return false, "未订阅小程序消息"
		}
		return true, ""
	case model.ChannelSMS:
		switch {
		case d.s.SMS == nil || d.s.Phones == nil:
			return false, "短信未配置"
		case a != nil && a.SMSOptOut:
			return false, "已退订短信"
		case len(phone) == 0:
			return false, "无手机号"
		}
		return true, ""
	}
	return false, fmt.Sprintf("未知渠道 %q", ch)
}

func hasSubscription(list, id string) bool {
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == id {
			return true
		}
	}
	return false
}

// consume removes the template of a sent subscribe message from the worker's acceptances: WeChat
// lets one acceptance carry one message (一次性订阅消息: "订阅一次可下发一次"), so the next notice
// goes another way until the worker accepts again in the mini-program. Other channels consume
// nothing.
func (d *Dispatcher) consume(tx *gorm.DB, n *model.Notification, a *model.WeChatAccount) error {
	if n.Channel != model.ChannelSubscribe || a == nil {
		return nil
	}
	tid := d.o.Templates.mp(n.Kind)
	var cur model.WeChatAccount
	if err := tx.Select("id", "subscriptions").Take(&cur, a.ID).Error; err != nil {
		return fmt.Errorf("load subscriptions of account %d: %w", a.ID, err)
	}
	var keep []string
	for _, s := range strings.Split(cur.Subscriptions, ",") {
		if s = strings.TrimSpace(s); s != "" && s != tid {
			keep = append(keep, s)
		}
	}
	if err := tx.Model(&model.WeChatAccount{}).Where("id = ?", a.ID).
		Update("subscriptions", strings.Join(keep, ",")).Error; err != nil {
		return fmt.Errorf("use subscription of account %d: %w", a.ID, err)
	}
	return nil
}

// nextChannel returns the first usable channel after ch, or "" and why each was unusable.
func (d *Dispatcher) nextChannel(ch model.Channel, k model.NoticeKind, a *model.WeChatAccount, phone []byte) (model.Channel, []string) {
	after := false
	var why []string
	for _, c := range channelOrder {
		if c == ch {
			after = true
			continue
		}
		if !after {
			continue
		}
		ok, reason := d.usable(c, k, a, phone)
		if ok {
			return c, nil
		}
		why = append(why, reason)
	}
	return "", why
}

// send delivers the rendered notice on the row's channel and returns the provider's message id
// when there is one.
func (d *Dispatcher) send(ctx context.Context, n *model.Notification, p Payload, c content, a *model.WeChatAccount,
	phone []byte) (string, error) {
	switch n.Channel {
	case model.ChannelTemplate:
		id, err := d.s.Template.SendTemplate(ctx, TemplateMessage{
			ToUser: *a.OAOpenID, TemplateID: d.o.Templates.oa(n.Kind), MiniProgramPage: d.page(p),
			Data: d.fields(c), ClientMsgID: n.DedupKey,
		})
		if err != nil || id == 0 {
			return "", err
		}
		return strconv.FormatInt(id, 10), nil
	case model.ChannelSubscribe:
		return "", d.s.Subscribe.SendSubscribe(ctx, SubscribeMessage{
			ToUser: *a.MPOpenID, TemplateID: d.o.Templates.mp(n.Kind), Page: d.page(p), Data: d.fields(c),
		})
	case model.ChannelSMS:
		num, err := d.s.Phones.Decrypt(phone)
		if err != nil {
			return "", &SendError{Kind: FailUser, Message: "手机号无法解密"}
		}
		return "", d.s.SMS.Send(ctx, num, c.sms)
	}
	return "", &SendError{Kind: FailBadRequest, Message: "unknown channel " + string(n.Channel)}
}

// page is the mini-program page the notice opens: the payout detail.
func (d *Dispatcher) page(p Payload) string {
	switch {
	case p.TransferID != 0:
		return fmt.Sprintf("%s?transfer_id=%d", d.o.DetailPage, p.TransferID)
	case p.RunID != 0:
		return fmt.Sprintf("%s?run_id=%d", d.o.DetailPage, p.RunID)
	}
	return d.o.DetailPage
}

// fields maps the logical fields to the templates' WeChat keys.
func (d *Dispatcher) fields(c content) map[string]string {
	out := make(map[string]string, len(c.data))
	for k, v := range c.data {
		key := d.o.Keys[k]
		if key == "" {
			key = defaultKeys[k]
		}
		out[key] = v
	}
	return out
}

// waitRate blocks until the shared per-second budget has room for one more send. When the store
// fails it lets the send through: a brief overshoot is better than stopping all notices.
func (d *Dispatcher) waitRate(ctx context.Context) error {
	limit := int64(d.o.RatePerSecond)
	if limit <= 0 {
		return nil
	}
	for {
		now := d.now()
		ok, _, err := kv.Allow(ctx, d.o.KV, "notify:send:"+strconv.FormatInt(now.Unix(), 10), limit, 2*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			d.log.Warn("notice rate limit unavailable; sending anyway", "err", err)
			return nil
		}
		if ok {
			return nil
		}
		wait := now.Truncate(time.Second).Add(time.Second).Sub(now)
		if wait <= 0 {
			wait = 10 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
