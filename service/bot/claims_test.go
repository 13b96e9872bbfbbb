package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"huzhu/model"
)

func TestMyClaimsAnswer(t *testing.T) {
	b, db := newTestBot(t)
	ctx := context.Background()
	if got, _ := b.Chat(ctx, "n", 8, "我的申请到哪一步了"); !strings.Contains(got, "还没有补充申请") {
		t.Errorf("no claims: %q", got)
	}
	arrived := testNow.Add(-24 * time.Hour)
	rec := model.MedicalRecord{RecordNo: "CLAIM-1", MemberID: 8, ClaimType: model.ClaimInpatient, VisitDate: "2025-03-02",
		Source: model.SourceApplication, ClaimID: 1}
	must(t, db.Create(&rec).Error)
	must(t, db.Create(&model.PayoutLine{RunID: 1, MemberID: 8, RecordID: rec.ID, Year: 2025, ClaimType: model.ClaimInpatient, BillDate: "2025-03-02",
		AmountFen: 123400, Eligible: true, Status: model.LineArrived, ArrivedAt: &arrived}).Error)
	must(t, db.Create(&model.Claim{ID: 1, MemberID: 8, UnionID: 1, Status: model.ClaimConfirmed, Kind: model.ClaimRemoteEmergency,
		ClaimType: model.ClaimInpatient, VisitDate: "2025-03-02", Hospital: "河北示例医院", RecordID: rec.ID}).Error)
	must(t, db.Create(&model.Claim{ID: 2, MemberID: 8, UnionID: 1, Status: model.ClaimReturned, Kind: model.ClaimAboveCap,
		ClaimType: model.ClaimSpecialInpatient, VisitDate: "2025-04-01", Hospital: "北京示例医院", ReturnNote: "收据看不清"}).Error)
	must(t, db.Create(&model.Claim{ID: 3, MemberID: 9, UnionID: 1, Status: model.ClaimSubmitted, Kind: model.ClaimAboveCap,
		ClaimType: model.ClaimOutpatient, VisitDate: "2025-04-01", Hospital: "别人的医院"}).Error)
	got, err := b.Chat(ctx, "m", 8, "我的申请到哪一步了")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"编号2（北京示例医院 2025-04-01）：退回补充——收据看不清", "编号1（河北示例医院 2025-03-02）：已到账，1,234.00元"} {
		if !strings.Contains(got, want) {
			t.Errorf("Chat = %q, want %q", got, want)
		}
	}
	if strings.Contains(got, "别人的医院") {
		t.Errorf("Chat shows another member's claim: %q", got)
	}
	if got, _ := b.Chat(ctx, "u", 0, "我的申请到哪一步了"); !strings.Contains(got, "绑定") || strings.Contains(got, "编号") {
		t.Errorf("unbound: %q", got)
	}
}
