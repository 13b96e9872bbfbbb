package demo

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/notify"
	"huzhu/service/pii"
	"huzhu/service/settlement"
)

// Options size the demo. Zero values take the defaults in brackets.
type Options struct {
	Members int    // [240]
	Seed    uint64 // [20210913], the day of the worked example
}

// Summary says what Seed wrote.
type Summary struct {
	Skipped bool // the database already had data; nothing was written
	Unions  int
	Members int
	Records int
	Runs    []model.SettlementRun
}

// Actor is the name the demo's settlement runs and audit rows carry.
const Actor = "demo"

// Seeder writes demo data through the real services.
type Seeder struct {
	db     *gorm.DB
	cipher *pii.Cipher
	settle *settlement.Service
	cal    *calendar.Calendar
	log    *slog.Logger
}

// New returns a Seeder.
func New(db *gorm.DB, cipher *pii.Cipher, settle *settlement.Service, cal *calendar.Calendar, log *slog.Logger) *Seeder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Seeder{db: db, cipher: cipher, settle: settle, cal: cal, log: log}
}

// Seed writes the demo as of now into an empty database. A database that already has a union
// is left alone (Summary.Skipped), so `huzhu serve --demo` can be run again safely.
func (s *Seeder) Seed(ctx context.Context, now time.Time, o Options) (Summary, error) {
	if o.Members <= 0 {
		o.Members = 240
	}
	if o.Seed == 0 {
		o.Seed = 20210913
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&model.Union{}).Count(&n).Error; err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	if n > 0 {
		return Summary{Skipped: true}, nil
	}
	g := &gen{rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), cipher: s.cipher, now: now.In(model.Shanghai)}
	unions, members, records := g.roster(o.Members)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.CreateInBatches(unions, 100).Error; err != nil {
			return err
		}
		for i := range members {
			members[i].UnionID = unions[g.unionOf[i]].ID
		}
		if err := tx.CreateInBatches(members, 200).Error; err != nil {
			return err
		}
		for i := range records {
			records[i].MemberID = members[g.recordOwner[i]].ID
		}
		return tx.CreateInBatches(records, 500).Error
	})
	if err != nil {
		return Summary{}, fmt.Errorf("demo: write roster: %w", err)
	}
	sum := Summary{Unions: len(unions), Members: len(members), Records: len(records)}
	runs, err := s.settleDue(ctx, now, g.firstYear)
	sum.Runs = runs
	if err != nil {
		return sum, err
	}
	s.log.Info("demo data written", "unions", sum.Unions, "members", sum.Members, "records", sum.Records, "runs", len(runs))
	return sum, nil
}

