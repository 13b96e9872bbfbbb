package payment

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/errs"
	"huzhu/service/kv"
	"huzhu/service/pii"
	"huzhu/service/policy"
	"huzhu/service/settlement"
	"huzhu/service/store/storetest"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, model.Shanghai)

type fixture struct {
	t      *testing.T
	db     *gorm.DB
	cipher *pii.Cipher
	settle *settlement.Service
	pay    *Service
	union  model.Union
	seq    int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := storetest.NewDB(t)
	engine, err := policy.Load(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := pii.New(bytes.Repeat([]byte("p"), pii.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	cal := calendar.New(model.Shanghai)
	clock := func() time.Time { return now }
	f := &fixture{t: t, db: db, cipher: cipher, pay: New(db, cipher, cal, clock, nil),
		settle: settlement.New(db, engine, cal, kv.NewMemory(nil), settlement.Options{}, clock, nil)}
	f.union = model.Union{Code: "U1", Name: "测试工会", PaysDues: true}
	if err := db.Create(&f.union).Error; err != nil {
		t.Fatal(err)
	}
	return f
}

// member adds a member paid to a 京卡 (card != "") or to a bank account of bank.
func (f *fixture) member(name, card string, bank model.Bank, account string) model.Member {
	f.t.Helper()
	f.seq++
	c, b := f.cipher.Seal(pii.KindJingCard, card), f.cipher.Seal(pii.KindBank, account)
	m := model.Member{UnionID: f.union.ID, Name: name, IDNumberEnc: []byte{1}, IDNumberHash: fmt.Sprintf("id%d", f.seq), IDLast4: "0000",
		InsuredBeijing: true, Employment: model.EmploymentInService, Kind: model.WorkerUrban, Participation: model.ParticipationFree,
		JoinedOn: "2010-01-01", JingCardEnc: c.Enc, JingCardHash: c.Hash, JingCardLast4: c.Last4,
		BankCode: bank, BankAccountEnc: b.Enc, BankAccountHash: b.Hash, BankAccountLast4: b.Last4}
	if err := f.db.Create(&m).Error; err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *fixture) record(m model.Member, ct model.ClaimType, date model.Date, selfPay1, aboveCap model.Fen) {
	f.t.Helper()
	f.seq++
	r := model.MedicalRecord{RecordNo: fmt.Sprintf("R%d", f.seq), MemberID: m.ID, ClaimType: ct, VisitDate: date,
		SelfPay1Fen: selfPay1, AboveCapFen: aboveCap, MajorDisease: aboveCap > 0}
	if err := f.db.Create(&r).Error; err != nil {
		f.t.Fatal(err)
	}
}

// approved computes and approves period p.
func (f *fixture) approved(p string) model.SettlementRun {
	f.t.Helper()
	cal := calendar.New(model.Shanghai)
	period, err := cal.ParsePeriod(p)
	if err != nil {
		f.t.Fatal(err)
	}
	run, err := f.settle.Compute(context.Background(), period, asActor("t"))
	if err != nil {
		f.t.Fatal(err)
	}
	if run, err = f.settle.Approve(context.Background(), run.ID, asActor("t")); err != nil {
		f.t.Fatal(err)
	}
	return run
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func (f *fixture) notices(kind model.NoticeKind) []model.Notification {
	var ns []model.Notification
	f.db.Where("kind = ?", kind).Order("id").Find(&ns)
	return ns
}

// TestWorkedExampleEndToEnd is the seeds' worker: 570,000 yuan above the cap → settle → export →
// the bank says 成功 → 已到账 with the arrival notice queued, 200,653.00 yuan to 尾号5678.
func TestWorkedExampleEndToEnd(t *testing.T) {
	f := newFixture(t)
	li := f.member("李先生", "6217990000005678", "", "")
	for month := 1; month <= 10; month++ {
		f.record(li, model.ClaimSpecialInpatient, model.Date(fmt.Sprintf("2026-%02d-08", month)), 1200000, 5700000)
	}
	run := f.approved("2026-10")
	if run.TotalFen != 20065300 {
		t.Fatalf("run total = %s, want ¥200653.00", run.TotalFen)
	}
	exp, err := f.pay.Export(context.Background(), run.ID, asActor("op"))
	if err != nil {
		t.Fatal(err)
	}
	if len(exp.Files) != 1 || exp.Files[0].Bank != JingCardBank || exp.Files[0].TotalFen != 20065300 {
		t.Fatalf("export = %+v", exp)
	}
	rows := readCSV(t, exp.Files[0].CSV)
	if len(rows) != 2 || rows[1][4] != "6217990000005678" || rows[1][5] != "200653.00" || rows[1][3] != "李先生" {
		t.Fatalf("file rows = %q, want the full card number and 200653.00 for the bank", rows)
	}
	var tr model.Transfer
	f.db.Take(&tr)
	if tr.AccountLast4 != "5678" || tr.Status != model.LineTransfering {
		t.Errorf("transfer = %+v", tr)
	}
	result := "转账编号,结果,原因,到账时间\n" + rows[1][0] + ",成功,,2026-11-20 09:30:00\n"
	rep, err := f.pay.ImportResult(context.Background(), "bob.csv", strings.NewReader(result), asActor("op"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Arrived != 1 || len(rep.Problems) != 0 {
		t.Fatalf("report = %+v", rep)
	}
	var lines []model.PayoutLine
	f.db.Where("run_id = ? AND amount_fen > 0", run.ID).Find(&lines) // the capped months pay 0 and are not transferred
	for _, l := range lines {
		if l.Status != model.LineArrived || l.ArrivedAt == nil || !l.ArrivedAt.Equal(time.Date(2026, 11, 20, 9, 30, 0, 0, model.Shanghai)) {
			t.Errorf("line %d: %s at %v", l.ID, l.Status, l.ArrivedAt)
		}
	}
	ns := f.notices(model.NoticeArrived)
	if len(ns) != 1 || ns[0].MemberID != li.ID || !strings.Contains(ns[0].Payload, `"amount_fen":20065300`) || !strings.Contains(ns[0].Payload, `"account_last4":"5678"`) {
		t.Errorf("arrival notices = %+v", ns)
	}
	if strings.Contains(ns[0].Payload, "6217990000005678") {
		t.Error("the notice payload holds the full card number")
	}
	var closed model.SettlementRun
	f.db.Take(&closed, run.ID)
	if closed.Status != model.RunClosed {
		t.Errorf("run status = %s, want closed once everything arrived", closed.Status)
	}
	again, err := f.pay.ImportResult(context.Background(), "bob.csv", strings.NewReader(result), asActor("op"))
	if err != nil || again.Unchanged != 1 || again.Arrived != 0 || len(f.notices(model.NoticeArrived)) != 1 {
		t.Errorf("re-import = %+v, %v; want one unchanged row and still one notice", again, err)
	}
	rec, err := f.pay.Reconcile(context.Background(), run.ID)
	if err != nil || !rec.Balanced() || rec.Arrived != 20065300 || rec.Exported != 20065300 {
		t.Errorf("Reconcile = %+v, %v", rec, err)
	}
}

func TestFailedTransferIsReissued(t *testing.T) {
	f := newFixture(t)
	a := f.member("甲", "", model.BankICBC, "6222000011112222")
	b := f.member("乙", "6217990000003333", "", "")
	none := f.member("丙", "", "", "")
	f.record(a, model.ClaimInpatient, "2026-09-03", 100000, 0)
	f.record(b, model.ClaimInpatient, "2026-09-04", 200000, 0)
	f.record(none, model.ClaimInpatient, "2026-09-05", 300000, 0)
	run := f.approved("2026-09")
	exp, err := f.pay.Export(context.Background(), run.ID, asActor("op"))
	if err != nil {
		t.Fatal(err)
	}
	if len(exp.Files) != 2 || exp.WaitingMembers != 1 {
		t.Fatalf("export = %d files, %d waiting; want 2 banks and one member without an account", len(exp.Files), exp.WaitingMembers)
	}
	var ta model.Transfer
	f.db.Where("member_id = ?", a.ID).Take(&ta)
	fail := fmt.Sprintf("转账编号,结果,原因\n%s,失败,账户已销户\n", ta.Ref)
	if rep, err := f.pay.ImportResult(context.Background(), "icbc.csv", strings.NewReader(fail), asActor("op")); err != nil || rep.Failed != 1 {
		t.Fatalf("failure import = %+v, %v", rep, err)
	}
	if ns := f.notices(model.NoticeFailedTx); len(ns) != 1 || ns[0].MemberID != a.ID {
		t.Errorf("failure notices = %+v", ns)
	}
	rec, err := f.pay.Reconcile(context.Background(), run.ID)
	if err != nil || !rec.Balanced() || rec.Failed != 50000 || rec.Waiting != 150000 || rec.InTransfer != 100000 {
		t.Errorf("after the failure Reconcile = %+v", rec)
	}
	if err := f.pay.Reissue(context.Background(), ta.ID, asActor("op")); err != nil {
		t.Fatal(err)
	}
	if err := f.pay.Reissue(context.Background(), ta.ID, asActor("op")); errs.KindOf(err) != errs.KindConflict {
		t.Errorf("second Reissue err = %v, want Conflict", err)
	}
	again, err := f.pay.Export(context.Background(), run.ID, asActor("op"))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Files) != 1 || again.Files[0].TotalFen != 50000 {
		t.Fatalf("re-export = %+v, want only the re-issued 500.00", again)
	}
	var re model.Transfer
	f.db.Where("reissue_of = ?", ta.ID).Take(&re)
	if re.ID == 0 || re.AmountFen != 50000 || re.Status != model.LineTransfering {
		t.Errorf("re-issued transfer = %+v", re)
	}
	rec, err = f.pay.Reconcile(context.Background(), run.ID)
	if err != nil || !rec.Balanced() || rec.InTransfer != 150000 || rec.Exported != 200000 {
		t.Errorf("after the re-issue Reconcile = %+v", rec)
	}
	if err := f.pay.Reissue(context.Background(), 9999, asActor("op")); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("Reissue(9999) err = %v, want NotFound", err)
	}
}

func TestImportResultReportsBadRowsAndKeepsGoodOnes(t *testing.T) {
	f := newFixture(t)
	var ms []model.Member
	for i := range 3 {
		m := f.member(fmt.Sprintf("员工%d", i), fmt.Sprintf("62179900000000%02d", i), "", "")
		f.record(m, model.ClaimInpatient, "2026-08-03", 100000, 0)
		ms = append(ms, m)
	}
	run := f.approved("2026-08")
	if _, err := f.pay.Export(context.Background(), run.ID, asActor("op")); err != nil {
		t.Fatal(err)
	}
	var ts []model.Transfer
	f.db.Order("member_id").Find(&ts)
	file := "转账编号,结果,原因,到账时间,金额(元)\n" +
		ts[0].Ref + ",成功,,2026-11-20 10:00:00,500.00\n" + // good
		"HZ-NOPE,成功,,,\n" + // unknown ref
		ts[1].Ref + ",好了,,,\n" + // bad result
		ts[1].Ref + ",成功,,,499.99\n" + // amount differs
		ts[2].Ref + ",成功,,2027-01-01 00:00:00,\n" + // in the future
		ts[2].Ref + ",失败,,,\n" // good: failed without a reason
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.pay.ImportResult(context.Background(), "gbk.csv", bytes.NewReader(gbk), asActor("op"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, p := range rep.Problems {
		got[p.Row] = p.Column
	}
	want := map[int]string{3: "转账编号", 4: "结果", 5: "金额(元)", 6: "到账时间"}
	if fmt.Sprint(got) != fmt.Sprint(want) || rep.Arrived != 1 || rep.Failed != 1 || rep.Rows != 6 {
		t.Errorf("report = %+v\nproblem columns by row = %v, want %v", rep, got, want)
	}
	var batch model.ImportBatch
	f.db.Take(&batch, rep.BatchID)
	if batch.RowsBad != 4 || !strings.Contains(batch.Report, "没有转账编号") || len(batch.FileSHA256) != 64 {
		t.Errorf("import batch = %+v", batch)
	}
	var failed model.Transfer
	f.db.Take(&failed, ts[2].ID)
	if failed.Status != model.LineFailed || failed.FailReason != "银行未说明原因" {
		t.Errorf("transfer 3 = %s (%q)", failed.Status, failed.FailReason)
	}
	for _, bad := range []string{"", "编号,金额\nx,1\n"} {
		if _, err := f.pay.ImportResult(context.Background(), "bad.csv", strings.NewReader(bad), asActor("op")); errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("ImportResult(%q) err = %v, want Invalid", bad, err)
		}
	}
	// A line beyond the CSV limit stops the import with a problem that names the limit (it used
	// to be read whole; with the limit and no stop it would be reported for ever).
	long := "转账编号,结果\nHZ-NOPE,成功\nHZ-NOPE," + strings.Repeat("长", 40_000) + "\n"
	done := make(chan struct{})
	go func() {
		defer close(done)
		rep, err := f.pay.ImportResult(context.Background(), "long.csv", strings.NewReader(long), asActor("op"))
		if last := rep.Problems[len(rep.Problems)-1]; err != nil || !strings.Contains(last.Message, "超过 64 KB") {
			t.Errorf("ImportResult(a long line) = %+v, %v; want a last problem naming the 64 KB limit", rep.Problems, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("ImportResult(a long line) did not return in 30 s")
	}
}

func TestExportRefusesUnapprovedRuns(t *testing.T) {
	f := newFixture(t)
	m := f.member("甲", "6217990000001111", "", "")
	f.record(m, model.ClaimInpatient, "2026-07-03", 100000, 0)
	p, _ := calendar.New(model.Shanghai).ParsePeriod("2026-07")
	run, err := f.settle.Compute(context.Background(), p, asActor("t"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.pay.Export(context.Background(), run.ID, asActor("op")); errs.KindOf(err) != errs.KindConflict {
		t.Errorf("Export of a draft err = %v, want Conflict", err)
	}
	if _, err := f.pay.Export(context.Background(), 777, asActor("op")); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("Export(777) err = %v, want NotFound", err)
	}
}

func TestReconcileCatchesATamperedLine(t *testing.T) {
	f := newFixture(t)
	m := f.member("甲", "6217990000001111", "", "")
	f.record(m, model.ClaimInpatient, "2026-06-03", 100000, 0)
	f.record(m, model.ClaimSpecialInpatient, "2026-06-13", 10000, 0)
	run := f.approved("2026-06")
	if _, err := f.pay.Export(context.Background(), run.ID, asActor("op")); err != nil {
		t.Fatal(err)
	}
	if rec, err := f.pay.Reconcile(context.Background(), run.ID); err != nil || !rec.Balanced() {
		t.Fatalf("before tampering: %v, %v", rec.Mismatches, err)
	}
	f.db.Model(&model.PayoutLine{}).Where("run_id = ? AND amount_fen = 5000", run.ID).Update("amount_fen", 5001)
	rec, err := f.pay.Reconcile(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(rec.Mismatches, "\n")
	if rec.Balanced() || !strings.Contains(joined, "批次记录的总额") || !strings.Contains(joined, "转账 HZ") {
		t.Errorf("after tampering a line: mismatches %q, want the run total and the transfer flagged", rec.Mismatches)
	}
}

func TestRunWithNothingPayableClosesOnExport(t *testing.T) {
	f := newFixture(t)
	m := f.member("甲", "6217990000001111", "", "")
	f.db.Model(&m).Update("employment", model.EmploymentRetired)
	f.record(m, model.ClaimInpatient, "2026-05-03", 100000, 0)
	run := f.approved("2026-05")
	exp, err := f.pay.Export(context.Background(), run.ID, asActor("op"))
	if err != nil || len(exp.Files) != 0 {
		t.Fatalf("Export = %+v, %v; want no files", exp, err)
	}
	var got model.SettlementRun
	f.db.Take(&got, run.ID)
	if got.Status != model.RunClosed {
		t.Errorf("run status = %s, want closed: nothing was payable", got.Status)
	}
}

// TestRebuild: a lost bank file is written again byte for byte while every transfer is on its
// way; not once the bank answered for one (it could pay twice), nor when an account changed
// since the export; each rebuild is audited.
func TestRebuild(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.member("甲", "6217990000001111", "", "")
	b := f.member("乙", "6217990000002222", "", "")
	c := f.member("丙", "", model.BankICBC, "6222020000003333")
	for _, m := range []model.Member{a, b, c} {
		f.record(m, model.ClaimInpatient, "2026-10-08", 1_200_000, 0)
	}
	run := f.approved("2026-10")
	exp, err := f.pay.Export(ctx, run.ID, asActor("op"))
	if err != nil || len(exp.Files) != 2 {
		t.Fatalf("export = %+v, %v; want a 京卡 file and an ICBC file", exp, err)
	}
	byBank := map[model.Bank]File{}
	for _, fl := range exp.Files {
		byBank[fl.Bank] = fl
	}
	jk := byBank[JingCardBank]

	got, err := f.pay.Rebuild(ctx, jk.BatchID, asActor("op2"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != jk.Name || !bytes.Equal(got.CSV, jk.CSV) || got.Transfers != 2 || got.TotalFen != jk.TotalFen {
		t.Errorf("rebuilt %s (%d transfers, %d fen) differs from the export %s:\n%s\nvs\n%s", got.Name, got.Transfers, got.TotalFen, jk.Name, got.CSV, jk.CSV)
	}
	var n int64
	f.db.Model(&model.AuditLog{}).Where("action = ? AND target = ?", "payment.rebuild", fmt.Sprintf("batch:%d", jk.BatchID)).Count(&n)
	if n != 1 {
		t.Errorf("audit rows for the rebuild = %d, want 1", n)
	}
	if _, err := f.pay.Rebuild(ctx, 999_999, asActor("op2")); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("unknown batch = %v, want NotFound", err)
	}

	// 乙's card changed after the export: the file can no longer be what was exported.
	nc := f.cipher.Seal(pii.KindJingCard, "6217990000009999")
	f.db.Model(&model.Member{}).Where("id = ?", b.ID).Updates(map[string]any{"jing_card_enc": nc.Enc, "jing_card_hash": nc.Hash, "jing_card_last4": nc.Last4})
	if _, err := f.pay.Rebuild(ctx, jk.BatchID, asActor("op2")); code(err) != "payment.account_changed" {
		t.Errorf("rebuild after an account change = %v, want payment.account_changed", err)
	}

	// The bank answered for the ICBC batch: rebuilding it could pay twice.
	rows := readCSV(t, byBank[model.BankICBC].CSV)
	result := "转账编号,结果,原因,到账时间\n" + rows[1][0] + ",成功,,2026-11-20 09:30:00\n"
	if _, err := f.pay.ImportResult(ctx, "icbc.csv", strings.NewReader(result), asActor("op")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pay.Rebuild(ctx, byBank[model.BankICBC].BatchID, asActor("op2")); code(err) != "payment.batch_answered" {
		t.Errorf("rebuild of an answered batch = %v, want payment.batch_answered", err)
	}
}

func code(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Code
	}
	return ""
}
