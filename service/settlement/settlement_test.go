package settlement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/errs"
	"huzhu/service/kv"
	"huzhu/service/policy"
	"huzhu/service/progress/progresstest"
	"huzhu/service/store/storetest"
)

type fixture struct {
	t     *testing.T
	db    *gorm.DB
	kv    kv.Store
	cal   *calendar.Calendar
	svc   *Service
	union model.Union
	seq   int
}

// now is a fixed day after every period the tests settle.
var now = time.Date(2026, 11, 23, 10, 0, 0, 0, model.Shanghai)

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	db := storetest.NewDB(t)
	engine, err := policy.Load(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, kv: kv.NewMemory(nil), cal: calendar.New(model.Shanghai)}
	f.svc = New(db, engine, f.cal, f.kv, o, func() time.Time { return now }, nil)
	f.union = model.Union{Code: "U1", Name: "测试工会", PaysDues: true}
	if err := db.Create(&f.union).Error; err != nil {
		t.Fatal(err)
	}
	return f
}

type memberOpt func(*model.Member)

func retired() memberOpt  { return func(m *model.Member) { m.Employment = model.EmploymentRetired } }
func hardship() memberOpt { return func(m *model.Member) { m.Hardship = true } }

func (f *fixture) member(opts ...memberOpt) model.Member {
	f.t.Helper()
	f.seq++
	m := model.Member{UnionID: f.union.ID, Name: "测试", IDNumberEnc: []byte{1}, IDNumberHash: fmt.Sprintf("id%d", f.seq),
		IDLast4: "0000", InsuredBeijing: true, Employment: model.EmploymentInService, Kind: model.WorkerUrban,
		Participation: model.ParticipationFree, JoinedOn: "2010-01-01", JingCardHash: fmt.Sprintf("card%d", f.seq), JingCardLast4: "1234"}
	for _, o := range opts {
		o(&m)
	}
	if err := f.db.Create(&m).Error; err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *fixture) record(m model.Member, ct model.ClaimType, date model.Date, selfPay1, aboveCap model.Fen) model.MedicalRecord {
	f.t.Helper()
	f.seq++
	r := model.MedicalRecord{RecordNo: fmt.Sprintf("R%d", f.seq), MemberID: m.ID, ClaimType: ct, VisitDate: date,
		SelfPay1Fen: selfPay1, AboveCapFen: aboveCap, MajorDisease: aboveCap > 0, TotalFen: selfPay1 + aboveCap}
	if err := f.db.Create(&r).Error; err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) period(s string, class model.SettlementClass) calendar.Period {
	f.t.Helper()
	p, err := f.cal.ParsePeriod(s)
	if err != nil {
		f.t.Fatal(err)
	}
	p.Class = class
	return p
}

type lineKey struct {
	RecordID uint64
	Amount   model.Fen
	Eligible bool
	Policy   string
}

func (f *fixture) lines(runID uint64) []lineKey {
	f.t.Helper()
	var ls []model.PayoutLine
	if err := f.db.Where("run_id = ?", runID).Order("record_id").Find(&ls).Error; err != nil {
		f.t.Fatal(err)
	}
	out := make([]lineKey, len(ls))
	for i, l := range ls {
		out[i] = lineKey{l.RecordID, l.AmountFen, l.Eligible, l.PolicyCode}
	}
	return out
}

func TestComputePaysRatioAndBonus(t *testing.T) {
	f := newFixture(t, Options{})
	plain, poor, old := f.member(), f.member(hardship()), f.member(retired())
	r1 := f.record(plain, model.ClaimOutpatient, "2026-02-10", 100000, 0)
	r2 := f.record(poor, model.ClaimOutpatient, "2026-03-01", 100000, 0)
	r3 := f.record(old, model.ClaimOutpatient, "2026-03-02", 100000, 0)
	f.record(plain, model.ClaimInpatient, "2026-02-11", 500000, 0)  // another class: not in this run
	f.record(plain, model.ClaimOutpatient, "2026-04-01", 100000, 0) // next quarter: not in this run

	run, err := f.svc.Compute(context.Background(), f.period("2026-Q1", model.ClassOutpatient), asActor("tester"))
	if err != nil {
		t.Fatal(err)
	}
	want := []lineKey{{r1.ID, 50000, true, "2021"}, {r2.ID, 55000, true, "2021"}, {r3.ID, 0, false, ""}}
	if diff := cmp.Diff(want, f.lines(run.ID)); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if run.TotalFen != 105000 || run.Lines != 2 || run.Rejected != 1 || run.Members != 3 || run.Computing || run.ComputedAt == nil {
		t.Errorf("run = %+v, want total 105000, 2 lines, 1 rejected, 3 members, computed", run)
	}
	var reason string
	f.db.Model(&model.PayoutLine{}).Where("record_id = ?", r3.ID).Pluck("reason", &reason)
	if reason == "" {
		t.Error("the retired member's line has no reason")
	}
}

