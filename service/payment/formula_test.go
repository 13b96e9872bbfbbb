package payment

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"huzhu/model"
	"huzhu/service/sheet/sheettest"
)

// amountColumn is the 0-based column of 金额(元) in a bank file: the only one that may hold a
// plain (negative) number.
const amountColumn = 5

// TestExportHoldsFormulaNames: a roster name that Excel or WPS would run as a formula (the OWASP
// payloads) never reaches a bank file. The bank needs 户名 exactly, so it cannot be neutralised
// either: the member is held, named by id with how to fix it, their lines stay approved, and
// once the roster is corrected the next export pays them. No cell of any file is unsafe.
func TestExportHoldsFormulaNames(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	good := f.member("张三", "6217990000001111", "", "")
	f.record(good, model.ClaimInpatient, "2026-10-08", 100000, 0)
	held := map[uint64]string{} // member id → name
	var written []string        // names that are not formulas, however odd: written exactly
	for i, p := range sheettest.Payloads() {
		var m model.Member
		if i%2 == 0 {
			m = f.member(p, fmt.Sprintf("62179900000%05d", i), "", "")
		} else {
			m = f.member(p, "", model.BankICBC, fmt.Sprintf("62220200000%05d", i))
		}
		f.record(m, model.ClaimInpatient, "2026-10-08", 100000, 0)
		if sheettest.Unsafe(p, false) {
			held[m.ID] = p
		} else {
			written = append(written, p)
		}
	}
	if len(held) < 10 {
		t.Fatalf("only %d payloads are formulas; the test would prove little", len(held))
	}
	run := f.approved("2026-10")
	exp, err := f.pay.Export(ctx, run.ID, asActor("op"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range exp.Files {
		if bad := sheettest.UnsafeCells(t, fl.CSV, amountColumn); len(bad) > 0 {
			t.Errorf("%s has cells a spreadsheet would run:\n%s", fl.Name, strings.Join(bad, "\n"))
		}
		for _, row := range readCSV(t, fl.CSV)[1:] {
			if strings.HasPrefix(row[3], "'") {
				t.Errorf("%s: 户名 %q was changed; the bank needs it exactly", fl.Name, row[3])
			}
		}
	}
	for _, name := range append(written, "张三") {
		found := false
		for _, fl := range exp.Files {
			found = found || slices.ContainsFunc(readCSV(t, fl.CSV), func(r []string) bool { return r[3] == name })
		}
		if !found {
			t.Errorf("name %q, which is no formula, is not in the files as it is", name)
		}
	}
	var heldIDs []uint64
	for _, h := range exp.Held {
		heldIDs = append(heldIDs, h.MemberID)
		if !strings.Contains(h.Message, fmt.Sprintf("会员 %d ", h.MemberID)) || !strings.Contains(h.Message, "花名册") {
			t.Errorf("Held message %q: want the member id and how to fix it (the roster)", h.Message)
		}
		if strings.Contains(h.Message, held[h.MemberID]) {
			t.Errorf("Held message %q repeats the formula", h.Message)
		}
	}
	want := make([]uint64, 0, len(held))
	for id := range held {
		want = append(want, id)
	}
	slices.Sort(want)
	if !slices.Equal(heldIDs, want) {
		t.Fatalf("Held members = %v, want %v", heldIDs, want)
	}
	var transfers int64
	f.db.Model(&model.Transfer{}).Where("member_id IN ?", want).Count(&transfers)
	var approved int64
	f.db.Model(&model.PayoutLine{}).Where("member_id IN ? AND status = ?", want, model.LineApproved).Count(&approved)
	if transfers != 0 || approved != int64(len(want)) {
		t.Errorf("held members have %d transfers and %d approved lines; want 0 and %d", transfers, approved, len(want))
	}
	var audit model.AuditLog
	f.db.Where("action = ?", "payment.export").Take(&audit)
	if !strings.Contains(audit.Detail, `"held_members":[`) {
		t.Errorf("export audit detail = %s, want the held members", audit.Detail)
	}

	// The roster is corrected: the next export pays them, and holds no one.
	for id := range held {
		f.db.Model(&model.Member{}).Where("id = ?", id).Update("name", fmt.Sprintf("改正%d", id))
	}
	again, err := f.pay.Export(ctx, run.ID, asActor("op"))
	if err != nil {
		t.Fatal(err)
	}
	paid := 0
	for _, fl := range again.Files {
		paid += fl.Transfers
	}
	if len(again.Held) != 0 || paid != len(held) {
		t.Errorf("export after the correction: %d transfers, held %v; want %d, none", paid, again.Held, len(held))
	}
}

// TestRebuildRefusesFormulaName: a name that became a formula after the export (old data, an
// edit) stops Rebuild with payment.name_unsafe naming the member and transfer, not a file that
// runs in Excel.
func TestRebuildRefusesFormulaName(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.member("甲", "6217990000001111", "", "")
	b := f.member("乙", "6217990000002222", "", "")
	for _, m := range []model.Member{a, b} {
		f.record(m, model.ClaimInpatient, "2026-10-08", 100000, 0)
	}
	run := f.approved("2026-10")
	exp, err := f.pay.Export(ctx, run.ID, asActor("op"))
	if err != nil || len(exp.Files) != 1 {
		t.Fatalf("export = %+v, %v", exp, err)
	}
	for _, p := range sheettest.Payloads() {
		if !sheettest.Unsafe(p, false) {
			continue
		}
		f.db.Model(&model.Member{}).Where("id = ?", b.ID).Update("name", p)
		fl, err := f.pay.Rebuild(ctx, exp.Files[0].BatchID, asActor("op"))
		if code(err) != "payment.name_unsafe" || !strings.Contains(err.Error(), fmt.Sprintf("会员 %d ", b.ID)) {
			t.Errorf("Rebuild with name %q = %v (file %q); want payment.name_unsafe naming member %d", p, err, fl.CSV, b.ID)
		}
	}
}

// TestResultProblemsCSVIsSafe: the problem report of a bank result file quotes what the bank's
// file held; no cell of it may run in a spreadsheet.
func TestResultProblemsCSVIsSafe(t *testing.T) {
	var ps []Problem
	for i, p := range sheettest.Payloads() {
		ps = append(ps, Problem{Row: i + 2, Column: p, Message: p})
	}
	b := []byte(problemsCSV(ps))
	if bad := sheettest.UnsafeCells(t, b, 0); len(bad) > 0 {
		t.Errorf("problems CSV has cells a spreadsheet would run:\n%s", strings.Join(bad, "\n"))
	}
	for _, p := range sheettest.Payloads() {
		if !sheettest.Holds(t, b, p) {
			t.Errorf("problems CSV lost %q", p)
		}
	}
}
