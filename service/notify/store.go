package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"huzhu/model"
	"huzhu/service/store"
)

// errLeaseLost means another dispatcher reclaimed the row before this one recorded its outcome.
var errLeaseLost = errors.New("notice lease lost")

// reSecret matches credentials that WeChat URLs carry in errors from the library.
var reSecret = regexp.MustCompile(`(access_token|secret|appsecret)=[^&\s"]*`)

// claim leases up to n due rows to token and returns them as leased. Expired leases (a
// dispatcher died or hung mid-send) are reclaimed first; their ambiguous count goes up by one,
// since the dead dispatcher may have sent. During quiet hours only urgent rows are claimed.
func (d *Dispatcher) claim(ctx context.Context, token string, now time.Time, n int, quiet bool) ([]model.Notification, error) {
	mysql := store.IsMySQL(d.db)
	var opts []*sql.TxOptions
	if mysql {
		// Read committed: the locking read takes no gap locks, so claims and inserts do not block.
		opts = append(opts, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	}
	var rows []model.Notification
	err := d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		pick := func(q *gorm.DB, limit int, quiet bool) ([]uint64, error) {
			if quiet {
				q = q.Where("urgent = ?", true)
			}
			q = q.Limit(limit)
			if mysql {
				q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
			}
			var ids []uint64
			return ids, q.Pluck("id", &ids).Error
		}
		// Expired leases come first, then retries of unknown outcomes (they must go out inside
		// WeChat's de-duplication window, and during quiet hours too), then the due backlog.
		var expired []struct {
			ID         uint64
			LeaseUntil time.Time
		}
		q := tx.Model(&model.Notification{}).Select("id", "lease_until").
			Where("status = ? AND lease_until < ?", model.NoticeSending, now).Limit(n)
		if mysql {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		if err := q.Scan(&expired).Error; err != nil {
			return fmt.Errorf("find expired leases: %w", err)
		}
		ids := make([]uint64, 0, n)
		for _, e := range expired {
			ids = append(ids, e.ID)
		}
		if len(ids) < n {
			unsure, err := pick(tx.Model(&model.Notification{}).
				Where("status = ? AND ambiguous > 0 AND next_attempt_at <= ?", model.NoticePending, now).
				Order("next_attempt_at"), n-len(ids), false)
			if err != nil {
				return fmt.Errorf("find unsure notices: %w", err)
			}
			ids = append(ids, unsure...)
		}
		if len(ids) < n {
			due, err := pick(tx.Model(&model.Notification{}).
				Where("status = ? AND ambiguous = 0 AND next_attempt_at <= ?", model.NoticePending, now).
				Order("next_attempt_at"), n-len(ids), quiet)
			if err != nil {
				return fmt.Errorf("find due notices: %w", err)
			}
			ids = append(ids, due...)
		}
		if len(ids) == 0 {
			return nil
		}
		// The ambiguous assignment comes first: MySQL evaluates SET left to right with the new
		// values, SQLite with the old ones; first, both see the old status.
		res := tx.Exec(`UPDATE notifications SET
			ambiguous = ambiguous + CASE WHEN status = ? THEN 1 ELSE 0 END,
			status = ?, lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
			WHERE id IN ? AND ((status = ? AND next_attempt_at <= ?) OR (status = ? AND lease_until < ?))`,
			model.NoticeSending,
			model.NoticeSending, token, now.Add(d.o.Lease), now,
			ids, model.NoticePending, now, model.NoticeSending, now)
		if res.Error != nil {
			return fmt.Errorf("lease notices: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil // others took them all between our read and our update (no SKIP LOCKED)
		}
		// A reclaimed row may have been sent by the dispatcher that held it, as early as when it
		// claimed the row (lease_until − Lease: every dispatcher uses the same lease).
		for _, e := range expired {
			if err := tx.Model(&model.Notification{}).
				Where("id = ? AND lease_owner = ? AND unsure_since IS NULL", e.ID, token).
				Update("unsure_since", e.LeaseUntil.Add(-d.o.Lease)).Error; err != nil {
				return fmt.Errorf("mark reclaimed notice %d unsure: %w", e.ID, err)
			}
		}
		return tx.Where("id IN ? AND lease_owner = ? AND status = ?", ids, token, model.NoticeSending).
			Order("id").Find(&rows).Error
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("claim notices: %w", err)
	}
	return rows, nil
}

// deferQuiet moves due non-urgent rows to the end of quiet hours, at most once a minute per
// dispatcher, so that the claim query does not wade through them all night.
func (d *Dispatcher) deferQuiet(ctx context.Context, now, end time.Time) error {
	d.mu.Lock()
	if now.Sub(d.quietAt) < time.Minute && !d.quietAt.After(now) {
		d.mu.Unlock()
		return nil
	}
	d.quietAt = now
	d.mu.Unlock()
	err := d.db.WithContext(ctx).Model(&model.Notification{}).
		Where("status = ? AND urgent = ? AND ambiguous = 0 AND next_attempt_at < ?", model.NoticePending, false, end).
		Updates(map[string]any{"next_attempt_at": end, "updated_at": now}).Error
	if err != nil {
		return fmt.Errorf("defer notices to the end of quiet hours: %w", err)
	}
	return nil
}

// batch is what the rows of one claim need from other tables, read once per claim.
type batch struct {
	accounts  map[uint64]*model.WeChatAccount
	phones    map[uint64][]byte
	delivered map[string]model.Channel // sibling base → channel it was sent on
}

func (d *Dispatcher) prepare(ctx context.Context, rows []model.Notification) (*batch, error) {
	b := &batch{accounts: map[uint64]*model.WeChatAccount{}, phones: map[uint64][]byte{}, delivered: map[string]model.Channel{}}
	ids := make([]uint64, 0, len(rows))
	var keys []string
	for _, r := range rows {
		ids = append(ids, r.MemberID)
		for _, c := range channelOrder {
			if c != r.Channel {
				keys = append(keys, siblingBase(&r)+":"+string(c))
			}
		}
	}
	db := d.db.WithContext(ctx)
	var accts []model.WeChatAccount
	if err := db.Where("member_id IN ?", ids).Find(&accts).Error; err != nil {
		return nil, fmt.Errorf("load WeChat accounts: %w", err)
	}
	for i := range accts {
		b.accounts[*accts[i].MemberID] = &accts[i]
	}
	if d.s.SMS != nil {
		var ms []model.Member
		if err := db.Select("id", "phone_enc").Where("id IN ?", ids).Find(&ms).Error; err != nil {
			return nil, fmt.Errorf("load phone numbers: %w", err)
		}
		for _, m := range ms {
			if len(m.PhoneEnc) > 0 {
				b.phones[m.ID] = m.PhoneEnc
			}
		}
	}
	// A notice already delivered on another channel is not sent again (only Enqueue's single row
	// and our own fallbacks should exist, but callers writing rows by hand might add more).
	var sent []model.Notification
	if err := db.Select("dedup_key", "channel").Where("dedup_key IN ? AND status = ?", keys, model.NoticeSent).
		Find(&sent).Error; err != nil {
		return nil, fmt.Errorf("load delivered siblings: %w", err)
	}
	for _, s := range sent {
		b.delivered[strings.TrimSuffix(s.DedupKey, ":"+string(s.Channel))] = s.Channel
	}
	return b, nil
}

// siblingBase is the DedupKey without its channel: "<subject>:<kind>".
func siblingBase(n *model.Notification) string {
	return strings.TrimSuffix(n.DedupKey, ":"+string(n.Channel))
}

func checkOwned(res *gorm.DB) error {
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return errLeaseLost
	}
	return nil
}

func markSent(tx *gorm.DB, token string, id uint64, at time.Time, ref string) error {
	return checkOwned(tx.Model(&model.Notification{}).
		Where("id = ? AND lease_owner = ? AND status = ?", id, token, model.NoticeSending).
		Updates(map[string]any{"status": model.NoticeSent, "sent_at": at, "provider_ref": ref, "last_error": "",
			"lease_owner": "", "lease_until": nil, "updated_at": at}))
}

type sentRef struct {
	id  uint64
	ref string
}

// markSentBulk records a batch of accepted template messages in one statement.
func (d *Dispatcher) markSentBulk(ctx context.Context, token string, sent []sentRef, at time.Time) error {
	ids := make([]uint64, len(sent))
	var cs strings.Builder
	args := make([]any, 0, 2*len(sent)+8)
	cs.WriteString("CASE id")
	for i, s := range sent {
		ids[i] = s.id
		cs.WriteString(" WHEN ? THEN ?")
		args = append(args, s.id, s.ref)
	}
	cs.WriteString(" END")
	args = append(args, model.NoticeSent, at, at, ids, token, model.NoticeSending)
	res := d.db.WithContext(ctx).Exec(`UPDATE notifications SET provider_ref = `+cs.String()+`,
		status = ?, sent_at = ?, last_error = '', lease_owner = '', lease_until = NULL, updated_at = ?
		WHERE id IN ? AND lease_owner = ? AND status = ?`, args...)
	if res.Error != nil {
		return fmt.Errorf("record sent notices: %w", res.Error)
	}
	if lost := int64(len(sent)) - res.RowsAffected; lost > 0 {
		d.m.leaseLost.Add(float64(lost))
		d.log.Warn("notice leases lost before sent was recorded", "count", lost)
	}
	return nil
}

func markRetry(tx *gorm.DB, token string, id uint64, at, next time.Time, lastErr string, ambiguous int, unsure *time.Time) error {
	return checkOwned(tx.Model(&model.Notification{}).
		Where("id = ? AND lease_owner = ? AND status = ?", id, token, model.NoticeSending).
		Updates(map[string]any{"status": model.NoticePending, "next_attempt_at": next, "last_error": lastErr,
			"ambiguous": ambiguous, "unsure_since": unsure, "lease_owner": "", "lease_until": nil, "updated_at": at}))
}

func markFinal(tx *gorm.DB, token string, id uint64, at time.Time, st model.NoticeStatus, why string, ambiguous int, unsure *time.Time) error {
	return checkOwned(tx.Model(&model.Notification{}).
		Where("id = ? AND lease_owner = ? AND status = ?", id, token, model.NoticeSending).
		Updates(map[string]any{"status": st, "last_error": truncate(why, 500), "ambiguous": ambiguous,
			"unsure_since": unsure, "lease_owner": "", "lease_until": nil, "updated_at": at}))
}

// insertIgnore adds a row unless its DedupKey exists.
func insertIgnore(tx *gorm.DB, n *model.Notification) error {
	return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "dedup_key"}}, DoNothing: true}).Create(n).Error
}

