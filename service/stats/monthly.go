package stats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/store"
)

// Month is the money that reached workers' cards in one calendar month (Asia/Shanghai).
type Month struct {
	Month   int       `json:"month"`   // 1 to 12
	Helped  int64     `json:"helped"`  // distinct members paid in the month
	Payouts int64     `json:"payouts"` // lines arrived in the month (人次)
	PaidFen model.Fen `json:"paid_fen"`
}

// Series is a year's arrived money by month of arrival: the plan's, or one union's.
type Series struct {
	Year      int       `json:"year"`
	UnionCode string    `json:"union_code,omitempty"` // empty: the whole plan
	UnionName string    `json:"union_name,omitempty"`
	AsOf      time.Time `json:"as_of"`
	Months    []Month   `json:"months"` // always 12, January first
	Helped    int64     `json:"helped"` // distinct members paid in the year (not the sum of the months)
	Payouts   int64     `json:"payouts"`
	PaidFen   model.Fen `json:"paid_fen"`
}

// Monthly returns year's arrived (已到账) payout lines by the month they arrived in, Beijing
// time, for the whole plan when unionCode is empty or for the members of that union. The result
// is cached like the overview and dropped by Invalidate. It returns Invalid for a year outside
// 2000–2100 and NotFound for an unknown union code. Deciding who may see which union is the
// caller's job.
func (s *Service) Monthly(ctx context.Context, year int, unionCode string) (Series, error) {
	if year < 2000 || year > 2100 {
		return Series{}, errs.Invalid("year", fmt.Sprintf("年份 %d 不在 2000–2100 之间", year), "请填写四位数的年份，例如 2025")
	}
	key, keyErr := s.monthlyKey(ctx, year, unionCode)
	if keyErr == nil {
		if b, ok, err := s.kv.Get(ctx, key); err == nil && ok {
			var sr Series
			if json.Unmarshal(b, &sr) == nil {
				return sr, nil
			}
		}
	}
	sr, err := s.monthly(ctx, year, unionCode)
	if err != nil {
		return sr, err
	}
	if keyErr == nil {
		if b, err := json.Marshal(sr); err == nil {
			_ = s.kv.Set(ctx, key, b, s.ttl)
		}
	}
	return sr, nil
}

// genKey counts invalidations. Series keys carry the generation, so Invalidate drops every
// year and union at once without listing keys (which Redis Cluster makes costly).
const genKey = "stats:gen"

// monthlyKey fails when the generation cannot be read; the caller then skips the cache, since a
// key without the generation could serve figures from before an invalidation.
func (s *Service) monthlyKey(ctx context.Context, year int, unionCode string) (string, error) {
	gen := "0"
	b, ok, err := s.kv.Get(ctx, genKey)
	if err != nil {
		return "", err
	}
	if ok {
		gen = string(b)
	}
	return "stats:monthly:v1:" + gen + ":" + strconv.Itoa(year) + ":" + strconv.Quote(unionCode), nil
}

func (s *Service) monthly(ctx context.Context, year int, unionCode string) (Series, error) {
	db := s.db.WithContext(ctx)
	sr := Series{Year: year, AsOf: s.now().In(model.Shanghai).Truncate(time.Second), Months: make([]Month, 12)}
	for i := range sr.Months {
		sr.Months[i].Month = i + 1
	}
	q := db.Table("payout_lines AS l").Where("l.status = ?", model.LineArrived)
	if unionCode = strings.TrimSpace(unionCode); unionCode != "" {
		var u model.Union
		if err := db.Where("code = ?", unionCode).Take(&u).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return sr, errs.NotFound("union.not_found", "没有这个基层工会")
		} else if err != nil {
			return sr, fmt.Errorf("stats: monthly %d: union: %w", year, err)
		}
		sr.UnionCode, sr.UnionName = u.Code, u.Name
		q = q.Joins("JOIN members AS m ON m.id = l.member_id").Where("m.union_id = ?", u.ID)
	}
	col, bound := store.TimeColumn(db, "l.arrived_at")
	start := time.Date(year, 1, 1, 0, 0, 0, 0, model.Shanghai)
	q = q.Where(col+" >= ? AND "+col+" < ?", bound(start), bound(start.AddDate(1, 0, 0)))

	var total struct {
		Helped, Payouts int64
		Paid            model.Fen
	}
	if err := q.Session(&gorm.Session{}).Select("COUNT(DISTINCT l.member_id) AS helped, COUNT(*) AS payouts, COALESCE(SUM(l.amount_fen), 0) AS paid").
		Scan(&total).Error; err != nil {
		return sr, fmt.Errorf("stats: monthly %d: total: %w", year, err)
	}
	sr.Helped, sr.Payouts, sr.PaidFen = total.Helped, total.Payouts, total.Paid
	if total.Payouts == 0 {
		return sr, nil
	}

	// The month is a CASE over the month boundaries rather than a date function, which differs
	// between SQLite and MySQL and would need the database's time zone to be Beijing's.
	var bucket strings.Builder
	args := make([]any, 0, 11)
	bucket.WriteString("CASE")
	for m := 1; m < 12; m++ {
		fmt.Fprintf(&bucket, " WHEN %s < ? THEN %d", col, m)
		args = append(args, bound(start.AddDate(0, m, 0)))
	}
	bucket.WriteString(" ELSE 12 END")
	var rows []struct {
		Bucket          int
		Helped, Payouts int64
		PaidFen         model.Fen
	}
	if err := q.Select(bucket.String()+" AS bucket, COUNT(DISTINCT l.member_id) AS helped, COUNT(*) AS payouts, COALESCE(SUM(l.amount_fen), 0) AS paid_fen", args...).
		Group("bucket").Scan(&rows).Error; err != nil {
		return sr, fmt.Errorf("stats: monthly %d: %w", year, err)
	}
	for _, r := range rows {
		if r.Bucket >= 1 && r.Bucket <= 12 {
			sr.Months[r.Bucket-1] = Month{Month: r.Bucket, Helped: r.Helped, Payouts: r.Payouts, PaidFen: r.PaidFen}
		}
	}
	return sr, nil
}
