// Package stats gives the plan's public figures — members covered, workers helped, payouts and
// money paid, per year — the way the union publishes them ("覆盖职工428万人，累计受助职工253万人、
// 2055万人次"), and for staff a year by union, by claim type and by month of arrival (the plan's
// or one union's). Only counts and sums leave this package, never a person.
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
	Covered    int64       `json:"covered"`     // members covered today (see covered)
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

// Invalidate drops the cached overview and every cached monthly series, for callers that just
// changed the figures.
func (s *Service) Invalidate(ctx context.Context) error {
	if _, err := s.kv.Incr(ctx, genKey, 0); err != nil {
		return fmt.Errorf("stats: invalidate: %w", err)
	}
	if err := s.kv.Del(ctx, cacheKey); err != nil {
		return fmt.Errorf("stats: invalidate: %w", err)
	}
	return nil
}

func (s *Service) compute(ctx context.Context) (Overview, error) {
	db := s.db.WithContext(ctx)
	o := Overview{AsOf: s.now().In(model.Shanghai).Truncate(time.Second), Years: []YearStats{}}
	if err := db.Model(&model.Union{}).Count(&o.Unions).Error; err != nil {
		return o, fmt.Errorf("stats: unions: %w", err)
	}
	if err := db.Model(&model.Member{}).Count(&o.Members).Error; err != nil {
		return o, fmt.Errorf("stats: members: %w", err)
	}
	if err := covered(db, model.DateOf(o.AsOf)).Count(&o.Covered).Error; err != nil {
		return o, fmt.Errorf("stats: covered: %w", err)
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

// covered selects the members covered on day, as service/eligibility decides it for roster
// members, in SQL so that it counts millions: in service; in Beijing basic insurance or a rural
// worker from 2013-05-01; free participation through a dues-paying union, or paid participation
// not expired. (Whether money can reach them — a 京卡 or bank card — is not part of coverage.)
func covered(db *gorm.DB, day model.Date) *gorm.DB {
	ruralFrom := model.Date("2013-05-01")
	return db.Model(&model.Member{}).Joins("JOIN unions ON unions.id = members.union_id").
		Where("members.employment = ?", model.EmploymentInService).
		Where("(members.kind = ? AND ? >= ?) OR (members.kind <> ? AND members.insured_beijing)",
			model.WorkerRural, day, ruralFrom, model.WorkerRural).
		Where("(members.participation = ? AND unions.pays_dues) OR (members.participation <> ? AND members.paid_until >= ?)",
			model.ParticipationFree, model.ParticipationFree, day)
}

// Group is the paid figures of one union or one claim type in a year.
type Group struct {
	Key     string    `json:"key" gorm:"column:group_key"`     // union code, or claim type
	Label   string    `json:"label" gorm:"column:group_label"` // union name, or the claim type's Chinese name
	Helped  int64     `json:"helped"`
	Payouts int64     `json:"payouts"`
	PaidFen model.Fen `json:"paid_fen"`
}

// Breakdown is a year's paid figures by union and by claim type, for staff.
type Breakdown struct {
	Year        int     `json:"year"`
	ByUnion     []Group `json:"by_union"`      // most paid first
	ByClaimType []Group `json:"by_claim_type"` // in the claim form's order
}

// Breakdown returns year's paid (已到账) figures by union and by claim type. It is computed on
// every call: it serves staff, not the public page.
func (s *Service) Breakdown(ctx context.Context, year int) (Breakdown, error) {
	db := s.db.WithContext(ctx)
	b := Breakdown{Year: year, ByUnion: []Group{}, ByClaimType: []Group{}}
	if err := db.Table("payout_lines AS l").Joins("JOIN members AS m ON m.id = l.member_id").Joins("JOIN unions AS u ON u.id = m.union_id").
		Where("l.status = ? AND l.year = ?", model.LineArrived, year).
		Select("u.code AS group_key, u.name AS group_label, COUNT(DISTINCT l.member_id) AS helped, COUNT(*) AS payouts, COALESCE(SUM(l.amount_fen), 0) AS paid_fen").
		Group("u.code, u.name").Order("paid_fen DESC, u.code").Scan(&b.ByUnion).Error; err != nil {
		return b, fmt.Errorf("stats: by union: %w", err)
	}
	var byType []Group
	if err := db.Model(&model.PayoutLine{}).Where("status = ? AND year = ?", model.LineArrived, year).
		Select("claim_type AS group_key, COUNT(DISTINCT member_id) AS helped, COUNT(*) AS payouts, COALESCE(SUM(amount_fen), 0) AS paid_fen").
		Group("claim_type").Scan(&byType).Error; err != nil {
		return b, fmt.Errorf("stats: by claim type: %w", err)
	}
	for _, ct := range model.ClaimTypes {
		g := Group{Key: string(ct), Label: ct.Label()}
		for _, t := range byType {
			if t.Key == string(ct) {
				g.Helped, g.Payouts, g.PaidFen = t.Helped, t.Payouts, t.PaidFen
			}
		}
		b.ByClaimType = append(b.ByClaimType, g)
	}
	return b, nil
}
