package demo

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/payment"
	"huzhu/service/pii"
	"huzhu/service/settlement"
	"huzhu/service/store"
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
	db       *gorm.DB
	cipher   *pii.Cipher
	settle   *settlement.Service
	payments *payment.Service
	cal      *calendar.Calendar
	log      *slog.Logger
}

// New returns a Seeder.
func New(db *gorm.DB, cipher *pii.Cipher, settle *settlement.Service, payments *payment.Service, cal *calendar.Calendar, log *slog.Logger) *Seeder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Seeder{db: db, cipher: cipher, settle: settle, payments: payments, cal: cal, log: log}
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
		if err := tx.CreateInBatches(unions, store.BulkRows(tx)).Error; err != nil {
			return err
		}
		for i := range members {
			members[i].UnionID = unions[g.unionOf[i]].ID
		}
		if err := tx.CreateInBatches(members, store.BulkRows(tx)).Error; err != nil {
			return err
		}
		for i := range records {
			records[i].MemberID = members[g.recordOwner[i]].ID
		}
		return tx.CreateInBatches(records, store.BulkRows(tx)).Error
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

// pay pays an approved run as the banks would have: the real export, then a result file saying
// 成功 for every transfer at the run's promised arrival date, imported by the real importer. The
// approval and arrival notices of that past are marked as sent.
func (s *Seeder) pay(ctx context.Context, run model.SettlementRun) (model.SettlementRun, error) {
	p, err := s.cal.ParsePeriod(run.Period)
	if err != nil {
		return run, err
	}
	arrived := s.cal.Settlement(p).ArriveBy.Add(10 * time.Hour)
	exp, err := s.payments.Export(ctx, run.ID, Actor)
	if err != nil {
		return run, err
	}
	for _, f := range exp.Files {
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(f.CSV, []byte("\ufeff")))).ReadAll()
		if err != nil {
			return run, err
		}
		var result strings.Builder
		result.WriteString("转账编号,结果,到账时间\n")
		for _, r := range rows[1:] {
			fmt.Fprintf(&result, "%s,成功,%s\n", r[0], arrived.Format("2006-01-02 15:04:05"))
		}
		rep, err := s.payments.ImportResult(ctx, "demo-"+f.Name, strings.NewReader(result.String()), Actor)
		if err != nil {
			return run, err
		}
		if len(rep.Problems) > 0 {
			return run, fmt.Errorf("demo result file %s: %+v", f.Name, rep.Problems[0])
		}
	}
	// The notices of this past run went out back then: its approval notices, and the arrival
	// notices just queued (only paid runs have transfers, so every pending transfer notice is
	// this run's). The approval notices of the runs still awaiting payment stay queued.
	err = s.db.WithContext(ctx).Model(&model.Notification{}).Where("status = ?", model.NoticePending).
		Where("dedup_key LIKE ? OR dedup_key LIKE ?", fmt.Sprintf("run:%d:%%", run.ID), "transfer:%").
		Updates(map[string]any{"status": model.NoticeSent, "sent_at": arrived, "attempts": 1}).Error
	if err != nil {
		return run, err
	}
	return run, s.db.WithContext(ctx).Take(&run, run.ID).Error
}

// WorkerName is the name of the demo member whose roster facts are printed for trying the
// mini-program API: the worked example of 工人日报 2021-09-13, with a year of payouts up to the
// annual cap.
const WorkerName = "李示例"

// Worker is what a demo worker types to bind (all synthetic), and their member id.
type Worker struct {
	MemberID uint64
	Name     string
	IDNumber string
	JingCard string
	Phone    string
}

// DemoWorker returns the roster facts of the demo worker WorkerName, decrypted. It returns an
// error wrapping gorm.ErrRecordNotFound when the database holds no demo.
func (s *Seeder) DemoWorker(ctx context.Context) (Worker, error) {
	var m model.Member
	if err := s.db.WithContext(ctx).Where("name = ?", WorkerName).Order("id").Take(&m).Error; err != nil {
		return Worker{}, fmt.Errorf("demo worker: %w", err)
	}
	w := Worker{MemberID: m.ID, Name: m.Name}
	for _, f := range []struct {
		enc []byte
		out *string
	}{{m.IDNumberEnc, &w.IDNumber}, {m.JingCardEnc, &w.JingCard}, {m.PhoneEnc, &w.Phone}} {
		if len(f.enc) == 0 {
			continue
		}
		v, err := s.cipher.Decrypt(f.enc)
		if err != nil {
			return Worker{}, fmt.Errorf("demo worker: decrypt: %w", err)
		}
		*f.out = v
	}
	return w, nil
}
