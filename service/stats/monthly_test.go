package stats

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/kv"
	"huzhu/service/kv/kvtest"
	"huzhu/service/store/storetest"
)

// ledger creates unions, members and arrived lines for the monthly tests.
type ledger struct {
	t   *testing.T
	db  *gorm.DB
	rec uint64
}

func (l *ledger) union(code, name string) model.Union {
	l.t.Helper()
	u := model.Union{Code: code, Name: name}
	if err := l.db.Create(&u).Error; err != nil {
		l.t.Fatal(err)
	}
	return u
}

func (l *ledger) member(u model.Union) model.Member {
	l.t.Helper()
	l.rec++
	m := model.Member{UnionID: u.ID, Name: "测试", IDNumberEnc: []byte{1}, IDNumberHash: fmt.Sprintf("m%d", l.rec), IDLast4: "0000"}
	if err := l.db.Create(&m).Error; err != nil {
		l.t.Fatal(err)
	}
	return m
}

// line adds a line of m in status st; arrived is nil for lines that have not arrived.
func (l *ledger) line(m model.Member, amount model.Fen, st model.LineStatus, arrived *time.Time) {
	l.t.Helper()
	l.rec++
	year := 2025
	if arrived != nil {
		year = arrived.In(model.Shanghai).Year()
	}
	if err := l.db.Create(&model.PayoutLine{RunID: 1, MemberID: m.ID, RecordID: l.rec, Year: year, ClaimType: model.ClaimInpatient,
		BillDate: "2025-01-10", PolicyCode: "2021", AmountFen: amount, Eligible: true, Status: st, ArrivedAt: arrived}).Error; err != nil {
		l.t.Fatal(err)
	}
}

func at(t time.Time) *time.Time { return &t }

func sh(y int, mo time.Month, d, h, mi, s int) *time.Time {
	return at(time.Date(y, mo, d, h, mi, s, 0, model.Shanghai))
}

// months builds the expected 12 months from the non-empty ones.
func months(set ...Month) []Month {
	out := make([]Month, 12)
	for i := range out {
		out[i].Month = i + 1
	}
	for _, m := range set {
		out[m.Month-1] = m
	}
	return out
}

func TestMonthlyByMonthOfArrival(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	l := &ledger{t: t, db: db}
	u1, u2 := l.union("U1", "第一工会"), l.union("U2", "第二工会")
	a, b, c := l.member(u1), l.member(u1), l.member(u2)

	l.line(a, 1000, model.LineArrived, sh(2025, 1, 31, 23, 59, 59))
	// 2025-01-31 16:30 UTC is 1 February 00:30 in Beijing, written by a clock in UTC.
	l.line(a, 2000, model.LineArrived, at(time.Date(2025, 1, 31, 16, 30, 0, 0, time.UTC)))
	l.line(b, 300, model.LineArrived, sh(2025, 2, 28, 9, 0, 0))
	l.line(c, 40000, model.LineArrived, sh(2025, 2, 3, 10, 0, 0))
	l.line(c, 5, model.LineArrived, sh(2025, 12, 31, 23, 59, 0))
	l.line(a, 7, model.LineArrived, sh(2024, 12, 31, 23, 59, 59)) // last year
	l.line(b, 9, model.LineArrived, sh(2026, 1, 1, 0, 0, 0))      // next year
	l.line(a, 11, model.LineApproved, nil)                        // not arrived
	l.line(b, 13, model.LineFailed, nil)

	now := time.Date(2026, 1, 5, 8, 0, 0, 0, model.Shanghai)
	s := New(db, kv.NewMemory(nil), time.Hour, func() time.Time { return now })
	ignore := cmpopts.IgnoreFields(Series{}, "AsOf")
	tests := []struct {
		name  string
		year  int
		union string
		want  Series
	}{
		{"whole plan", 2025, "", Series{Year: 2025, Helped: 3, Payouts: 5, PaidFen: 43305, Months: months(
			Month{1, 1, 1, 1000}, Month{2, 3, 3, 42300}, Month{12, 1, 1, 5})}},
		{"one union", 2025, "U1", Series{Year: 2025, UnionCode: "U1", UnionName: "第一工会", Helped: 2, Payouts: 3, PaidFen: 3300, Months: months(
			Month{1, 1, 1, 1000}, Month{2, 2, 2, 2300})}},
		{"the other union", 2025, "U2", Series{Year: 2025, UnionCode: "U2", UnionName: "第二工会", Helped: 1, Payouts: 2, PaidFen: 40005, Months: months(
			Month{2, 1, 1, 40000}, Month{12, 1, 1, 5})}},
		{"previous year", 2024, "", Series{Year: 2024, Helped: 1, Payouts: 1, PaidFen: 7, Months: months(Month{12, 1, 1, 7})}},
		{"next year", 2026, "U1", Series{Year: 2026, UnionCode: "U1", UnionName: "第一工会", Helped: 1, Payouts: 1, PaidFen: 9, Months: months(Month{1, 1, 1, 9})}},
		{"a year with nothing", 2023, "U2", Series{Year: 2023, UnionCode: "U2", UnionName: "第二工会", Months: months()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Monthly(ctx, tc.year, tc.union)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, ignore); diff != "" {
				t.Errorf("Monthly(%d, %q) (-want +got):\n%s", tc.year, tc.union, diff)
			}
			if !got.AsOf.Equal(now) {
				t.Errorf("Monthly(%d, %q).AsOf = %v, want %v", tc.year, tc.union, got.AsOf, now)
			}
		})
	}
}

