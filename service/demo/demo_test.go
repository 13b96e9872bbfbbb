package demo

import (
	"bytes"
	"context"
	"fmt"
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
	// Every run but the newest of each class is paid, except the lines of members who have no
	// account yet (no 京卡 and no bank card): those wait, approved, and keep their run open.
	newest := map[model.SettlementClass]string{model.ClassOutpatient: "2026-Q3", model.ClassInpatient: "2026-10"}
	for _, r := range sum.Runs {
		if r.Period == newest[r.Class] {
			if r.Status != model.RunApproved {
				t.Errorf("newest run %s/%s is %s, want approved (awaiting payment)", r.Period, r.Class, r.Status)
			}
			continue
		}
		var held []model.PayoutLine
		db.Where("run_id = ? AND status <> ? AND eligible AND amount_fen > 0", r.ID, model.LineArrived).Find(&held)
		for _, l := range held {
			var m model.Member
			db.Take(&m, l.MemberID)
			if l.Status != model.LineApproved || m.JingCardHash != "" || m.BankAccountHash != "" {
				t.Errorf("run %s/%s: line %d of member %d is %s", r.Period, r.Class, l.ID, m.ID, l.Status)
			}
		}
		if (len(held) == 0) != (r.Status == model.RunClosed) {
			t.Errorf("run %s/%s is %s with %d lines waiting", r.Period, r.Class, r.Status, len(held))
		}
	}

	// Only the approval notices of the two runs awaiting payment are still queued.
	var pending []model.Notification
	db.Where("status = ?", model.NoticePending).Find(&pending)
	runs := map[string]bool{}
	for _, n := range pending {
		if n.Kind != model.NoticeApproved {
			t.Errorf("pending notice %s, want only approval notices", n.DedupKey)
		}
		runs[strings.Join(strings.SplitN(n.DedupKey, ":", 3)[:2], ":")] = true
	}
	want := map[string]bool{}
	for _, r := range sum.Runs {
		var payable int64
		db.Model(&model.PayoutLine{}).Where("run_id = ? AND status = ?", r.ID, model.LineApproved).Count(&payable)
		if r.Period == newest[r.Class] && payable > 0 {
			want[fmt.Sprintf("run:%d", r.ID)] = true
		}
	}
	if len(want) == 0 || fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Errorf("approval notices queued for runs %v, want those awaiting payment with money in them: %v", runs, want)
	}

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
