package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/kv"
	"huzhu/service/payment"
	"huzhu/service/pii"
	"huzhu/service/policy"
	"huzhu/service/settlement"
	"huzhu/service/store/storetest"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, model.Shanghai)

func newSeeder(t *testing.T) (*Seeder, *gorm.DB, *pii.Cipher) {
	t.Helper()
	return newSeederAt(t, now)
}

// newSeederAt builds a seeder whose services' clock reads day.
func newSeederAt(t *testing.T, day time.Time) (*Seeder, *gorm.DB, *pii.Cipher) {
	t.Helper()
	now := day
	db := storetest.NewDB(t)
	engine, err := policy.Load(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := pii.New(bytes.Repeat([]byte("d"), pii.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	cal := calendar.New(model.Shanghai)
	settle := settlement.New(db, engine, cal, kv.NewMemory(nil), settlement.Options{}, func() time.Time { return now }, nil)
	return New(db, cipher, settle, payment.New(db, cipher, cal, func() time.Time { return now }, nil), cal, nil), db, cipher
}

func TestSeedWritesASettledPlan(t *testing.T) {
	s, db, cipher := newSeeder(t)
	sum, err := s.Seed(context.Background(), now, Options{Members: 60})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped || sum.Members != 60 || sum.Unions != len(unionNames) || sum.Records == 0 {
		t.Fatalf("summary = %+v", sum)
	}
	// 2025-Q1 … 2026-Q3 outpatient (7) and 2025-01 … 2026-10 inpatient (22) are due on 2026-11-23.
	if len(sum.Runs) != 29 {
		t.Errorf("runs = %d, want 29", len(sum.Runs))
	}
	checkTrueOnTheDay(t, db, s, sum, now)

	// The worked example: member 李示例 is paid the 2021 version's cap for the first year.
	var li model.Member
	if err := db.Where("name = ?", "李示例").Take(&li).Error; err != nil {
		t.Fatal(err)
	}
	var paid model.Fen
	db.Model(&model.PayoutLine{}).Where("member_id = ? AND year = 2025", li.ID).Select("COALESCE(SUM(amount_fen),0)").Scan(&paid)
	if paid != 20065300 {
		t.Errorf("worked example paid %s in 2025, want ¥200653.00", paid)
	}

	// Every fen of arrived lines is in an arrived transfer, and the other way round.
	var lines, transfers model.Fen
	db.Model(&model.PayoutLine{}).Where("status = ?", model.LineArrived).Select("COALESCE(SUM(amount_fen),0)").Scan(&lines)
	db.Model(&model.Transfer{}).Where("status = ?", model.LineArrived).Select("COALESCE(SUM(amount_fen),0)").Scan(&transfers)
	if lines == 0 || lines != transfers {
		t.Errorf("arrived lines %s, arrived transfers %s: want equal and non-zero", lines, transfers)
	}

	// Personal numbers are valid, synthetic, and stored only encrypted.
	var ms []model.Member
	db.Find(&ms)
	for _, m := range ms {
		id, err := cipher.Decrypt(m.IDNumberEnc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pii.ParseIDNumber(id); err != nil || !strings.HasPrefix(id, "110199") {
			t.Errorf("member %d: ID number ending %s: %v, want a valid 110199 number", m.ID, m.IDLast4, err)
		}
		if bytes.Contains(m.IDNumberEnc, []byte(id)) {
			t.Errorf("member %d: ID number stored in clear", m.ID)
		}
		phone, _ := cipher.Decrypt(m.PhoneEnc)
		if !strings.HasPrefix(phone, "100") || m.PhoneLast4 != phone[7:] {
			t.Errorf("member %d: phone ending %s is not a synthetic 100… number", m.ID, m.PhoneLast4)
		}
	}

	again, err := s.Seed(context.Background(), now, Options{Members: 60})
	if err != nil || !again.Skipped {
		t.Errorf("second Seed = %+v, %v; want skipped", again, err)
	}
}

// TestSeedInTransit: seeded on a day when a run's transfer file went out but its promised day
// has not come, that run is in transit (exported, its transfers not arrived) and everything
// older is paid.
func TestSeedInTransit(t *testing.T) {
	day := time.Date(2026, 10, 28, 16, 0, 0, 0, model.Shanghai) // 2026-Q3 outpatient: exported 10-22, promised by 11-03
	s, db, _ := newSeederAt(t, day)
	sum, err := s.Seed(context.Background(), day, Options{Members: 60})
	if err != nil {
		t.Fatal(err)
	}
	checkTrueOnTheDay(t, db, s, sum, day)
	var run *model.SettlementRun
	for i, r := range sum.Runs {
		if r.Period == "2026-Q3" {
			run = &sum.Runs[i]
		}
	}
	if run == nil || run.Status != model.RunExported || run.TotalFen == 0 {
		t.Fatalf("on %s the 2026-Q3 outpatient run = %+v, want exported with money in transit", day, run)
	}
	var arrived int64
	db.Model(&model.Transfer{}).Where("run_id = ? AND (status <> ? OR arrived_at IS NOT NULL)", run.ID, model.LineTransfering).Count(&arrived)
	if arrived > 0 {
		t.Errorf("run in transit has %d transfers not in transit", arrived)
	}
}

// checkTrueOnTheDay asserts what the demo promises about dates on day: a run whose promised
// arrival has passed is paid (closed, or held only for members with no account), one within its
// promise is exported or approved; no timestamp is after day, every run and line is dated by its
// own settlement, notices are created before they are sent, and sent on the channel the member
// can receive.
func checkTrueOnTheDay(t *testing.T, db *gorm.DB, s *Seeder, sum Summary, day time.Time) {
	t.Helper()
	followers, err := s.followers(context.Background())
	if err != nil || len(followers) == 0 {
		t.Fatalf("followers = %v, %v; want some demo members following the official account", followers, err)
	}
	for _, r := range sum.Runs {
		p, err := s.cal.ParsePeriod(r.Period)
		if err != nil {
			t.Fatal(err)
		}
		h := s.history(p, day)
		var held []model.PayoutLine
		db.Where("run_id = ? AND status <> ? AND eligible AND amount_fen > 0", r.ID, model.LineArrived).Find(&held)
		switch {
		case h.arrived.Before(day):
			for _, l := range held {
				var m model.Member
				db.Take(&m, l.MemberID)
				if l.Status != model.LineApproved || m.JingCardHash != "" || m.BankAccountHash != "" {
					t.Errorf("run %s/%s, promised by %s: line %d of member %d is %s", r.Period, r.Class, h.arrived.Format(time.DateOnly), l.ID, m.ID, l.Status)
				}
			}
			if (len(held) == 0) != (r.Status == model.RunClosed) {
				t.Errorf("run %s/%s is %s with %d lines waiting", r.Period, r.Class, r.Status, len(held))
			}
		case h.exported.Before(day):
			if r.Status != model.RunExported && r.TotalFen > 0 {
				t.Errorf("run %s/%s within its promise (by %s) is %s, want exported", r.Period, r.Class, h.arrived.Format(time.DateOnly), r.Status)
			}
		default:
			if r.Status != model.RunApproved {
				t.Errorf("run %s/%s not yet exported is %s, want approved", r.Period, r.Class, r.Status)
			}
		}
		if r.ComputedAt == nil || r.ApprovedAt == nil || !r.ComputedAt.Equal(h.computed) || r.ApprovedAt.After(day) || r.ApprovedAt.Before(*r.ComputedAt) {
			t.Errorf("run %s/%s computed %v approved %v, want %v then before %v", r.Period, r.Class, r.ComputedAt, r.ApprovedAt, h.computed, day)
		}
		var late int64
		db.Model(&model.PayoutLine{}).Where("run_id = ? AND (created_at > ? OR arrived_at > ?)", r.ID, day, day).Count(&late)
		if late > 0 {
			t.Errorf("run %s/%s: %d lines dated after %s", r.Period, r.Class, late, day)
		}
	}
	var notices []model.Notification
	db.Find(&notices)
	for _, n := range notices {
		switch {
		case n.CreatedAt.After(day):
			t.Errorf("notice %s created %s, after the day %s", n.DedupKey, n.CreatedAt, day)
		case n.Status == model.NoticeSent && (n.SentAt == nil || n.SentAt.Before(n.CreatedAt) || n.SentAt.After(day)):
			t.Errorf("notice %s created %s sent %v: want sent after it was created and before %s", n.DedupKey, n.CreatedAt, n.SentAt, day)
		case n.Status == model.NoticeSent && followers[n.MemberID] != (n.Channel == model.ChannelTemplate):
			t.Errorf("notice %s to member %d (follower %v) went by %s", n.DedupKey, n.MemberID, followers[n.MemberID], n.Channel)
		case n.Status == model.NoticeSent && !strings.HasSuffix(n.DedupKey, ":"+string(n.Channel)):
			t.Errorf("notice %s sent by %s: key and channel disagree", n.DedupKey, n.Channel)
		case n.Status == model.NoticePending && n.CreatedAt.Add(5*time.Minute).Before(day):
			t.Errorf("notice %s of %s still pending on %s", n.DedupKey, n.CreatedAt, day)
		}
	}
	// A 0.00 line always says why.
	var silent int64
	db.Model(&model.PayoutLine{}).Where("amount_fen = 0 AND (reason = '' OR reason IS NULL)").Count(&silent)
	if silent > 0 {
		t.Errorf("%d lines of 0.00 without a reason", silent)
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	names := func() []string {
		s, db, _ := newSeeder(t)
		if _, err := s.Seed(context.Background(), now, Options{Members: 20, Seed: 7}); err != nil {
			t.Fatal(err)
		}
		var out []string
		db.Model(&model.Member{}).Order("id").Pluck("name", &out)
		return out
	}
	a, b := names(), names()
	if strings.Join(a, ",") != strings.Join(b, ",") || len(a) != 20 {
		t.Errorf("two seeds with the same number gave %v and %v", a, b)
	}
}