// settleDue computes and approves every period of both classes whose settlement day has come,
// from January of firstYear, and pays all but the newest run of each class, so the demo shows
// history, money on its way, and bills not settled yet.
func (s *Seeder) settleDue(ctx context.Context, now time.Time, firstYear int) ([]model.SettlementRun, error) {
	var runs []model.SettlementRun
	start := time.Date(firstYear, 1, 1, 0, 0, 0, 0, model.Shanghai)
	for _, class := range []model.SettlementClass{model.ClassOutpatient, model.ClassInpatient} {
		var due []calendar.Period
		for p := s.cal.PeriodOf(class, start); !p.SettlementStart().After(now); p = p.Next() {
			due = append(due, p)
		}
		for i, p := range due {
			run, err := s.settle.Compute(ctx, p, Actor)
			if err != nil {
				return runs, fmt.Errorf("demo: %w", err)
			}
			if run, err = s.settle.Approve(ctx, run.ID, Actor); err != nil {
				return runs, fmt.Errorf("demo: %w", err)
			}
			if i < len(due)-1 {
				if run, err = s.pay(ctx, run); err != nil {
					return runs, fmt.Errorf("demo: pay %s: %w", p, err)
				}
			}
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// pay stands in for the banks in the demo: one transfer per member of an approved run, each
// arrived on the run's promised date, with the approval and arrival notices of that past marked
// as sent. Real payments go through bank files.
func (s *Seeder) pay(ctx context.Context, run model.SettlementRun) (model.SettlementRun, error) {
	p, err := s.cal.ParsePeriod(run.Period)
	if err != nil {
		return run, err
	}
	arrived := s.cal.Settlement(p).ArriveBy.Add(10 * time.Hour)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var lines []model.PayoutLine
		if err := tx.Where("run_id = ? AND status = ?", run.ID, model.LineApproved).Order("member_id, id").Find(&lines).Error; err != nil {
			return err
		}
		byMember := map[uint64][]model.PayoutLine{}
		var order []uint64
		for _, l := range lines {
			if byMember[l.MemberID] == nil {
				order = append(order, l.MemberID)
			}
			byMember[l.MemberID] = append(byMember[l.MemberID], l)
		}
		var members []model.Member
		if err := tx.Where("id IN ?", order).Find(&members).Error; err != nil {
			return err
		}
		acct := map[uint64]model.Member{}
		for _, m := range members {
			acct[m.ID] = m
		}
		batches := map[model.Bank]*model.PaymentBatch{}
		for _, id := range order {
			m := acct[id]
			bank, kind, last4 := model.BankBOB, "jingka", m.JingCardLast4
			if m.JingCardHash == "" {
				if m.BankAccountHash == "" {
					continue // no account yet: the lines stay approved until the member registers one
				}
				bank, kind, last4 = m.BankCode, "bank", m.BankAccountLast4
			}
			b := batches[bank]
			if b == nil {
				b = &model.PaymentBatch{RunID: run.ID, Bank: bank, FileName: fmt.Sprintf("demo-%s-%s-%s.csv", run.Period, run.Class, bank), CreatedBy: Actor}
				if err := tx.Create(b).Error; err != nil {
					return err
				}
				batches[bank] = b
			}
			var total model.Fen
			ids := make([]uint64, 0, len(byMember[id]))
			for _, l := range byMember[id] {
				total += l.AmountFen
				ids = append(ids, l.ID)
			}
			t := model.Transfer{Ref: fmt.Sprintf("D%d-%d", run.ID, id), BatchID: b.ID, RunID: run.ID, MemberID: id, Bank: bank,
				AccountKind: kind, AccountLast4: last4, AmountFen: total, Status: model.LineArrived, ArrivedAt: &arrived}
			if err := tx.Create(&t).Error; err != nil {
				return err
			}
			b.Transfers++
			b.TotalFen += total
			if err := tx.Model(&model.PayoutLine{}).Where("id IN ?", ids).
				Updates(map[string]any{"status": model.LineArrived, "transfer_id": t.ID, "arrived_at": arrived}).Error; err != nil {
				return err
			}
			payload := notify.Payload{AmountFen: total, Period: run.Period, ClaimTypes: run.Class.Label(), AccountKind: kind,
				AccountLast4: last4, TransferID: t.ID, RunID: run.ID}
			if _, err := notify.Enqueue(ctx, tx, notify.Notice{Subject: notify.TransferSubject(t.ID), MemberID: id,
				Kind: model.NoticeArrived, Payload: payload, At: arrived}); err != nil {
				return err
			}
		}
		for _, b := range batches {
			if err := tx.Model(b).Updates(map[string]any{"transfers": b.Transfers, "total_fen": b.TotalFen}).Error; err != nil {
				return err
			}
		}
		// The notices of a past run went out back then.
		if err := tx.Model(&model.Notification{}).Where("dedup_key LIKE ? OR dedup_key LIKE ?",
			fmt.Sprintf("run:%d:member:%%", run.ID), "transfer:%").Where("status = ?", model.NoticePending).
			Updates(map[string]any{"status": model.NoticeSent, "sent_at": arrived, "attempts": 1}).Error; err != nil {
			return err
		}
		return tx.Model(&model.SettlementRun{}).Where("id = ?", run.ID).Update("status", model.RunClosed).Error
	})
	if err != nil {
		return run, err
	}
	run.Status = model.RunClosed
	return run, nil
}