// lastError is the row's last_error for a failure: code and message, credentials removed.
func lastError(se *SendError) string {
	return truncate(reSecret.ReplaceAllString(se.Error(), "$1=***"), 500)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Notice is one message to queue for a worker.
type Notice struct {
	// Subject names what the notice is about, unique per notice kind: TransferSubject(id) for
	// arrived and failed notices, RunSubject(run, member) for approval notices.
	Subject  string
	MemberID uint64
	Kind     model.NoticeKind
	Payload  Payload
	Urgent   bool      // ignores quiet hours; no kind needs it today
	At       time.Time // when it becomes due, usually the caller's now; required
}

// TransferSubject is the subject of the notices about one transfer.
func TransferSubject(transferID uint64) string { return fmt.Sprintf("transfer:%d", transferID) }

// RunSubject is the subject of the approval notice of one run to one member.
func RunSubject(runID, memberID uint64) string {
	return fmt.Sprintf("run:%d:member:%d", runID, memberID)
}

// Enqueue queues n inside tx, the caller's transaction that changed the payout, so the notice
// exists if and only if the change committed. It reports false when the notice was already
// queued (the same subject and kind), which is not an error. The row starts on the
// official-account channel; the dispatcher moves it down the channels the worker can receive.
func Enqueue(ctx context.Context, tx *gorm.DB, n Notice) (bool, error) {
	if n.Subject == "" || n.MemberID == 0 || n.Kind == "" || n.At.IsZero() {
		return false, fmt.Errorf("enqueue notice: subject, member, kind and time are required")
	}
	b, err := json.Marshal(n.Payload)
	if err != nil {
		return false, fmt.Errorf("enqueue notice: %w", err)
	}
	row := model.Notification{
		DedupKey: DedupKey(n.Subject, n.Kind, channelOrder[0]), MemberID: n.MemberID, Kind: n.Kind,
		Channel: channelOrder[0], Urgent: n.Urgent, Payload: string(b), Status: model.NoticePending, NextAttemptAt: n.At,
	}
	// RowsAffected cannot tell "inserted" from "ignored" on every backend (MariaDB's RETURNING
	// returns the existing row), so look first; the insert still ignores a concurrent twin.
	var exists int64
	if err := tx.WithContext(ctx).Model(&model.Notification{}).Where("dedup_key = ?", row.DedupKey).
		Count(&exists).Error; err != nil {
		return false, fmt.Errorf("enqueue notice %s: %w", row.DedupKey, err)
	}
	if exists > 0 {
		return false, nil
	}
	if err := insertIgnore(tx.WithContext(ctx), &row); err != nil {
		return false, fmt.Errorf("enqueue notice %s: %w", row.DedupKey, err)
	}
	return true, nil
}

// DedupKey is the unique key of a notice on one channel, also the template message's client_msg_id.
func DedupKey(subject string, k model.NoticeKind, c model.Channel) string {
	return subject + ":" + string(k) + ":" + string(c)
}
