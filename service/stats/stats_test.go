package stats

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"huzhu/model"
	"huzhu/service/kv"
	"huzhu/service/store/storetest"
)

func TestOverviewCountsPaidLinesAndCaches(t *testing.T) {
	db := storetest.NewDB(t)
	u := model.Union{Code: "U", Name: "工会"}
	db.Create(&u)
	var members []model.Member
	for i := range 3 {
		m := model.Member{UnionID: u.ID, Name: "测试", IDNumberEnc: []byte{1}, IDNumberHash: fmt.Sprintf("h%d", i), IDLast4: "0000"}
		if i == 2 {
			m.Employment = model.EmploymentRetired // paid for last year's bills, not covered today
		}
		db.Create(&m)
		members = append(members, m)
	}
	rec := uint64(0)
	line := func(m model.Member, year int, amount model.Fen, st model.LineStatus) {
		rec++
		if err := db.Create(&model.PayoutLine{RunID: 1, MemberID: m.ID, RecordID: rec, Year: year, ClaimType: model.ClaimOutpatient,
			BillDate: model.Date(fmt.Sprintf("%d-03-01", year)), PolicyCode: "2021", AmountFen: amount, Eligible: true, Status: st}).Error; err != nil {
			t.Fatal(err)
		}
	}
	line(members[0], 2025, 10001, model.LineArrived)
	line(members[0], 2025, 20000, model.LineArrived)
	line(members[1], 2026, 5000, model.LineArrived)
	line(members[1], 2026, 700, model.LineApproved)
	line(members[2], 2026, 900, model.LineComputed) // not approved: neither paid nor pending

	at := time.Date(2026, 11, 23, 9, 0, 0, 0, model.Shanghai)
	s := New(db, kv.NewMemory(nil), time.Hour, func() time.Time { return at })
	got, err := s.Overview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Overview{AsOf: at, Unions: 1, Members: 3, Covered: 2, Helped: 2, Payouts: 3, PaidFen: 35001, PendingFen: 700,
		Years: []YearStats{{2026, 1, 1, 5000}, {2025, 1, 2, 30001}}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("Overview (-want +got):\n%s", diff)
	}

	line(members[2], 2026, 100, model.LineArrived)
	if cached, _ := s.Overview(context.Background()); cached.PaidFen != 35001 {
		t.Errorf("within the TTL PaidFen = %d, want the cached 35001", cached.PaidFen)
	}
	if err := s.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fresh, _ := s.Overview(context.Background()); fresh.PaidFen != 35101 || fresh.Helped != 3 {
		t.Errorf("after Invalidate paid %d helped %d, want 35101 and 3", fresh.PaidFen, fresh.Helped)
	}
}

func TestBreakdownByUnionAndClaimType(t *testing.T) {
	db := storetest.NewDB(t)
	s := New(db, kv.NewMemory(nil), time.Minute, nil)
	rec := uint64(0)
	for i, u := range []model.Union{{Code: "A", Name: "甲工会"}, {Code: "B", Name: "乙工会"}} {
		db.Create(&u)
		m := model.Member{UnionID: u.ID, Name: "测试", IDNumberEnc: []byte{1}, IDNumberHash: fmt.Sprintf("b%d", i), IDLast4: "0000"}
		db.Create(&m)
		for j, ct := range []model.ClaimType{model.ClaimOutpatient, model.ClaimInpatient} {
			rec++
			st := model.LineArrived
			if j == 1 && i == 0 {
				st = model.LineFailed // not paid: not counted
			}
			db.Create(&model.PayoutLine{RunID: 1, MemberID: m.ID, RecordID: rec, Year: 2026, ClaimType: ct, BillDate: "2026-03-01",
				PolicyCode: "2021", AmountFen: model.Fen(1000 * (i + 1) * (j + 1)), Eligible: true, Status: st})
		}
	}
	b, err := s.Breakdown(context.Background(), 2026)
	if err != nil {
		t.Fatal(err)
	}
	want := Breakdown{Year: 2026,
		ByUnion: []Group{{"B", "乙工会", 1, 2, 6000}, {"A", "甲工会", 1, 1, 1000}},
		ByClaimType: []Group{{"outpatient", "门诊", 2, 2, 3000}, {"inpatient", "普通住院", 1, 1, 4000},
			{"special_inpatient", "特病住院", 0, 0, 0}}}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("Breakdown (-want +got):\n%s", diff)
	}
}
