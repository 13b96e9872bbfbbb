package payment

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"huzhu/model"
	"huzhu/service/progress/progresstest"
)

func TestExportReportsMembersDone(t *testing.T) {
	f := newFixture(t)
	const n = 250
	for i := range n {
		m := f.member(fmt.Sprintf("会员%d", i), fmt.Sprintf("62179900%08d", i), "", "")
		f.record(m, model.ClaimInpatient, "2026-09-03", 10000, 0)
	}
	run := f.approved("2026-09")
	var r progresstest.Recorder
	exp, err := f.pay.Export(r.Context(), run.ID, asActor("op"))
	if err != nil || len(exp.Files) != 1 || exp.Files[0].Transfers != n {
		t.Fatalf("Export = %+v, %v; want one file of %d transfers", exp, err, n)
	}
	want := [][2]int64{{0, n}, {200, n}, {n, n}}
	if fmt.Sprint(r.Reports()) != fmt.Sprint(want) {
		t.Errorf("progress = %v, want %v (every 200 members, then all)", r.Reports(), want)
	}
}

// sized gives a reader a Size, as a spooled upload has.
type sized struct {
	io.Reader
	n int64
}

func (s sized) Size() int64 { return s.n }

func TestImportResultReportsProgress(t *testing.T) {
	f := newFixture(t)
	var b strings.Builder
	b.WriteString("转账编号,结果,原因\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "HZ999-1-%d,待定,银行尚未处理这笔转账请稍后再查询结果\n", i) // rows with a bad 结果: no database work
	}
	file := b.String()
	tests := []struct {
		name      string
		r         io.Reader
		wantTotal int64
		wantLast  int64
	}{
		{"known size: bytes", sized{strings.NewReader(file), int64(len(file))}, int64(len(file)), int64(len(file))},
		{"unknown size: rows", io.MultiReader(strings.NewReader(file)), 0, 3000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r progresstest.Recorder
			rep, err := f.pay.ImportResult(r.Context(), "result.csv", tc.r, asActor("op"))
			if err != nil || rep.Rows != 3000 || len(rep.Problems) != 3000 {
				t.Fatalf("ImportResult = %d rows, %d problems, %v", rep.Rows, len(rep.Problems), err)
			}
			if len(r.Reports()) < 20 {
				t.Fatalf("%d progress reports for 3000 rows, want one per 100", len(r.Reports()))
			}
			for i, g := range r.Reports()[:len(r.Reports())-1] {
				if g[1] != tc.wantTotal || (i > 0 && g[0] < r.Reports()[i-1][0]) || (tc.wantTotal > 0 && g[0] >= tc.wantTotal) {
					t.Fatalf("report %d = %v; want rising below total %d", i, g, tc.wantTotal)
				}
			}
			if last := r.Reports()[len(r.Reports())-1]; last != [2]int64{tc.wantLast, tc.wantLast} {
				t.Errorf("last report = %v, want %d/%d", last, tc.wantLast, tc.wantLast)
			}
		})
	}
}
