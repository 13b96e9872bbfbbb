package settlement

import (
	"context"
	"testing"

	"huzhu/model"
)

// claimed makes r's twin from a confirmed supplementary claim: same member, hospital, dates and
// 自付一, another number and source.
func (f *fixture) claimed(r model.MedicalRecord, claimID uint64) model.MedicalRecord {
	f.t.Helper()
	c := r
	c.ID, c.RecordNo, c.Source, c.ClaimID, c.SettlementRunID = 0, "CLAIM-"+r.RecordNo, model.SourceApplication, claimID, 0
	if err := f.db.Create(&c).Error; err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) line(recordID uint64) model.PayoutLine {
	f.t.Helper()
	var l model.PayoutLine
	if err := f.db.Where("record_id = ?", recordID).Take(&l).Error; err != nil {
		f.t.Fatalf("line of record %d: %v", recordID, err)
	}
	return l
}

// TestBillPaidOnceWhicheverWayItCame settles a bill that came both from a worker's claim and in
// the 医保 feed, in every order: only one of the two records is ever paid.
func TestBillPaidOnceWhicheverWayItCame(t *testing.T) {
	ctx := context.Background()
	t.Run("both in one run: the claim is paid", func(t *testing.T) {
		f := newFixture(t, Options{})
		m := f.member()
		feed := f.record(m, model.ClaimInpatient, "2026-09-03", 100000, 0)
		app := f.claimed(feed, 1)
		if _, err := f.svc.Compute(ctx, f.period("2026-09", model.ClassInpatient), asActor("op")); err != nil {
			t.Fatal(err)
		}
		if l := f.line(app.ID); !l.Eligible || l.AmountFen != 50000 {
			t.Errorf("claim's line = %v %d, want paid 500.00", l.Eligible, l.AmountFen)
		}
		if l := f.line(feed.ID); l.Eligible || l.AmountFen != 0 || l.Reason != reasonDupOfClaim {
			t.Errorf("feed's line = %v %d %q, want refused as paid through the claim", l.Eligible, l.AmountFen, l.Reason)
		}
	})
	t.Run("claim paid, the feed's record comes a month later", func(t *testing.T) {
		f := newFixture(t, Options{})
		m := f.member()
		app := f.claimed(model.MedicalRecord{RecordNo: "X", MemberID: m.ID, ClaimType: model.ClaimInpatient, VisitDate: "2026-08-03",
			DischargeDate: "2026-08-09", Hospital: "河北示例医院", SelfPay1Fen: 100000, TotalFen: 300000}, 1)
		run, err := f.svc.Compute(ctx, f.period("2026-08", model.ClassInpatient), asActor("op"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Approve(ctx, run.ID, asActor("checker")); err != nil {
			t.Fatal(err)
		}
		// The hospital's name comes with a space in the feed; it is the same bill.
		feed := model.MedicalRecord{RecordNo: "YB9", MemberID: m.ID, ClaimType: model.ClaimInpatient, VisitDate: "2026-08-03",
			DischargeDate: "2026-08-09", Hospital: "河北 示例医院", SelfPay1Fen: 100000, TotalFen: 310000}
		if err := f.db.Create(&feed).Error; err != nil {
			t.Fatal(err)
		}
		// The feed record is late: it goes into the next run that includes its date.
		if _, err := f.svc.Compute(ctx, f.period("2026-09", model.ClassInpatient), asActor("op")); err != nil {
			t.Fatal(err)
		}
		if l := f.line(app.ID); !l.Eligible || l.AmountFen != 50000 {
			t.Errorf("claim's line = %v %d, want paid", l.Eligible, l.AmountFen)
		}
		if l := f.line(feed.ID); l.Eligible || l.AmountFen != 0 || l.Reason != reasonDupOfClaim {
			t.Errorf("late feed line = %v %d %q, want refused", l.Eligible, l.AmountFen, l.Reason)
		}
	})
	t.Run("feed paid first, then a claim of the same bill", func(t *testing.T) {
		f := newFixture(t, Options{})
		m := f.member()
		feed := f.record(m, model.ClaimInpatient, "2026-08-03", 100000, 0)
		if _, err := f.svc.Compute(ctx, f.period("2026-08", model.ClassInpatient), asActor("op")); err != nil {
			t.Fatal(err)
		}
		app := f.claimed(feed, 2)
		if _, err := f.svc.Compute(ctx, f.period("2026-09", model.ClassInpatient), asActor("op")); err != nil {
			t.Fatal(err)
		}
		if l := f.line(feed.ID); !l.Eligible || l.AmountFen != 50000 {
			t.Errorf("feed's line = %v %d, want paid", l.Eligible, l.AmountFen)
		}
		if l := f.line(app.ID); l.Eligible || l.Reason != reasonDupOfFeed {
			t.Errorf("claim's line = %v %q, want refused as paid from the feed", l.Eligible, l.Reason)
		}
		// Recomputing the feed's draft run keeps paying the feed: the refused claim holds nothing.
		if _, err := f.svc.Compute(ctx, f.period("2026-08", model.ClassInpatient), asActor("op")); err != nil {
			t.Fatal(err)
		}
		if l := f.line(feed.ID); !l.Eligible || l.AmountFen != 50000 {
			t.Errorf("feed's line after recomputing = %v %d, want still paid", l.Eligible, l.AmountFen)
		}
	})
	t.Run("another bill of the same day is paid", func(t *testing.T) {
		f := newFixture(t, Options{})
		m := f.member()
		feed := f.record(m, model.ClaimInpatient, "2026-09-03", 100000, 0)
		other := feed
		other.SelfPay1Fen = 70000
		f.claimed(other, 3)
		if _, err := f.svc.Compute(ctx, f.period("2026-09", model.ClassInpatient), asActor("op")); err != nil {
			t.Fatal(err)
		}
		if l := f.line(feed.ID); !l.Eligible || l.AmountFen != 50000 {
			t.Errorf("feed's line = %v %d, want paid: the claim is another bill", l.Eligible, l.AmountFen)
		}
	})
}
