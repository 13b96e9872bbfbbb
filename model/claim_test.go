package model

import "testing"

func TestClaimStatusTransitions(t *testing.T) {
	paths := [][]ClaimStatus{
		{ClaimDraft, ClaimSubmitted, ClaimReturned, ClaimSubmitted, ClaimUnionApproved, ClaimConfirmed, ClaimSettled, ClaimPaid},
		{ClaimDraft, ClaimSubmitted, ClaimUnionApproved, ClaimReturned, ClaimSubmitted}, // 办事处 sends it back
		{ClaimDraft, ClaimWithdrawn},
		{ClaimSubmitted, ClaimWithdrawn},
		{ClaimReturned, ClaimWithdrawn},
		{ClaimUnionApproved, ClaimWithdrawn},
	}
	for _, path := range paths {
		for i := 1; i < len(path); i++ {
			if !path[i-1].CanTransitionTo(path[i]) {
				t.Errorf("%s → %s refused, want allowed", path[i-1], path[i])
			}
		}
	}
	for _, bad := range [][2]ClaimStatus{
		{ClaimDraft, ClaimUnionApproved},     // no review of an unsubmitted claim
		{ClaimSubmitted, ClaimConfirmed},     // 办事处 confirms only what the union approved
		{ClaimReturned, ClaimUnionApproved},  // a returned claim is resubmitted first
		{ClaimConfirmed, ClaimWithdrawn},     // a confirmed claim is a record in the money flow
		{ClaimConfirmed, ClaimReturned},      // likewise
		{ClaimWithdrawn, ClaimSubmitted},     // withdrawal is final
		{ClaimPaid, ClaimSettled},            // money does not go back
		{ClaimUnionApproved, ClaimSubmitted}, // no way round the union's decision
	} {
		if bad[0].CanTransitionTo(bad[1]) {
			t.Errorf("%s → %s allowed, want refused", bad[0], bad[1])
		}
	}
	for _, s := range ClaimStatuses {
		if !s.Valid() || s.Label() == string(s) {
			t.Errorf("status %q has no Chinese label", s)
		}
	}
}

func TestClaimKindsNeedDocuments(t *testing.T) {
	for _, k := range ClaimKinds {
		docs := k.RequiredDocs()
		if len(docs) == 0 {
			t.Errorf("%s needs no documents; every kind needs the receipt at least", k)
		}
		hasReceipt := false
		for _, d := range docs {
			hasReceipt = hasReceipt || d == DocReceipt
		}
		if !hasReceipt {
			t.Errorf("%s.RequiredDocs() = %v, want the receipt among them", k, docs)
		}
	}
	if docs := ClaimRemoteEmergency.RequiredDocs(); docs[len(docs)-1] != DocEmergency {
		t.Errorf("remote emergency needs %v, want the 急诊章 proof", docs)
	}
}

func TestSameBill(t *testing.T) {
	base := MedicalRecord{MemberID: 1, VisitDate: "2026-10-02", DischargeDate: "2026-10-20", Hospital: "河北省 第一医院", SelfPay1Fen: 12345}
	tests := []struct {
		name   string
		change func(*MedicalRecord)
		want   bool
	}{
		{"identical", func(*MedicalRecord) {}, true},
		{"spaces in the hospital", func(r *MedicalRecord) { r.Hospital = "河北省第一医院　" }, true},
		{"other member", func(r *MedicalRecord) { r.MemberID = 2 }, false},
		{"other hospital", func(r *MedicalRecord) { r.Hospital = "河北省第二医院" }, false},
		{"other visit date", func(r *MedicalRecord) { r.VisitDate = "2026-10-03" }, false},
		{"other discharge date", func(r *MedicalRecord) { r.DischargeDate = "" }, false},
		{"other 自付一", func(r *MedicalRecord) { r.SelfPay1Fen++ }, false},
		{"other total only", func(r *MedicalRecord) { r.TotalFen = 1 }, true},
	}
	for _, tc := range tests {
		b := base
		tc.change(&b)
		if got := SameBill(base, b); got != tc.want {
			t.Errorf("%s: SameBill = %v, want %v", tc.name, got, tc.want)
		}
	}
}
