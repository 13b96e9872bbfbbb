package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
)

// Retry puts a failed notice back in the queue on the same channel, due at once, with its
// attempt counts reset, and writes an audit row for actor. It returns Forbidden unless actor
// may RetryNotice, a NotFound error for an unknown id and a Conflict error when the notice has
// not failed.
func (d *Dispatcher) Retry(ctx context.Context, id uint64, actor model.Actor) error {
	if err := audit.Need(actor, model.ActRetryNotice); err != nil {
		return err
	}
	now := d.now()
	return d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n model.Notification
		if err := tx.Select("id", "status", "member_id", "channel").First(&n, id).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return errs.NotFound("notice.not_found", "找不到这条通知")
			}
			return fmt.Errorf("retry notice %d: %w", id, err)
		}
		if !n.Status.CanTransitionTo(model.NoticePending) {
			return errs.New(errs.KindConflict, "notice.not_failed",
				fmt.Sprintf("这条通知的状态是“%s”，只有发送失败的通知可以重发", n.Status.Label()))
		}
		res := tx.Model(&model.Notification{}).Where("id = ? AND status = ?", id, model.NoticeFailed).
			Updates(requeue(now))
		if res.Error != nil {
			return fmt.Errorf("retry notice %d: %w", id, res.Error)
		}
		e := audit.By(actor)
		e.Action, e.Target, e.Detail = "notice.retry", fmt.Sprintf("notice:%d", id), map[string]any{"channel": n.Channel, "member_id": n.MemberID}
		return audit.Write(ctx, tx, now, e)
	})
}

// RetryAllFailed puts every failed notice back in the queue, like Retry, and returns how many.
func (d *Dispatcher) RetryAllFailed(ctx context.Context, actor model.Actor) (int64, error) {
	if err := audit.Need(actor, model.ActRetryNotice); err != nil {
		return 0, err
	}
	now := d.now()
	var n int64
	err := d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&model.Notification{}).Where("status = ?", model.NoticeFailed).Updates(requeue(now))
		if res.Error != nil {
			return fmt.Errorf("retry failed notices: %w", res.Error)
		}
		n = res.RowsAffected
		if n == 0 {
			return nil
		}
		e := audit.By(actor)
		e.Action, e.Target, e.Detail = "notice.retry_all", "notices:failed", map[string]any{"count": n}
		return audit.Write(ctx, tx, now, e)
	})
	return n, err
}

func requeue(now time.Time) map[string]any {
	return map[string]any{"status": model.NoticePending, "attempts": 0, "ambiguous": 0, "unsure_since": nil, "next_attempt_at": now,
		"lease_owner": "", "lease_until": nil, "updated_at": now}
}

// Count is the number of notices with one status on one channel.
type Count struct {
	Status  model.NoticeStatus
	Channel model.Channel
	N       int64
}

// Stats counts the outbox by status and channel, for `huzhu notify status` and the console.
func (d *Dispatcher) Stats(ctx context.Context) ([]Count, error) {
	var out []Count
	err := d.db.WithContext(ctx).Model(&model.Notification{}).
		Select("status, channel, COUNT(*) AS n").Group("status, channel").Order("status, channel").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("count notices: %w", err)
	}
	return out, nil
}

// Failed lists up to limit failed notices, newest first, for staff to look at and retry.
func (d *Dispatcher) Failed(ctx context.Context, limit int) ([]model.Notification, error) {
	var out []model.Notification
	err := d.db.WithContext(ctx).Where("status = ?", model.NoticeFailed).Order("updated_at DESC, id DESC").
		Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list failed notices: %w", err)
	}
	return out, nil
}

// Reach counts the bound workers each channel can reach now: Bound workers in all; Template,
// those who follow the official account (their openid linked to the binding); Subscribe, those
// who accepted at least one mini-program template; SMS, those with a roster phone who did not opt
// out; None, those no channel reaches. A worker may count on several channels.
type Reach struct {
	Bound, Template, Subscribe, SMS, None int64
}

// Reach counts the reach of each channel over every bound worker, for the console.
func (d *Dispatcher) Reach(ctx context.Context) (Reach, error) {
	var r Reach
	err := d.db.WithContext(ctx).Table("we_chat_accounts AS a").
		Joins("JOIN members AS m ON m.id = a.member_id").
		Select(`COUNT(*) AS bound,
			COALESCE(SUM(CASE WHEN a.following AND a.oa_open_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS template,
			COALESCE(SUM(CASE WHEN a.mp_open_id IS NOT NULL AND a.subscriptions <> '' THEN 1 ELSE 0 END), 0) AS subscribe,
			COALESCE(SUM(CASE WHEN NOT a.sms_opt_out AND m.phone_hash <> '' THEN 1 ELSE 0 END), 0) AS sms,
			COALESCE(SUM(CASE WHEN NOT (a.following AND a.oa_open_id IS NOT NULL)
				AND NOT (a.mp_open_id IS NOT NULL AND a.subscriptions <> '')
				AND NOT (NOT a.sms_opt_out AND m.phone_hash <> '') THEN 1 ELSE 0 END), 0) AS none`).
		Where("a.member_id IS NOT NULL").Scan(&r).Error
	if err != nil {
		return Reach{}, fmt.Errorf("count notice reach: %w", err)
	}
	return r, nil
}
