package importer

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"huzhu/model"
	"huzhu/service/sheet/sheettest"
)

// TestReportCSVIsSafe: a problem report quotes what the staff's file held, in any column; no
// cell of it may run in Excel or WPS, and nothing is lost.
func TestReportCSVIsSafe(t *testing.T) {
	var rep Report
	for i, p := range sheettest.Payloads() {
		rep.Problems = append(rep.Problems, Problem{Row: i + 2, Column: p, Message: p})
	}
	b := rep.CSV()
	if bad := sheettest.UnsafeCells(t, b, 0); len(bad) > 0 {
		t.Errorf("Report.CSV has cells a spreadsheet would run:\n%s", strings.Join(bad, "\n"))
	}
	for _, p := range sheettest.Payloads() {
		if !sheettest.Holds(t, b, p) {
			t.Errorf("Report.CSV lost %q", p)
		}
	}
}

// TestProblemsCSVNeutralisesStoredReports: a report stored before cells were neutralised is
// served safe all the same.
func TestProblemsCSVNeutralisesStoredReports(t *testing.T) {
	s, db, _ := newService(t)
	var old bytes.Buffer
	w := csv.NewWriter(&old) // as reports were written before sheet.Writer
	_ = w.Write([]string{"行号", "列", "问题"})
	for i, p := range sheettest.Payloads() {
		_ = w.Write([]string{fmt.Sprint(i + 2), p, p})
	}
	w.Flush()
	batch := model.ImportBatch{Kind: model.ImportRoster, FileName: "old.csv", Status: model.ImportDone, RowsBad: 1, Report: old.String(), CreatedBy: "staff"}
	if err := db.Create(&batch).Error; err != nil {
		t.Fatal(err)
	}
	b, err := s.ProblemsCSV(context.Background(), batch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\ufeff")) {
		t.Errorf("ProblemsCSV = %q…, want a byte order mark for Excel", b[:min(len(b), 12)])
	}
	if bad := sheettest.UnsafeCells(t, b, 0); len(bad) > 0 {
		t.Errorf("ProblemsCSV of an old report has cells a spreadsheet would run:\n%s", strings.Join(bad, "\n"))
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff")))).ReadAll()
	if err != nil || len(rows) != len(sheettest.Payloads())+1 || rows[1][0] != "2" {
		t.Errorf("ProblemsCSV rows = %q, %v; want every row, row numbers as numbers", rows, err)
	}
}

// TestImportProblemsWithPayloadsAreSafe: roster and 医保 files whose cells hold the OWASP
// payloads, imported for real; the problem report each leaves is safe to open.
func TestImportProblemsWithPayloadsAreSafe(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	var rosterRows, medicalRows []string
	q := func(p string) string { return `"` + strings.ReplaceAll(p, `"`, `""`) + `"` }
	for _, p := range sheettest.Payloads() {
		rosterRows = append(rosterRows, strings.Join([]string{q(p), q(p), q(p), q(p), q(p), "", q(p), q(p), q(p), q(p), "", "", q(p), q(p), q(p)}, ","))
		medicalRows = append(medicalRows, strings.Join([]string{q(p), q(p), q(p), q(p), q(p), q(p), q(p)}, ","))
	}
	rep, err := s.Roster(ctx, "r.csv", strings.NewReader(roster(rosterRows...)), asActor("staff"))
	if err != nil || rep.Bad == 0 {
		t.Fatalf("Roster = %+v, %v; want bad rows", rep, err)
	}
	medical := "结算单号,社保卡号,类别,就诊日期,医院,医疗费总额,自付一\n" + strings.Join(medicalRows, "\n") + "\n"
	mrep, err := s.Medical(ctx, "m.csv", strings.NewReader(medical), asActor("staff"))
	if err != nil || mrep.Bad == 0 {
		t.Fatalf("Medical = %+v, %v; want bad rows", mrep, err)
	}
	for _, r := range []Report{rep, mrep} {
		b, err := s.ProblemsCSV(ctx, r.BatchID)
		if err != nil {
			t.Fatal(err)
		}
		if bad := sheettest.UnsafeCells(t, b, 0); len(bad) > 0 {
			t.Errorf("%s problems CSV has cells a spreadsheet would run:\n%s", r.Kind, strings.Join(bad, "\n"))
		}
		if bad := sheettest.UnsafeCells(t, r.CSV(), 0); len(bad) > 0 {
			t.Errorf("%s Report.CSV has cells a spreadsheet would run:\n%s", r.Kind, strings.Join(bad, "\n"))
		}
	}
}

// TestTemplateCellsAreSafe: the import templates hold no cell a spreadsheet would run.
func TestTemplateCellsAreSafe(t *testing.T) {
	for _, kind := range []model.ImportKind{model.ImportRoster, model.ImportMedical} {
		b, err := Template(kind)
		if err != nil {
			t.Fatal(err)
		}
		f, err := excelize.OpenReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range f.GetSheetList() {
			rows, err := f.GetRows(name, excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			for i, row := range rows {
				for j, cell := range row {
					if sheettest.Unsafe(cell, false) {
						t.Errorf("%s template, sheet %s, row %d column %d = %q", kind, name, i+1, j+1, cell)
					}
				}
			}
		}
		_ = f.Close()
	}
}
