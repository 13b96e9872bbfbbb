package admin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"huzhu/model"
)

// TestMoneyAuditRows goes through a quarter's money in the console — compute, approve, export,
// download, a failed bank result, re-issue — and checks that every audit row of a money action
// says who acted in which role, from which address, through which door and for which union:
// the person's own union, or, for a re-issue, the union of the member paid.
func TestMoneyAuditRows(t *testing.T) {
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
	if res, body := op2.post(fmt.Sprintf("/admin/runs/%d/approve", run.ID), nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve = %d: %.300s", res.StatusCode, body)
	}
	failed := strings.ReplaceAll(string(bankResult(t, exportFiles(t, op1, run.ID))), ",成功", ",失败")
	if j, _ := op1.finish(op1.upload("/admin/payments/results", nil, "result.csv", []byte(failed))); j.Status != model.JobDone {
		t.Fatalf("result job = %s", j.Status)
	}
	var tr model.Transfer
	if err := w.db.Take(&tr).Error; err != nil || tr.Status != model.LineFailed {
		t.Fatalf("transfer = %+v, %v; want failed", tr, err)
	}
	if res, body := op2.post("/admin/payments/reissue", url.Values{"id": {fmt.Sprint(tr.ID)}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reissue = %d: %.300s", res.StatusCode, body)
	}
	var member model.Member
	if err := w.db.Take(&member, tr.MemberID).Error; err != nil {
		t.Fatal(err)
	}

	want := map[string]struct {
		actor string
		union uint64
	}{
		"import.medical":        {"op1", 0},
		"run.compute":           {"op1", 0},
		"run.approve":           {"op2", 0},
		"payment.export":        {"op1", 0},
		"job.download":          {"op1", 0},
		"payment.import_result": {"op1", 0},
		"payment.reissue":       {"op2", member.UnionID},
	}
	for action, wt := range want {
		var rows []model.AuditLog
		if err := w.db.Where("action = ?", action).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			t.Errorf("no audit row %s", action)
			continue
		}
		for _, r := range rows {
			if r.Actor != wt.actor || r.Role != string(model.RoleOperator) || r.IP == "" || r.Via != string(model.ViaConsole) || r.UnionID != wt.union {
				t.Errorf("audit row %s = actor %q role %q ip %q via %q union %d; want %s, operator, an address, console, union %d",
					action, r.Actor, r.Role, r.IP, r.Via, r.UnionID, wt.actor, wt.union)
			}
		}
	}
	if member.UnionID == 0 {
		t.Fatal("the member has no union: the re-issue's union is not tested")
	}
}

// TestServicesDecide: the console's money routes carry no role check of their own, yet an
// auditor is refused each of them (by the service), and nothing is recorded as done.
func TestServicesDecide(t *testing.T) {
	w := newWorld(t)
	aud := w.login("aud")
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/admin/runs", url.Values{"period": {"2025-Q1"}}},
		{"/admin/runs/1/approve", nil},
		{"/admin/payments/export", url.Values{"run_id": {"1"}}},
		{"/admin/payments/rebuild", url.Values{"batch_id": {"1"}}},
		{"/admin/payments/reissue", url.Values{"id": {"1"}}},
		{"/admin/notifications/retry", url.Values{"id": {"1"}}},
	} {
		if res, body := aud.post(tc.path, tc.form); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "不能进行这项操作") {
			t.Errorf("auditor POST %s = %d, want 403 from the service: %.300s", tc.path, res.StatusCode, body)
		}
	}
	var jobs int64
	w.db.Model(&model.Job{}).Count(&jobs)
	if jobs != 0 {
		t.Errorf("%d jobs started for an auditor, want none", jobs)
	}
}