func TestMonthlyRefusesBadInput(t *testing.T) {
	s := New(storetest.NewDB(t), kv.NewMemory(nil), time.Minute, nil)
	tests := []struct {
		name  string
		year  int
		union string
		want  errs.Kind
	}{
		{"year too early", 1999, "", errs.KindInvalid},
		{"year too late", 2101, "", errs.KindInvalid},
		{"unknown union", 2025, "NOPE", errs.KindNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Monthly(context.Background(), tc.year, tc.union); errs.KindOf(err) != tc.want {
				t.Errorf("Monthly(%d, %q) = %v, want kind %v", tc.year, tc.union, err, tc.want)
			}
		})
	}
}

func TestMonthlyIsCachedUntilInvalidate(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	l := &ledger{t: t, db: db}
	u1, u2 := l.union("U1", "第一工会"), l.union("U2", "第二工会")
	a, c := l.member(u1), l.member(u2)
	l.line(a, 100, model.LineArrived, sh(2025, 3, 1, 10, 0, 0))
	l.line(c, 200, model.LineArrived, sh(2025, 3, 2, 10, 0, 0))
	s := New(db, kvtest.New(t), time.Hour, nil) // Redis when HUZHU_TEST_REDIS_ADDR is set

	paid := func(union string) model.Fen {
		t.Helper()
		sr, err := s.Monthly(ctx, 2025, union)
		if err != nil {
			t.Fatal(err)
		}
		return sr.Months[2].PaidFen
	}
	if p1, p2, all := paid("U1"), paid("U2"), paid(""); p1 != 100 || p2 != 200 || all != 300 {
		t.Fatalf("March paid U1 %d U2 %d plan %d, want 100, 200, 300", p1, p2, all)
	}
	l.line(a, 1000, model.LineArrived, sh(2025, 3, 15, 10, 0, 0))
	l.line(c, 2000, model.LineArrived, sh(2025, 3, 16, 10, 0, 0))
	if p1, p2, all := paid("U1"), paid("U2"), paid(""); p1 != 100 || p2 != 200 || all != 300 {
		t.Errorf("within the TTL March paid U1 %d U2 %d plan %d, want the cached 100, 200, 300", p1, p2, all)
	}
	if err := s.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	if p1, p2, all := paid("U1"), paid("U2"), paid(""); p1 != 1100 || p2 != 2200 || all != 3300 {
		t.Errorf("after Invalidate March paid U1 %d U2 %d plan %d, want 1100, 2200, 3300", p1, p2, all)
	}
	// A second invalidation drops the series cached since the first one too.
	l.line(a, 5, model.LineArrived, sh(2025, 3, 20, 10, 0, 0))
	if err := s.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	if p1 := paid("U1"); p1 != 1105 {
		t.Errorf("after a second Invalidate March paid U1 %d, want 1105", p1)
	}
}
