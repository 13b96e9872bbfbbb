// Package stats gives the plan's public figures — members covered, workers helped, payouts and
// money paid, per year — the way the union publishes them ("覆盖职工428万人，累计受助职工253万人、
// 2055万人次"). Only counts and sums leave this package, never a person.
package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/kv"
)

// Overview is the plan at a glance. Paid figures count lines that reached the worker's card
// (已到账); Pending is approved money still on its way.
type Overview struct {
	AsOf       time.Time   `json:"as_of"`
	Unions     int64       `json:"unions"`
	Members    int64       `json:"members"`
	Helped     int64       `json:"helped"`      // distinct members paid at least once
	Payouts    int64       `json:"payouts"`     // paid lines (人次)
	PaidFen    model.Fen   `json:"paid_fen"`    // total paid
	PendingFen model.Fen   `json:"pending_fen"` // approved or in transfer, not arrived yet
	Years      []YearStats `json:"years"`       // newest first
}

// YearStats are one calendar year's paid figures, by the bill's year.
type YearStats struct {
	Year    int       `json:"year"`
	Helped  int64     `json:"helped"`
	Payouts int64     `json:"payouts"`
	PaidFen model.Fen `json:"paid_fen"`
}

// Service computes the overview and caches it, since a count over millions of rows is too
// costly for every visit of a public page.
type Service struct {
	db  *gorm.DB
	kv  kv.Store
	ttl time.Duration
	now func() time.Time
}

// New returns a Service whose overview is at most ttl old (0 means one minute).
func New(db *gorm.DB, kvs kv.Store, ttl time.Duration, now func() time.Time) *Service {
	if ttl <= 0 {
		ttl = time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, kv: kvs, ttl: ttl, now: now}
}

const cacheKey = "stats:overview:v1"

// Overview returns the cached overview, computing it when the cache is empty or expired. A cache
// failure is not fatal: the figures are computed from the database.
func (s *Service) Overview(ctx context.Context) (Overview, error) {
	if b, ok, err := s.kv.Get(ctx, cacheKey); err == nil && ok {
		var o Overview
		if json.Unmarshal(b, &o) == nil {
			return o, nil
		}
	}
	o, err := s.compute(ctx)
	if err != nil {
		return o, err
	}
	if b, err := json.Marshal(o); err == nil {
		_ = s.kv.Set(ctx, cacheKey, b, s.ttl)
	}
	return o, nil
}

// Invalidate drops the cached overview, for callers that just changed the figures.
func (s *Service) Invalidate(ctx context.Context) error { return s.kv.Del(ctx, cacheKey) }

func (s *Service) compute(ctx context.Context) (Overview, error) {
	db := s.db.WithContext(ctx)
	o := Overview{AsOf: s.now().In(model.Shanghai).Truncate(time.Second), Years: []YearStats{}}
	if err := db.Model(&model.Union{}).Count(&o.Unions).Error; err != nil {
		return o, fmt.Errorf("stats: unions: %w", err)
	}
	if err := db.Model(&model.Member{}).Count(&o.Members).Error; err != nil {
		return o, fmt.Errorf("stats: members: %w", err)
	}
	var paid struct {
		Helped, Payouts int64
		Paid            model.Fen
	}
	if err := db.Model(&model.PayoutLine{}).Where("status = ?", model.LineArrived).
		Select("COUNT(DISTINCT member_id) AS helped, COUNT(*) AS payouts, COALESCE(SUM(amount_fen), 0) AS paid").
		Scan(&paid).Error; err != nil {
		return o, fmt.Errorf("stats: paid: %w", err)
	}
	o.Helped, o.Payouts, o.PaidFen = paid.Helped, paid.Payouts, paid.Paid
	if err := db.Model(&model.PayoutLine{}).Where("status IN ?", []model.LineStatus{model.LineApproved, model.LineTransfering, model.LineReissued}).
		Select("COALESCE(SUM(amount_fen), 0)").Scan(&o.PendingFen).Error; err != nil {
		return o, fmt.Errorf("stats: pending: %w", err)
	}
	if err := db.Model(&model.PayoutLine{}).Where("status = ?", model.LineArrived).
		Select("year, COUNT(DISTINCT member_id) AS helped, COUNT(*) AS payouts, COALESCE(SUM(amount_fen), 0) AS paid_fen").
		Group("year").Order("year DESC").Scan(&o.Years).Error; err != nil {
		return o, fmt.Errorf("stats: years: %w", err)
	}
	return o, nil
}
