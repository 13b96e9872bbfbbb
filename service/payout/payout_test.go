package payout_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/errs"
	"huzhu/service/kv/kvtest"
	"huzhu/service/payout"
	"huzhu/service/policy"
	"huzhu/service/settlement"
	"huzhu/service/store/storetest"
)

var now = time.Date(2025, 6, 15, 10, 0, 0, 0, model.Shanghai)

func clock() time.Time { return now }

type fixture struct {
	db     *gorm.DB
	engine *policy.Engine
	cal    *calendar.Calendar
	svc    *payout.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	engine, err := policy.Load(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: storetest.NewDB(t), engine: engine, cal: calendar.New(model.Shanghai)}
	f.svc = payout.New(f.db, engine, f.cal, payout.Options{}, clock)
	return f
}

func (f *fixture) member(t *testing.T, edit func(*model.Member)) model.Member {
	t.Helper()
	u := model.Union{Code: "U" + time.Now().Format("150405.000000000"), Name: "示例工会", PaysDues: true}
	must(t, f.db.Create(&u).Error)
	m := model.Member{UnionID: u.ID, Name: "测试", IDNumberHash: "h" + u.Code, IDNumberEnc: []byte{1}, IDLast4: "0000",
		JingCardHash: "j" + u.Code, JingCardLast4: "1234", InsuredBeijing: true, Employment: model.EmploymentInService,
		Kind: model.WorkerUrban, Participation: model.ParticipationFree, JoinedOn: "2015-01-01"}
	if edit != nil {
		edit(&m)
	}
	must(t, f.db.Create(&m).Error)
	return m
}

