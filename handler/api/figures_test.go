package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/bot"
	"huzhu/service/calendar"
	"huzhu/service/kv/kvtest"
	"huzhu/service/payout"
	"huzhu/service/policy"
)

// TestFiguresAgree walks the seeded members' payout lines through draft, approved,
// transferring, arrived and failed, and a mix of them with a run in draft beside paid ones, and
// checks that the mini-program (GET /payouts totals, GET /estimates/unsettled years) and the
// bot (今年报了多少, 还能报多少) tell each member the same figures. Issue 16: while a draft run
// existed, the bot's 还可以报 left the draft out and the mini-program's left it in.
func TestFiguresAgree(t *testing.T) {
	w := newWorld(t)
	a, b, c := w.seed(t)
	ctx := context.Background()
	engine, err := policy.Load(config.PolicyYAML)
	must(t, err)
	kb, err := bot.ParseFAQ(config.FAQYAML, engine.Versions(), bot.Links{}, bot.Thresholds{})
	must(t, err)
	cal := calendar.New(model.Shanghai)
	bt := bot.New(kb, cal, w.db, payout.New(w.db, engine, cal, payout.Options{}, w.clock), kvtest.New(t), bot.Options{}, w.clock, nil)

	people := []person{a, b, c}
	tokens := map[uint64]string{}
	for _, p := range people {
		tokens[p.ID] = w.loginBound(t, p)
	}
	// A run in draft beside the paid ones: a second inpatient month for B, awaiting approval.
	draftRun := model.SettlementRun{Period: "2025-03", Class: model.ClassInpatient, Status: model.RunDraft, CreatedBy: "test"}
	must(t, w.db.Create(&draftRun).Error)
	rec := model.MedicalRecord{RecordNo: "R9", MemberID: b.ID, ClaimType: model.ClaimInpatient, VisitDate: "2025-03-12",
		Hospital: "示例区医院", SelfPay1Fen: 400000, TotalFen: 900000, FundPaidFen: 500000, SettlementRunID: draftRun.ID}
	must(t, w.db.Create(&rec).Error)
	must(t, w.db.Create(&model.PayoutLine{RunID: draftRun.ID, MemberID: b.ID, RecordID: rec.ID, Year: 2025,
		ClaimType: model.ClaimInpatient, BillDate: "2025-03-12", PolicyCode: "2021", AmountFen: 240000, Eligible: true,
		Status: model.LineComputed}).Error)

	check := func(t *testing.T, p person) {
		t.Helper()
		tot := w.call(t, "GET", "/api/v1/payouts?year=2025", tokens[p.ID], "").m["totals"].(map[string]any)
		fen := func(k string) model.Fen { return model.Fen(int64(tot[k].(float64))) }
		left, arrived, onTheWay, draft := fen("left_fen"), fen("arrived_fen"), fen("on_the_way_fen"), fen("draft_fen")
		if fen("computed_fen") != arrived+onTheWay+draft {
			t.Errorf("%s: totals %v: computed is not arrived + on the way + draft", p.Name, tot)
		}
		est := w.call(t, "GET", "/api/v1/estimates/unsettled", tokens[p.ID], "")
		for _, y := range est.m["years"].([]any) {
			y := y.(map[string]any)
			if y["year"] != 2025.0 {
				continue
			}
			paid, estLeft, estimate := model.Fen(int64(y["paid_fen"].(float64))), model.Fen(int64(y["left_fen"].(float64))),
				model.Fen(int64(y["estimate_fen"].(float64)))
			if paid != fen("computed_fen") || estLeft != max(left-estimate, 0) {
				t.Errorf("%s: estimate year %v, want paid %d and left %d − %d as GET /payouts says", p.Name, y, fen("computed_fen"), left, estimate)
			}
		}
		yuan := func(f model.Fen) string { return f.YuanGrouped() + "元" }
		remaining, err := bt.Chat(ctx, "figures", p.ID, "还能报多少")
		must(t, err)
		wants := []string{"还可以报" + yuan(left), "已审核" + yuan(arrived+onTheWay)}
		if draft > 0 {
			wants = append(wants, yuan(draft)+"正在审核")
		}
		for _, want := range wants {
			if !strings.Contains(remaining, want) {
				t.Errorf("%s: bot 还能报多少 = %q, want %q (GET /payouts totals %v)", p.Name, remaining, want, tot)
			}
		}
		total, err := bt.Chat(ctx, "figures", p.ID, "今年报了多少")
		must(t, err)
		if arrived+onTheWay == 0 && draft == 0 {
			if !strings.Contains(total, "还没有核算出互助金") {
				t.Errorf("%s: bot 今年报了多少 = %q, want none yet", p.Name, total)
			}
			return
		}
		wants = []string{"共" + yuan(arrived+onTheWay), "已到账" + yuan(arrived)}
		if onTheWay > 0 {
			wants = append(wants, "正在发放"+yuan(onTheWay))
		}
		if draft > 0 {
			wants = append(wants, yuan(draft)+"正在审核")
		}
		for _, want := range wants {
			if !strings.Contains(total, want) {
				t.Errorf("%s: bot 今年报了多少 = %q, want %q (GET /payouts totals %v)", p.Name, total, want, tot)
			}
		}
	}

	t.Run("as seeded, with a run in draft", func(t *testing.T) {
		for _, p := range people {
			check(t, p)
		}
	})
	for _, st := range []model.LineStatus{model.LineComputed, model.LineApproved, model.LineTransfering, model.LineArrived, model.LineFailed} {
		t.Run(fmt.Sprintf("every line %s", st), func(t *testing.T) {
			must(t, w.db.Model(&model.PayoutLine{}).Where("member_id IN ?", []uint64{a.ID, b.ID, c.ID}).Update("status", st).Error)
			for _, p := range people {
				check(t, p)
			}
		})
	}
}
