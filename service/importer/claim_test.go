package importer

import (
	"context"
	"strings"
	"testing"

	"huzhu/model"
)

// TestMedicalLeavesClaimsRecordsAlone: a 医保 row whose number equals the record a confirmed
// claim became is reported, and the claim's record keeps its bill and source.
func TestMedicalLeavesClaimsRecordsAlone(t *testing.T) {
	s, db, _ := newService(t)
	if _, err := s.Roster(context.Background(), "r.csv", strings.NewReader(roster(
		"U001,示例工会,张一,"+idA+",900000000001,6217990000000001,,,,,,,,,",
	)), asActor("staff")); err != nil {
		t.Fatal(err)
	}
	var m model.Member
	if err := db.Take(&m).Error; err != nil {
		t.Fatal(err)
	}
	claimed := model.MedicalRecord{RecordNo: "CLAIM-1", MemberID: m.ID, ClaimType: model.ClaimInpatient, VisitDate: "2026-03-01",
		DischargeDate: "2026-03-09", Hospital: "河北示例医院", TotalFen: 500000, SelfPay1Fen: 200000, Source: model.SourceApplication, ClaimID: 1}
	if err := db.Create(&claimed).Error; err != nil {
		t.Fatal(err)
	}
	file := medicalHeader + "CLAIM-1,900000000001,,门诊,2026-03-14,,示例医院,1000.00,600.00,300.00,50.00,50.00,0,否\n"
	rep, err := s.Medical(context.Background(), "yb.csv", strings.NewReader(file), asActor("staff"))
	if err != nil {
		t.Fatal(err)
	}
	if got := problems(rep)[2]; !strings.Contains(got, "补充申请") {
		t.Errorf("row 2: %q, want the clash with a claim reported", got)
	}
	var after model.MedicalRecord
	if err := db.Take(&after, claimed.ID).Error; err != nil {
		t.Fatal(err)
	}
	if after.Source != model.SourceApplication || after.SelfPay1Fen != 200000 || after.ClaimType != model.ClaimInpatient {
		t.Errorf("the claim's record became %+v", after)
	}
}