// settle runs a settlement of each period, in order.
func (f *fixture) settle(t *testing.T, keys ...string) {
	t.Helper()
	s := settlement.New(f.db, f.engine, f.cal, kvtest.New(t), settlement.Options{}, clock, nil)
	for _, key := range keys {
		p, err := f.cal.ParsePeriod(key)
		must(t, err)
		_, err = s.Compute(context.Background(), p, asActor("test"))
		must(t, err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestEstimateMatchesSettlement: what EstimateUnsettled promises is what the settlement then
// computes, record by record, including the major-disease ladder and the annual cap across runs.
func TestEstimateMatchesSettlement(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.member(t, func(m *model.Member) { m.ModelWorker = true })
	recs := []model.MedicalRecord{
		{RecordNo: "A1", ClaimType: model.ClaimSpecialInpatient, VisitDate: "2025-01-08", SelfPay1Fen: 1_200_000, AboveCapFen: 25_000_000, MajorDisease: true},
		{RecordNo: "A2", ClaimType: model.ClaimOutpatient, VisitDate: "2025-02-10", SelfPay1Fen: 300_000},
		{RecordNo: "A3", ClaimType: model.ClaimSpecialInpatient, VisitDate: "2025-03-08", SelfPay1Fen: 1_200_000, AboveCapFen: 32_000_000, MajorDisease: true},
	}
	for i := range recs {
		recs[i].MemberID = m.ID
	}
	must(t, f.db.Create(&recs).Error)
	settle := settlement.New(f.db, f.engine, f.cal, kvtest.New(t), settlement.Options{}, clock, nil)
	// January is settled first, so the estimate of the rest starts from its year-to-date.
	p, _ := f.cal.ParsePeriod("2025-01")
	_, err := settle.Compute(ctx, p, asActor("test"))
	must(t, err)

	est, err := f.svc.EstimateUnsettled(ctx, m.ID)
	must(t, err)
	want := map[uint64]model.Fen{}
	for _, l := range est.Lines {
		want[l.RecordID] = l.AmountFen
	}
	if len(want) != 2 {
		t.Fatalf("estimate lines = %+v, want A2 and A3", est.Lines)
	}
	for _, key := range []string{"2025-Q1", "2025-03"} {
		p, _ := f.cal.ParsePeriod(key)
		_, err := settle.Compute(ctx, p, asActor("test"))
		must(t, err)
	}
	var lines []model.PayoutLine
	must(t, f.db.Where("member_id = ?", m.ID).Find(&lines).Error)
	var total model.Fen
	for _, l := range lines {
		total += l.AmountFen
		if w, ok := want[l.RecordID]; ok && w != l.AmountFen {
			t.Errorf("record %d: estimated %d, settled %d", l.RecordID, w, l.AmountFen)
		}
	}
	if total != 20_065_300 {
		t.Errorf("year total = %d, want the annual cap 20065300 (the worked example reaches it)", total)
	}
	if est.CapLeftFen != 0 {
		t.Errorf("cap left after the estimate = %d, want 0", est.CapLeftFen)
	}

	// Now everything is taken: a further receipt is capped to nothing, with a cap step.
	e2, err := f.svc.Estimate(ctx, m.ID, []payout.Receipt{{ClaimType: "门诊", Date: "2025-06-01", SelfPay1Fen: 10_000}})
	must(t, err)
	if e2.TotalFen != 0 || e2.Lines[0].Steps[len(e2.Lines[0].Steps)-2].Kind != policy.StepCap {
		t.Errorf("estimate over the cap = %+v", e2)
	}
}

func TestEstimateEligibility(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	retired := f.member(t, func(m *model.Member) { m.Employment = model.EmploymentRetired })
	est, err := f.svc.Estimate(ctx, retired.ID, []payout.Receipt{{ClaimType: "outpatient", Date: "2025-05-01", SelfPay1Fen: 10_000}})
	must(t, err)
	if est.TotalFen != 0 || est.Lines[0].Eligible || est.Lines[0].Reason == "" || est.ExpectedBy != "" {
		t.Errorf("retired worker's estimate = %+v, want nothing with the reason", est)
	}
	if _, err := f.svc.Estimate(ctx, 999999, []payout.Receipt{{ClaimType: "outpatient", Date: "2025-05-01", SelfPay1Fen: 1}}); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("unknown member = %v, want NotFound", err)
	}
}

func TestListAndDetail(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.member(t, nil)
	other := f.member(t, nil)
	recs := []model.MedicalRecord{
		{RecordNo: "L1", MemberID: m.ID, ClaimType: model.ClaimOutpatient, VisitDate: "2025-01-08", SelfPay1Fen: 10_000},
		{RecordNo: "L2", MemberID: m.ID, ClaimType: model.ClaimOutpatient, VisitDate: "2024-11-08", SelfPay1Fen: 20_000},
		{RecordNo: "L3", MemberID: other.ID, ClaimType: model.ClaimOutpatient, VisitDate: "2025-02-08", SelfPay1Fen: 20_000},
	}
	must(t, f.db.Create(&recs).Error)
	f.settle(t, "2024-Q4", "2025-Q1")
	page, err := f.svc.List(ctx, m.ID, payout.Query{})
	must(t, err)
	if page.Year != 2025 || page.Total != 1 || len(page.Items) != 1 || page.DraftFen != 5000 || len(page.Years) != 2 || page.Years[0] != 2025 {
		t.Fatalf("List = %+v", page)
	}
	d, err := f.svc.Detail(ctx, m.ID, page.Items[0].ID)
	must(t, err)
	if len(d.Timeline) != 4 || !d.Timeline[0].Done || d.Timeline[1].Done || d.Account != nil || len(d.Steps) == 0 {
		t.Errorf("draft detail = %+v", d)
	}
	// Detail sums the year in the same query as the line; List sums it on its own.
	if d.Totals != page.Totals || d.Totals.ComputedFen != 5000 {
		t.Errorf("detail totals = %+v, list totals = %+v, want equal with 50.00 computed", d.Totals, page.Totals)
	}
	otherPage, _ := f.svc.List(ctx, other.ID, payout.Query{})
	if _, err := f.svc.Detail(ctx, m.ID, otherPage.Items[0].ID); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("Detail of another member's line = %v, want NotFound", err)
	}
	tests := []struct {
		name  string
		q     payout.Query
		field string
	}{
		{"future year", payout.Query{Year: 2026}, "year"},
		{"ancient year", payout.Query{Year: 1990}, "year"},
		{"page", payout.Query{Page: -2}, "page"},
		{"size", payout.Query{Size: 51}, "size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.List(ctx, m.ID, tc.q)
			if e, ok := errs.As(err); !ok || e.Field != tc.field {
				t.Errorf("List(%+v) = %v, want Invalid on %s", tc.q, err, tc.field)
			}
		})
	}
}

