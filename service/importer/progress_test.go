package importer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/xuri/excelize/v2"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/pii"
	"huzhu/service/progress/progresstest"
)

// idNumber returns a synthetic ID number (unused area 110199) with a valid check digit.
func idNumber(i int) string {
	first := fmt.Sprintf("110199198%d%04d%03d", i%10, 101+i%28, i%1000)[:17]
	return first + string(pii.CheckDigit(first))
}

// noSize hides a reader's Size method.
type noSize struct{ io.Reader }

func medicalFile(rows int) string {
	var b strings.Builder
	b.WriteString(medicalHeader)
	for i := range rows {
		fmt.Fprintf(&b, "P%06d,900000000001,,门诊,2026-03-14,,示例医院,100.00,60.00,30.00,5.00,5.00,0,否\n", i)
	}
	return b.String()
}

func TestImportReportsProgress(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	if _, err := s.Roster(ctx, "r.csv", strings.NewReader(roster("U001,示例工会,张一,"+idA+",900000000001,,,,,,,,,,")), asActor("staff")); err != nil {
		t.Fatal(err)
	}
	file := medicalFile(3000) // ~260 KB: rows stream after the first 64 KB
	xlsx := excelize.NewFile()
	for i, row := range strings.Split(strings.TrimSpace(medicalFile(30)), "\n") {
		cells := strings.Split(row, ",")
		vals := make([]any, len(cells))
		for j, c := range cells {
			vals[j] = c
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := xlsx.SetSheetRow("Sheet1", cell, &vals); err != nil {
			t.Fatal(err)
		}
	}
	var xb bytes.Buffer
	if err := xlsx.Write(&xb); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		r         io.Reader
		rows      int64
		wantTotal int64 // of every report but the last; 0: unknown
	}{
		{"CSV of known size: bytes", strings.NewReader(file), 3000, int64(len(file))},
		{"CSV of unknown size: rows", noSize{strings.NewReader(file)}, 3000, 0},
		{"XLSX, read whole to open: rows", bytes.NewReader(xb.Bytes()), 30, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec progresstest.Recorder
			rep, err := s.Medical(rec.Context(), "yb", tc.r, asActor("staff"))
			if err != nil || int64(rep.Rows) != tc.rows {
				t.Fatalf("Medical = %+v, %v; want %d rows", rep, err, tc.rows)
			}
			got := rec.Reports()
			if len(got) < 10 {
				t.Fatalf("%d progress reports for %d rows in batches of 2, want many: %v", len(got), tc.rows, got)
			}
			for i, g := range got[:len(got)-1] {
				if g[1] != tc.wantTotal || (i > 0 && g[0] < got[i-1][0]) {
					t.Fatalf("report %d = %d/%d after %d; want rising, total %d", i, g[0], g[1], got[max(i-1, 0)][0], tc.wantTotal)
				}
			}
			if tc.wantTotal > 0 && got[len(got)/2][0] >= tc.wantTotal {
				t.Errorf("half-way report = %v, want below the total %d", got[len(got)/2], tc.wantTotal)
			}
			last := got[len(got)-1]
			if want := max(tc.wantTotal, tc.rows); last[0] != want || last[1] != want {
				t.Errorf("last report = %v, want %d/%d", last, want, want)
			}
		})
	}
}

// TestConcurrentImportsOfOneFileDoubleNothing: staff who upload the same file twice at once get
// two good reports and every member and record once.
func TestConcurrentImportsOfOneFileDoubleNothing(t *testing.T) {
	s, db, _ := newService(t)
	s.o.BatchSize = 50
	const n = 400
	var rows []string
	for i := range n {
		rows = append(rows, fmt.Sprintf("U%03d,工会%d,职工%c,%s,9%011d,,,,,,,,,,", i%7, i%7, rune(0x4e00+i), idNumber(i), i))
	}
	rosterFile := roster(rows...)
	var med strings.Builder
	med.WriteString(medicalHeader)
	for i := range n {
		fmt.Fprintf(&med, "C%05d,9%011d,,门诊,2026-03-14,,示例医院,100.00,60.00,30.00,5.00,5.00,0,否\n", i, i)
	}
	for _, kind := range []model.ImportKind{model.ImportRoster, model.ImportMedical} {
		t.Run(string(kind), func(t *testing.T) {
			var wg sync.WaitGroup
			reps := make([]Report, 3)
			errList := make([]error, 3)
			for i := range reps {
				wg.Go(func() {
					if kind == model.ImportRoster {
						reps[i], errList[i] = s.Roster(context.Background(), "same.csv", strings.NewReader(rosterFile), asActor("staff"))
					} else {
						reps[i], errList[i] = s.Medical(context.Background(), "same.csv", strings.NewReader(med.String()), asActor("staff"))
					}
				})
			}
			wg.Wait()
			added := 0
			for i, rep := range reps {
				if errList[i] != nil || rep.Bad != 0 || rep.Added+rep.Same+rep.Updated != n {
					t.Errorf("import %d = %+v (problems %v), %v; want %d good rows", i, rep, rep.Problems[:min(3, len(rep.Problems))], errList[i], n)
				}
				added += rep.Added
			}
			var members, unions, records int64
			db.Model(&model.Member{}).Count(&members)
			db.Model(&model.Union{}).Count(&unions)
			db.Model(&model.MedicalRecord{}).Count(&records)
			if added != n || members != n || unions != 7 || (kind == model.ImportMedical && records != n) {
				t.Errorf("after 3 imports at once: added %d, members %d, unions %d, records %d; want %d, %d, 7, %d",
					added, members, unions, records, n, n, n)
			}
		})
	}
}

func TestProblemsCSV(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	rep, err := s.Roster(ctx, "r.csv", strings.NewReader(roster("U001,示例工会,张一,110199199001010011,,,,,,,,,,,")), asActor("staff"))
	if err != nil || rep.Bad != 1 {
		t.Fatalf("Roster = %+v, %v; want one bad row", rep, err)
	}
	b, err := s.ProblemsCSV(ctx, rep.BatchID)
	if err != nil || !bytes.HasPrefix(b, []byte("\ufeff\"行号\",\"列\",\"问题\"\n\"2\",\"身份证号\",")) || bytes.Contains(b, []byte("110199199001010011")) {
		t.Errorf("ProblemsCSV = %q, %v; want the bad row named by row and column, without the number", b, err)
	}
	good, _ := s.Roster(ctx, "r.csv", strings.NewReader(roster("U001,示例工会,张一,"+idA+",,,,,,,,,,,")), asActor("staff"))
	for _, id := range []uint64{good.BatchID, 99999} {
		if _, err := s.ProblemsCSV(ctx, id); errs.KindOf(err) != errs.KindNotFound {
			t.Errorf("ProblemsCSV(%d) = %v, want NotFound", id, err)
		}
	}
}