func TestComputeTwiceGivesTheSameLines(t *testing.T) {
	f := newFixture(t, Options{ChunkSize: 2})
	for i := range 7 {
		m := f.member()
		f.record(m, model.ClaimInpatient, "2026-05-03", model.Fen(123457+i*1001), 0)
		f.record(m, model.ClaimSpecialInpatient, "2026-05-20", 2000001, model.Fen(i)*1500000)
	}
	p := f.period("2026-05", model.ClassInpatient)
	first, err := f.svc.Compute(context.Background(), p, asActor("a"))
	if err != nil {
		t.Fatal(err)
	}
	before := f.lines(first.ID)
	second, err := f.svc.Compute(context.Background(), p, asActor("b"))
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first.ID || second.Attempt != first.Attempt+1 {
		t.Errorf("second compute: run %d attempt %d, want run %d attempt %d", second.ID, second.Attempt, first.ID, first.Attempt+1)
	}
	if diff := cmp.Diff(before, f.lines(second.ID)); diff != "" {
		t.Errorf("recompute changed lines (-first +second):\n%s", diff)
	}
	if second.TotalFen != first.TotalFen || len(before) != 14 {
		t.Errorf("totals %d then %d over %d lines", first.TotalFen, second.TotalFen, len(before))
	}
}