// TestListPages cuts a year of lines into pages, newest bill first (ties by id, newest first),
// with the year's count and sums the same on every page and nothing past the last page.
func TestListPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.member(t, nil)
	dates := []model.Date{"2025-01-05", "2025-02-10", "2025-01-20", "2025-02-10", "2025-03-01", "2024-12-01"}
	recs := make([]model.MedicalRecord, len(dates))
	for i, d := range dates {
		recs[i] = model.MedicalRecord{RecordNo: fmt.Sprintf("P%d", i), MemberID: m.ID, ClaimType: model.ClaimOutpatient, VisitDate: d, SelfPay1Fen: 10_000}
	}
	must(t, f.db.Create(&recs).Error)
	f.settle(t, "2024-Q4", "2025-Q1")
	var got []model.Date
	var ids []uint64
	var first payout.Page
	for pg := 1; pg <= 3; pg++ {
		page, err := f.svc.List(ctx, m.ID, payout.Query{Year: 2025, Page: pg, Size: 2})
		must(t, err)
		if pg == 1 {
			first = page
		}
		if page.Total != 5 || page.Totals != first.Totals || len(page.Years) != 2 {
			t.Errorf("page %d: total %d, totals %+v, years %v; want 5 lines, totals as on page 1, 2 years", pg, page.Total, page.Totals, page.Years)
		}
		for _, it := range page.Items {
			got = append(got, it.BillDate)
			ids = append(ids, it.ID)
		}
	}
	want := []model.Date{"2025-03-01", "2025-02-10", "2025-02-10", "2025-01-20", "2025-01-05"}
	if !slices.Equal(got, want) {
		t.Errorf("bill dates over the pages = %v, want %v", got, want)
	}
	if len(ids) == 5 && ids[1] < ids[2] {
		t.Errorf("same-day lines in order %d, %d; want the newer id first", ids[1], ids[2])
	}
	if first.ComputedFen <= 0 || first.DraftFen != first.ComputedFen {
		t.Errorf("2025 totals = %+v, want every computed line still a draft", first.Totals)
	}
	past, err := f.svc.List(ctx, m.ID, payout.Query{Year: 2025, Page: 4, Size: 2})
	must(t, err)
	if len(past.Items) != 0 || past.Total != 5 {
		t.Errorf("page past the end = %+v, want no items and the count", past)
	}
}

// TestEstimateUnsettledYears: records pending from several years (a late import) are each
// estimated against their own year's settled figures, and only the newest MaxUnsettled records
// are estimated.
func TestEstimateUnsettledYears(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.member(t, nil)
	settled := model.MedicalRecord{RecordNo: "Y1", MemberID: m.ID, ClaimType: model.ClaimOutpatient, VisitDate: "2023-02-10", SelfPay1Fen: 400_000}
	must(t, f.db.Create(&settled).Error)
	f.settle(t, "2023-Q1")
	var paid2023 model.Fen
	must(t, f.db.Model(&model.PayoutLine{}).Where("member_id = ? AND year = 2023", m.ID).Select("COALESCE(SUM(amount_fen), 0)").Row().Scan(&paid2023))
	if paid2023 <= 0 {
		t.Fatalf("2023 settled %d, want a payout to count", paid2023)
	}
	pending := []model.MedicalRecord{
		{RecordNo: "Y2", MemberID: m.ID, ClaimType: model.ClaimOutpatient, VisitDate: "2023-05-10", SelfPay1Fen: 100_000},
		{RecordNo: "Y3", MemberID: m.ID, ClaimType: model.ClaimOutpatient, VisitDate: "2025-03-01", SelfPay1Fen: 100_000},
		{RecordNo: "Y4", MemberID: m.ID, ClaimType: model.ClaimOutpatient, VisitDate: "2024-12-01", SelfPay1Fen: 100_000},
	}
	must(t, f.db.Create(&pending).Error)

	est, err := f.svc.EstimateUnsettled(ctx, m.ID)
	must(t, err)
	years := map[int]payout.YearToDate{}
	for _, y := range est.Years {
		years[y.Year] = y
	}
	if len(est.Lines) != 3 || len(years) != 3 || years[2023].PaidFen != paid2023 || years[2024].PaidFen != 0 {
		t.Errorf("estimate = %d lines, years %+v; want 3 lines and 2023's settled %d counted", len(est.Lines), est.Years, paid2023)
	}

	newest := payout.New(f.db, f.engine, f.cal, payout.Options{MaxUnsettled: 2}, clock)
	est, err = newest.EstimateUnsettled(ctx, m.ID)
	must(t, err)
	var got []model.Date
	for _, l := range est.Lines {
		got = append(got, l.Date)
	}
	if want := []model.Date{"2024-12-01", "2025-03-01"}; !slices.Equal(got, want) {
		t.Errorf("with MaxUnsettled 2 the lines are of %v, want the newest two %v", got, want)
	}
	if _, err := f.svc.EstimateUnsettled(ctx, 999_999); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("unknown member = %v, want NotFound", err)
	}
}
