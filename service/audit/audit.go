// Package audit writes and reads the audit log: one row for every action by staff and for every
// card-binding attempt by a worker. Rows never hold personal numbers in clear; callers put masked
// values or ids in Detail.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/store"
)

// Entry is one action to record.
type Entry struct {
	Actor   string // staff username, or "wx:<account id>", or "cli:<user>"
	Role    string
	Action  string // dotted verb: run.approve, member.unbind, binding.attempt
	Target  string // what it acted on: run:12, member:34
	Outcome string // ok, denied, failed
	Detail  any    // marshalled as JSON
	IP      string
	UnionID uint64
	Via     model.Via // the door a staff action came through; empty for workers
}

// By returns the entry of an action by a: who, in which role and union, from which address and
// through which door. The caller fills in Action, Target and Detail.
func By(a model.Actor) Entry {
	return Entry{Actor: a.Username, Role: string(a.Role), IP: a.IP, UnionID: a.UnionID, Via: a.Via}
}

// Need returns a Forbidden error (staff.forbidden) unless a may do act. Services call it first
// in every method staff call, so the console and the command line obey the same rules.
func Need(a model.Actor, act model.Action) error {
	if a.Can(act) {
		return nil
	}
	return errs.New(errs.KindForbidden, "staff.forbidden", "您的角色不能进行这项操作").WithFix("如需权限，请联系市总管理员")
}

// Write records e inside tx, so the audit row commits or rolls back with the change it
// describes. at is the time of the action.
func Write(ctx context.Context, tx *gorm.DB, at time.Time, e Entry) error {
	detail := ""
	if e.Detail != nil {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return fmt.Errorf("audit %s: encode detail: %w", e.Action, err)
		}
		detail = string(b)
	}
	if e.Outcome == "" {
		e.Outcome = "ok"
	}
	row := model.AuditLog{At: at, Actor: e.Actor, Role: e.Role, Action: e.Action, Target: e.Target, Outcome: e.Outcome,
		Detail: detail, IP: e.IP, UnionID: e.UnionID, Via: string(e.Via)}
	if err := tx.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// Filter selects audit rows; zero fields do not filter.
type Filter struct {
	Actor   string
	Action  string // prefix match: "run." finds every run action; % and _ match themselves
	UnionID uint64
	From    time.Time
	To      time.Time
	Limit   int // 1 to 500 (50)
	Offset  int
	// Order is the ORDER BY clause, from the caller's own list of sorts and never from a
	// request; empty: newest first.
	Order string
}

// List returns matching rows and the total count.
func List(ctx context.Context, db *gorm.DB, f Filter) ([]model.AuditLog, int64, error) {
	q := db.WithContext(ctx).Model(&model.AuditLog{})
	if f.Actor != "" {
		q = q.Where("actor = ?", f.Actor)
	}
	if f.Action != "" {
		// "!" escapes rather than the backslash, which MySQL and SQLite read differently in literals.
		q = q.Where("action LIKE ? ESCAPE '!'", strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(f.Action)+"%")
	}
	if f.UnionID != 0 {
		q = q.Where("union_id = ?", f.UnionID)
	}
	at, bound := store.TimeColumn(db, "at")
	if !f.From.IsZero() {
		q = q.Where(at+" >= ?", bound(f.From))
	}
	if !f.To.IsZero() {
		q = q.Where(at+" < ?", bound(f.To))
	}
	var total int64
	if err := q.Session(&gorm.Session{}).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count audit rows: %w", err)
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	if f.Order == "" {
		f.Order = at + " DESC, id DESC"
	}
	rows := []model.AuditLog{}
	if err := q.Order(f.Order).Limit(f.Limit).Offset(f.Offset).Find(&rows).Error; err != nil {
		return nil, 0, fmt.Errorf("list audit rows: %w", err)
	}
	return rows, total, nil
}