// TestWorkersGiveTheSameLines computes one run with one worker and again with four.
func TestWorkersGiveTheSameLines(t *testing.T) {
	f := newFixture(t, Options{ChunkSize: 3, Workers: 1})
	for i := range 20 {
		m := f.member()
		f.record(m, model.ClaimInpatient, "2026-05-03", model.Fen(100001+i*977), 0)
		f.record(m, model.ClaimSpecialInpatient, "2026-05-21", model.Fen(20000+i), model.Fen(i%4)*2500000)
	}
	p := f.period("2026-05", model.ClassInpatient)
	one, err := f.svc.Compute(context.Background(), p, asActor("t"))
	if err != nil {
		t.Fatal(err)
	}
	want := f.lines(one.ID)
	f.svc.o.Workers = 4
	four, err := f.svc.Compute(context.Background(), p, asActor("t"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, f.lines(four.ID)); diff != "" || four.TotalFen != one.TotalFen || len(want) != 40 {
		t.Errorf("four workers: total %s vs %s; lines (-one +four):\n%s", four.TotalFen, one.TotalFen, diff)
	}
}

// TestInterruptedComputeResumes cancels a computation inside its second chunk, after the first
// committed, as a crash would, and shows that the next computation writes exactly the lines of an
// uninterrupted one: nothing twice, nothing lost.
func TestInterruptedComputeResumes(t *testing.T) {
	f := newFixture(t, Options{ChunkSize: 2, Workers: 1}) // one worker: the first chunk surely commits before the second dies
	for range 6 {
		m := f.member()
		f.record(m, model.ClaimOutpatient, "2026-07-09", 300001, 0)
		f.record(m, model.ClaimOutpatient, "2026-08-19", 4567, 0)
	}
	p := f.period("2026-Q3", model.ClassOutpatient)
	clean, err := f.svc.Compute(context.Background(), p, asActor("a"))
	if err != nil {
		t.Fatal(err)
	}
	want := f.lines(clean.ID)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chunks := 0
	if err := f.db.Callback().Update().After("gorm:update").Register("test:crash", func(tx *gorm.DB) {
		if tx.Statement.Table == "medical_records" && strings.Contains(tx.Statement.SQL.String(), "WHERE id IN") { // a chunk marking its records
			if chunks++; chunks == 2 { // the first chunk commits; the second dies after writing, before its commit
				cancel()
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Compute(ctx, p, asActor("a")); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Compute err = %v, want context.Canceled", err)
	}
	_ = f.db.Callback().Update().Remove("test:crash")
	if chunks != 2 {
		t.Fatalf("%d chunks wrote lines, want the crash in the second", chunks)
	}
	if got := f.lines(clean.ID); len(got) == 0 || len(got) >= len(want) {
		t.Fatalf("after the crash %d lines, want some but fewer than %d (the test did not interrupt mid-way)", len(got), len(want))
	}
	// The lock of the crashed computation was released by its deferred release.
	again, err := f.svc.Compute(context.Background(), p, asActor("a"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, f.lines(again.ID)); diff != "" {
		t.Errorf("resumed lines differ (-clean +resumed):\n%s", diff)
	}
	if again.TotalFen != clean.TotalFen {
		t.Errorf("total %d, want %d", again.TotalFen, clean.TotalFen)
	}
}

// TestWorkedExampleAcrossRuns is the 工人日报 2021-09-13 case spread over monthly runs: 570,000
// yuan above the cap in a year pays 200,653 yuan in total, however the months fall.
func TestWorkedExampleAcrossRuns(t *testing.T) {
	f := newFixture(t, Options{})
	m := f.member()
	for month := 1; month <= 10; month++ {
		f.record(m, model.ClaimSpecialInpatient, model.Date(fmt.Sprintf("2025-%02d-08", month)), 1200000, 5700000)
	}
	var total model.Fen
	for month := 1; month <= 12; month++ {
		run, err := f.svc.Compute(context.Background(), f.period(fmt.Sprintf("2025-%02d", month), model.ClassInpatient), asActor("t"))
		if err != nil {
			t.Fatal(err)
		}
		total += run.TotalFen
	}
	if total != 20065300 {
		t.Errorf("paid over the year = %s, want ¥200653.00", total)
	}
}

func TestLateRecordJoinsTheNextRun(t *testing.T) {
	f := newFixture(t, Options{})
	m := f.member()
	f.record(m, model.ClaimInpatient, "2026-01-10", 10000, 0)
	jan, err := f.svc.Compute(context.Background(), f.period("2026-01", model.ClassInpatient), asActor("t"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(context.Background(), jan.ID, asActor("t")); err != nil {
		t.Fatal(err)
	}
	late := f.record(m, model.ClaimInpatient, "2026-01-25", 20000, 0) // imported after January was settled
	feb, err := f.svc.Compute(context.Background(), f.period("2026-02", model.ClassInpatient), asActor("t"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.lines(feb.ID); len(got) != 1 || got[0].RecordID != late.ID || got[0].Amount != 10000 {
		t.Errorf("February lines = %+v, want the late January record paid 10000", got)
	}
}

func TestApproveFreezesAndNotifiesOnce(t *testing.T) {
	f := newFixture(t, Options{})
	a, b, old := f.member(), f.member(), f.member(retired())
	f.record(a, model.ClaimInpatient, "2026-03-03", 10000, 0)
	f.record(a, model.ClaimSpecialInpatient, "2026-03-13", 20000, 0)
	f.record(b, model.ClaimInpatient, "2026-03-04", 30000, 0)
	f.record(old, model.ClaimInpatient, "2026-03-05", 30000, 0)
	p := f.period("2026-03", model.ClassInpatient)
	run, err := f.svc.Compute(context.Background(), p, asActor("t"))
	if err != nil {
		t.Fatal(err)
	}
	approved, err := f.svc.Approve(context.Background(), run.ID, asActor("boss"))
	if err != nil {
		t.Fatal(err)
	}
	if approved.Status != model.RunApproved || approved.ApprovedBy != "boss" {
		t.Errorf("approved run = %s by %q", approved.Status, approved.ApprovedBy)
	}
	var notices []model.Notification
	f.db.Order("member_id").Find(&notices)
	if len(notices) != 2 || notices[0].MemberID != a.ID || notices[1].MemberID != b.ID || notices[0].Kind != model.NoticeApproved {
		t.Errorf("notices = %+v, want one approval notice each for members %d and %d", notices, a.ID, b.ID)
	}
	if _, err := f.svc.Approve(context.Background(), run.ID, asActor("boss")); errs.KindOf(err) != errs.KindConflict {
		t.Errorf("second Approve err = %v, want Conflict", err)
	}
	if _, err := f.svc.Compute(context.Background(), p, asActor("t")); errs.KindOf(err) != errs.KindConflict {
		t.Errorf("Compute of an approved run err = %v, want Conflict", err)
	}
	if _, err := f.svc.Approve(context.Background(), 999, asActor("boss")); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("Approve(999) err = %v, want NotFound", err)
	}
	var audits int64
	f.db.Model(&model.AuditLog{}).Where("action IN ?", []string{"run.compute", "run.approve"}).Count(&audits)
	if audits != 2 {
		t.Errorf("audit rows = %d, want 2 (compute, approve)", audits)
	}
}

func TestComputeRefusals(t *testing.T) {
	f := newFixture(t, Options{})
	if _, err := f.svc.Compute(context.Background(), f.period("2026-Q4", model.ClassOutpatient), asActor("t")); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("Compute of an unfinished quarter err = %v, want Invalid", err)
	}
	if ok, _ := f.kv.SetNX(context.Background(), lockKey, []byte("other"), time.Minute); !ok {
		t.Fatal("could not take the lock")
	}
	if _, err := f.svc.Compute(context.Background(), f.period("2026-Q1", model.ClassOutpatient), asActor("t")); errs.KindOf(err) != errs.KindConflict {
		t.Errorf("Compute while another holds the lock err = %v, want Conflict", err)
	}
}

// TestBadMemberDataHoldsBackOnlyThatMember: a member whose roster data the policy engine refuses
// gets lines with the reason; the others are paid.
func TestBadMemberDataHoldsBackOnlyThatMember(t *testing.T) {
	f := newFixture(t, Options{})
	good := f.member()
	bad := f.member(func(m *model.Member) { m.Hardship, m.HardshipFrom, m.HardshipUntil = true, "2026-05-01", "2026-01-01" })
	rg := f.record(good, model.ClaimOutpatient, "2026-02-10", 1000, 0)
	rb := f.record(bad, model.ClaimOutpatient, "2026-02-11", 1000, 0)
	run, err := f.svc.Compute(context.Background(), f.period("2026-Q1", model.ClassOutpatient), asActor("t"))
	if err != nil {
		t.Fatal(err)
	}
	want := []lineKey{{rg.ID, 500, true, "2021"}, {rb.ID, 0, false, ""}}
	if diff := cmp.Diff(want, f.lines(run.ID)); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	var reason string
	f.db.Model(&model.PayoutLine{}).Where("record_id = ?", rb.ID).Pluck("reason", &reason)
	if !strings.HasPrefix(reason, "数据有误") {
		t.Errorf("held-back reason = %q", reason)
	}
}

// TestComputeReportsProgress: a computation reports, in members, 0 of the total first and then
// after every chunk a larger count, ending at the total; members with records of another class
// do not count.
func TestComputeReportsProgress(t *testing.T) {
	f := newFixture(t, Options{ChunkSize: 3, Workers: 3}) // 3 records: one member of two records a chunk
	for i := range 10 {
		m := f.member()
		f.record(m, model.ClaimOutpatient, "2026-04-10", model.Fen(1000+i), 0)
		f.record(m, model.ClaimOutpatient, "2026-05-10", model.Fen(2000+i), 0)
	}
	f.record(f.member(), model.ClaimInpatient, "2026-04-11", 5000, 0) // another class
	var rec progresstest.Recorder
	if _, err := f.svc.Compute(rec.Context(), f.period("2026-Q2", model.ClassOutpatient), asActor("t")); err != nil {
		t.Fatal(err)
	}
	got := rec.Reports()
	if len(got) != 11 || got[0] != [2]int64{0, 10} || got[len(got)-1] != [2]int64{10, 10} {
		t.Fatalf("reports %v: want 0 of 10, one per chunk, and 10 of 10 last", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i][0] <= got[i-1][0] || got[i][1] != 10 {
			t.Errorf("report %d is %v after %v: want more done, of 10", i, got[i], got[i-1])
		}
	}
}

// TestMemberWithMoreRecordsThanAChunk: a member's records are never split between chunks, even
// when they are more than a chunk holds, so the annual cap holds within a run.
func TestMemberWithMoreRecordsThanAChunk(t *testing.T) {
	f := newFixture(t, Options{ChunkSize: 3, Workers: 2})
	small := f.member()
	f.record(small, model.ClaimInpatient, "2026-05-01", 10000, 0)
	big := f.member()
	for day := 1; day <= 5; day++ {
		f.record(big, model.ClaimSpecialInpatient, model.Date(fmt.Sprintf("2026-05-%02d", day)), 20_000_000, 0) // ¥100,000 each at 50%
	}
	after := f.member()
	f.record(after, model.ClaimInpatient, "2026-05-02", 20000, 0)
	f.record(after, model.ClaimInpatient, "2026-05-03", 40000, 0)
	run, err := f.svc.Compute(context.Background(), f.period("2026-05", model.ClassInpatient), asActor("t"))
	if err != nil {
		t.Fatal(err)
	}
	var paid model.Fen
	f.db.Model(&model.PayoutLine{}).Where("member_id = ?", big.ID).Select("SUM(amount_fen)").Scan(&paid)
	if paid != 20_065_300 {
		t.Errorf("member with five records paid %s, want the annual cap ¥200653.00", paid)
	}
	if run.RecordsIn != 8 || run.Members != 3 || run.TotalFen != 20_065_300+5000+30000 {
		t.Errorf("run = %d records, %d members, total %s; want 8, 3, ¥200,688.00", run.RecordsIn, run.Members, run.TotalFen)
	}
}

// TestCorrectionWaitsForTheChunk: the importer corrects an unsettled record with
// "UPDATE … WHERE id = ? AND settlement_run_id = 0". A correction that comes while a chunk holds
// the record must wait for the chunk and then find the record settled, so that the line is never
// computed from amounts the record no longer has.
func TestCorrectionWaitsForTheChunk(t *testing.T) {
	f := newFixture(t, Options{Workers: 1})
	m := f.member()
	r := f.record(m, model.ClaimOutpatient, "2026-02-10", 10000, 0)
	corrected := make(chan int64, 1)
	early := false
	if err := f.db.Callback().Row().After("gorm:row").Register("test:correct", func(tx *gorm.DB) {
		if !strings.Contains(tx.Statement.SQL.String(), "FROM medical_records WHERE id IN") || early {
			return
		}
		go func() {
			res := f.db.Exec("UPDATE medical_records SET self_pay1_fen = ? WHERE id = ? AND settlement_run_id = 0", 99999, r.ID)
			var my *mysqldrv.MySQLError
			switch {
			case errors.As(res.Error, &my) && my.Number == 1213:
				// On a table this small MySQL walks the pending index for the correction and
				// picks it as the deadlock victim: it did not get in either.
				corrected <- 0
			case res.Error != nil:
				t.Error(res.Error)
				corrected <- -1
			default:
				corrected <- res.RowsAffected
			}
		}()
		select {
		case <-corrected:
			early = true // the correction got in while the chunk held the record
		case <-time.After(300 * time.Millisecond):
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer f.db.Callback().Row().Remove("test:correct")
	run, err := f.svc.Compute(context.Background(), f.period("2026-Q1", model.ClassOutpatient), asActor("t"))
	if err != nil {
		t.Fatal(err)
	}
	if early {
		t.Fatal("the correction went through while the chunk held the record")
	}
	if n := <-corrected; n != 0 {
		t.Errorf("correction after the chunk changed %d rows, want 0 (the record is settled)", n)
	}
	if run.TotalFen != 5000 {
		t.Errorf("paid %s, want ¥50.00 from the amount the line was computed from", run.TotalFen)
	}
}

// TestLockLease: the computation lock is renewed while held and released only by its holder; a
// computation that finds it lost is stopped with settlement.lock_lost; a lock left by a dead
// process lapses after one lease.
func TestLockLease(t *testing.T) {
	// A lease long enough that a loaded CI machine (-race, packages in parallel) still renews
	// it in time: renewals every 500 ms, 1.5 s before it lapses.
	const ttl = 1500 * time.Millisecond
	f := newFixture(t, Options{LockTTL: ttl})
	ctx := context.Background()
	run, release, err := f.svc.lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + ttl/2) // past one lease: the renewals keep it
	if _, _, err := f.svc.lock(ctx); errs.KindOf(err) != errs.KindConflict {
		t.Errorf("second lock while held = %v, want Conflict", err)
	}
	if run.Err() != nil {
		t.Errorf("a held lock's computation was stopped: %v", context.Cause(run))
	}
	release()
	if _, ok, _ := f.kv.Get(ctx, lockKey); ok {
		t.Error("lock still held after release")
	}

	// Lost: another holder's value replaces ours, as after our lease lapsed while kv was away.
	run, release, err = f.svc.lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.kv.Set(ctx, lockKey, []byte("other"), time.Minute); err != nil {
		t.Fatal(err)
	}
	select {
	case <-run.Done():
	case <-time.After(3 * ttl):
		t.Fatal("the computation went on after its lock was taken")
	}
	if !errors.Is(context.Cause(run), errLockLost) {
		t.Errorf("cause = %v, want settlement.lock_lost", context.Cause(run))
	}
	release()
	if v, ok, _ := f.kv.Get(ctx, lockKey); !ok || string(v) != "other" {
		t.Error("release removed the lock another holder had taken")
	}

	// A dead process's lock: nobody renews it, and it lapses with its lease (a short one here).
	const deadLease = 100 * time.Millisecond
	if err := f.kv.Set(ctx, lockKey, []byte("dead"), deadLease); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.lock(ctx); errs.KindOf(err) != errs.KindConflict {
		t.Errorf("lock during a dead process's lease = %v, want Conflict", err)
	}
	time.Sleep(deadLease + 100*time.Millisecond)
	_, release, err = f.svc.lock(ctx)
	if err != nil {
		t.Fatalf("lock after the dead process's lease = %v, want it taken", err)
	}
	release()
}

// TestWhoMayApprove: the four-eyes rule and the roles live in the service, so every door (the
// console, the command line) gets the same answers. The person who last computed a run is the
// one who may not approve it, even when someone else first created it.
func TestWhoMayApprove(t *testing.T) {
	person := func(name string, role model.Role) model.Actor {
		return model.Actor{Username: name, Role: role, IP: "10.0.0.1", Via: model.ViaCLI}
	}
	tests := []struct {
		name     string
		computer model.Actor
		approver model.Actor
		code     string // "" when allowed
	}{
		{"another operator", person("op1", model.RoleOperator), person("op2", model.RoleOperator), ""},
		{"the operator who computed", person("op1", model.RoleOperator), person("op1", model.RoleOperator), "run.own_run"},
		{"the operator who recomputed another's run", person("op2", model.RoleOperator), person("op2", model.RoleOperator), "run.own_run"},
		{"an auditor", person("op1", model.RoleOperator), person("aud", model.RoleAuditor), "staff.forbidden"},
		{"a union", person("op1", model.RoleOperator), person("u1", model.RoleUnion), "staff.forbidden"},
		{"nobody named", person("op1", model.RoleOperator), model.Actor{Role: model.RoleOperator, Via: model.ViaCLI}, "staff.forbidden"},
		{"an admin, their own run", person("a1", model.RoleAdmin), person("a1", model.RoleAdmin), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			f.record(f.member(), model.ClaimInpatient, "2026-03-03", 10000, 0)
			p := f.period("2026-03", model.ClassInpatient)
			ctx := context.Background()
			if tc.name == "the operator who recomputed another's run" {
				if _, err := f.svc.Compute(ctx, p, person("op1", model.RoleOperator)); err != nil {
					t.Fatal(err)
				}
			}
			run, err := f.svc.Compute(ctx, p, tc.computer)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Approve(ctx, run.ID, tc.approver)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Approve by %s = %v, want approved", tc.approver.Username, err)
				}
				var row model.AuditLog
				f.db.Where("action = ?", "run.approve").Take(&row)
				if row.Actor != tc.approver.Username || row.Role != string(tc.approver.Role) || row.IP != "10.0.0.1" || row.Via != "cli" {
					t.Errorf("run.approve audit row = %+v, want the approver's name, role, address and door", row)
				}
				return
			}
			if e, ok := errs.As(err); !ok || e.Kind != errs.KindForbidden || e.Code != tc.code {
				t.Errorf("Approve by %s = %v, want Forbidden %s", tc.approver.Username, err, tc.code)
			}
			var got model.SettlementRun
			f.db.Take(&got, run.ID)
			if got.Status != model.RunDraft {
				t.Errorf("refused approval left the run %s", got.Status)
			}
		})
	}
	t.Run("an auditor may not compute", func(t *testing.T) {
		f := newFixture(t, Options{})
		_, err := f.svc.Compute(context.Background(), f.period("2026-03", model.ClassInpatient), person("aud", model.RoleAuditor))
		if e, ok := errs.As(err); !ok || e.Kind != errs.KindForbidden {
			t.Errorf("Compute by an auditor = %v, want Forbidden", err)
		}
	})
}
