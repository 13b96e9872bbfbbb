package notify

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"huzhu/model"
)

// Template receipt statuses (TEMPLATESENDJOBFINISH's Status).
const (
	receiptSuccess = "success"
)

// TemplateFinished applies WeChat's delivery receipt of a template message (the
// TEMPLATESENDJOBFINISH push: the follower's openid, the msgid template/send returned, and
// Status "success", "failed:user block" or "failed: system failed").
//
//   - The row is found by its msgid. "success" confirms it; a failure moves it from sent to
//     failed (visible to staff, with WeChat's status) and queues the notice on the next channel,
//     since the worker did not get it.
//   - A send whose answer was lost has no msgid: a "success" receipt with an unknown msgid is
//     matched to the follower's one template row that ended as failed with an unknown outcome
//     (the rule past WeChat's window), and marks it sent, so it leaves the staff's failed list.
//     Rows still being retried are left alone: their resend inside the window is harmless, and
//     a receipt of another template message to the same follower (another system using the
//     account) must not silence them. With several such rows the receipt is ignored.
//
// Unknown msgids and openids are ignored, since WeChat pushes receipts for every template
// message of the account.
func (d *Dispatcher) TemplateFinished(ctx context.Context, openID string, msgID int64, status string) error {
	if msgID == 0 {
		return nil
	}
	ref := strconv.FormatInt(msgID, 10)
	ok := strings.EqualFold(strings.TrimSpace(status), receiptSuccess)
	now := d.now()
	return d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n model.Notification
		err := tx.Where("channel = ? AND provider_ref = ?", model.ChannelTemplate, ref).Take(&n).Error
		switch {
		case err == nil:
			if ok || n.Status != model.NoticeSent {
				return nil
			}
			why := truncate("微信回执发送失败（"+status+"），改用下一渠道", 500)
			if err := tx.Model(&model.Notification{}).Where("id = ? AND status = ?", n.ID, model.NoticeSent).
				Updates(map[string]any{"status": model.NoticeFailed, "last_error": why, "updated_at": now}).Error; err != nil {
				return fmt.Errorf("template receipt %d: %w", msgID, err)
			}
			d.m.failed.WithLabelValues(string(n.Channel)).Inc()
			next := model.Notification{
				DedupKey: siblingBase(&n) + ":" + string(channelOrder[1]), MemberID: n.MemberID, Kind: n.Kind,
				Channel: channelOrder[1], Urgent: n.Urgent, Payload: n.Payload, Status: model.NoticePending,
				NextAttemptAt: now,
			}
			if !n.Urgent {
				next.NextAttemptAt = d.o.Quiet.Defer(now)
			}
			return insertIgnore(tx, &next)
		case err != gorm.ErrRecordNotFound:
			return fmt.Errorf("template receipt %d: %w", msgID, err)
		}
		if !ok {
			return nil
		}
		var cands []model.Notification
		if err := tx.Table("notifications AS n").Select("n.id").
			Joins("JOIN we_chat_accounts AS a ON a.member_id = n.member_id").
			Where("a.oa_open_id = ? AND n.channel = ? AND n.ambiguous > 0 AND n.unsure_since IS NOT NULL AND n.provider_ref = '' AND n.status = ?",
				openID, model.ChannelTemplate, model.NoticeFailed).
			Limit(2).Find(&cands).Error; err != nil {
			return fmt.Errorf("template receipt %d: %w", msgID, err)
		}
		if len(cands) != 1 {
			return nil
		}
		res := tx.Model(&model.Notification{}).Where("id = ? AND status = ?", cands[0].ID, model.NoticeFailed).
			Updates(map[string]any{"status": model.NoticeSent, "provider_ref": ref, "sent_at": now,
				"last_error": "微信回执确认已送达", "lease_owner": "", "lease_until": nil, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("template receipt %d: %w", msgID, res.Error)
		}
		if res.RowsAffected > 0 {
			d.m.sent.WithLabelValues(string(model.ChannelTemplate)).Inc()
		}
		return nil
	})
}
