package payment

import (
	"context"
	"strings"
	"testing"
	"time"

	"huzhu/model"
	"huzhu/service/importer"
)

// TestWorkedExampleFromFiles runs the seeds' worked example through every file staff and banks
// exchange: roster and 医保 files in, a quarter of inpatient months settled, the transfer file
// out, the bank's result in, and the arrival notice queued: 200,653.00 yuan to 尾号0001.
func TestWorkedExampleFromFiles(t *testing.T) {
	f := newFixture(t)
	imp := importer.New(f.db, f.cipher, importer.Options{}, func() time.Time { return now }, nil)
	ctx := context.Background()
	roster := "工会编码,工会名称,姓名,身份证号,社保卡号,京卡卡号\nTZ01,通州示例工会,李先生,110199199001010010,900000000001,6217990000000001\n"
	if rep, err := imp.Roster(ctx, "roster.csv", strings.NewReader(roster), asActor("staff")); err != nil || rep.Added != 1 {
		t.Fatalf("roster = %+v, %v", rep, err)
	}
	var yb strings.Builder
	yb.WriteString("结算单号,社保卡号,类别,就诊日期,出院日期,医疗费总额,自付一,超封顶线自付一,重大疾病\n")
	for _, m := range []string{"01", "02", "03"} {
		// 190,000 above the cap a month: 570,000 in the quarter.
		yb.WriteString("ZY2026" + m + ",900000000001,特病住院,2026-" + m + "-05,2026-" + m + "-25,250000,12000,190000,是\n")
	}
	if rep, err := imp.Medical(ctx, "yb.csv", strings.NewReader(yb.String()), asActor("staff")); err != nil || rep.Added != 3 {
		t.Fatalf("medical = %+v, %v", rep, err)
	}
	var total model.Fen
	var runs []model.SettlementRun
	for _, p := range []string{"2026-01", "2026-02", "2026-03"} {
		run := f.approved(p)
		total += run.TotalFen
		runs = append(runs, run)
	}
	if total != 20065300 {
		t.Fatalf("paid over the quarter = %s, want ¥200653.00 (the cap)", total)
	}
	var arrived model.Fen
	for _, run := range runs {
		exp, err := f.pay.Export(ctx, run.ID, asActor("op"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range exp.Files {
			rows := readCSV(t, file.CSV)
			result := "转账编号,结果,到账时间\n"
			for _, r := range rows[1:] {
				result += r[0] + ",成功,2026-04-28 10:00:00\n"
			}
			if rep, err := f.pay.ImportResult(ctx, "result.csv", strings.NewReader(result), asActor("op")); err != nil || len(rep.Problems) > 0 {
				t.Fatalf("result = %+v, %v", rep, err)
			}
		}
		rec, err := f.pay.Reconcile(ctx, run.ID)
		if err != nil || !rec.Balanced() {
			t.Errorf("run %s: Reconcile = %+v, %v", run.Period, rec, err)
		}
		arrived += rec.Arrived
	}
	year, err := f.pay.ReconcileYear(ctx, 2026)
	if err != nil || len(year.Runs) != 3 || !year.Total.Balanced() || year.Total.Arrived != 20065300 || year.Total.Records != 3 {
		t.Errorf("ReconcileYear(2026) = %+v, %v", year.Total, err)
	}
	ns := f.notices(model.NoticeArrived)
	if arrived != 20065300 || len(ns) == 0 {
		t.Errorf("arrived %s in %d notices, want ¥200653.00", arrived, len(ns))
	}
	for _, n := range ns {
		if !strings.Contains(n.Payload, `"account_last4":"0001"`) {
			t.Errorf("notice payload %s does not name 尾号0001", n.Payload)
		}
	}
}
