package demo

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/notify"
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

// system is the seeder as the services see it: the process itself, which no role limits.
func system() model.Actor { return model.Actor{Username: Actor, Via: model.ViaSystem} }

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
		if err := tx.CreateInBatches(records, store.BulkRows(tx)).Error; err != nil {
			return err
		}
		accounts := g.accounts(members)
		return tx.CreateInBatches(accounts, store.BulkRows(tx)).Error
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
// from January of firstYear. A run whose promised arrival day has passed is paid, as the banks
// would have paid it; a run still within its promise stays in transit (exported once its
// export day has come). Every timestamp is set to the day it stands for: computed and approved
// on the settlement's first working day, exported the next working day, arrived on the
// promised day; notices are created when their event happened and sent minutes later, on the
// channel the member could receive (公众号 for followers, SMS otherwise).
func (s *Seeder) settleDue(ctx context.Context, now time.Time, firstYear int) ([]model.SettlementRun, error) {
	var runs []model.SettlementRun
	start := time.Date(firstYear, 1, 1, 0, 0, 0, 0, model.Shanghai)
	followers, err := s.followers(ctx)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	for _, class := range []model.SettlementClass{model.ClassOutpatient, model.ClassInpatient} {
		for p := s.cal.PeriodOf(class, start); !p.SettlementStart().After(now); p = p.Next() {
			h := s.history(p, now)
			run, err := s.settle.Compute(ctx, p, system())
			if err != nil {
				return runs, fmt.Errorf("demo: %w", err)
			}
			if run, err = s.settle.Approve(ctx, run.ID, system()); err != nil {
				return runs, fmt.Errorf("demo: %w", err)
			}
			switch {
			case h.arrived.Before(now):
				err = s.pay(ctx, run, h.arrived)
			case h.exported.Before(now):
				_, err = s.payments.Export(ctx, run.ID, system())
			}
			if err != nil {
				return runs, fmt.Errorf("demo: pay %s: %w", p, err)
			}
			if err := s.backdate(ctx, run.ID, h, now, followers); err != nil {
				return runs, fmt.Errorf("demo: date %s: %w", p, err)
			}
			if err := s.db.WithContext(ctx).Take(&run, run.ID).Error; err != nil {
				return runs, fmt.Errorf("demo: %w", err)
			}
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// history is when each step of a period's settlement happened (or will).
type history struct {
	computed, approved, exported, arrived time.Time
}

// history dates p's settlement: computed at 09:30 and approved at 15:00 on the first working
// day from the settlement's start, exported at 10:00 the next working day, arrived at 10:00 on
// the promised day. Times not yet come are capped at now for the steps the demo does today.
func (s *Seeder) history(p calendar.Period, now time.Time) history {
	at := func(day time.Time, h, m int) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, model.Shanghai)
	}
	st := s.cal.Settlement(p)
	day := s.cal.NextWorkday(st.Start)
	h := history{computed: at(day, 9, 30), approved: at(day, 15, 0),
		exported: at(s.cal.NextWorkday(day.AddDate(0, 0, 1)), 10, 0), arrived: at(st.ArriveBy, 10, 0)}
	if h.arrived.Before(h.exported) {
		h.arrived = h.exported.Add(2 * time.Hour)
	}
	h.computed = minTime(h.computed, now.Add(-2*time.Minute))
	h.approved = minTime(h.approved, now.Add(-time.Minute))
	return h
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// pay pays an approved run as the banks would have: the real export, then a result file saying
// 成功 for every transfer at arrived, imported by the real importer.
func (s *Seeder) pay(ctx context.Context, run model.SettlementRun, arrived time.Time) error {
	exp, err := s.payments.Export(ctx, run.ID, system())
	if err != nil {
		return err
	}
	for _, f := range exp.Files {
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(f.CSV, []byte("\ufeff")))).ReadAll()
		if err != nil {
			return err
		}
		var result strings.Builder
		result.WriteString("转账编号,结果,到账时间\n")
		for _, r := range rows[1:] {
			fmt.Fprintf(&result, "%s,成功,%s\n", r[0], arrived.Format("2006-01-02 15:04:05"))
		}
		rep, err := s.payments.ImportResult(ctx, "demo-"+f.Name, strings.NewReader(result.String()), system())
		if err != nil {
			return err
		}
		if len(rep.Problems) > 0 {
			return fmt.Errorf("demo result file %s: %+v", f.Name, rep.Problems[0])
		}
	}
	return nil
}

// backdate sets the run's, its lines', batches', transfers' and notices' timestamps to the days
// of h (the services stamped them now). Notices of events already past were sent five minutes
// after their event, on the channel the member could receive then: the official account for
// the members in followers, SMS for the others. Notices of events still to come stay queued.
func (s *Seeder) backdate(ctx context.Context, runID uint64, h history, now time.Time, followers map[uint64]bool) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var run model.SettlementRun
		if err := tx.Take(&run, runID).Error; err != nil {
			return err
		}
		last := h.approved
		if run.Status == model.RunExported {
			last = h.exported
		}
		if run.Status == model.RunClosed {
			last = h.arrived
		}
		last = minTime(last, now) // an empty run closes when it is exported
		for _, u := range []struct {
			model any
			where string
			set   map[string]any
		}{
			{&model.SettlementRun{}, "id = ?", map[string]any{"computed_at": h.computed, "approved_at": h.approved, "created_at": h.computed, "updated_at": last}},
			{&model.PayoutLine{}, "run_id = ?", map[string]any{"created_at": h.computed, "updated_at": last}},
			{&model.PaymentBatch{}, "run_id = ?", map[string]any{"created_at": h.exported}},
			{&model.Transfer{}, "run_id = ?", map[string]any{"created_at": h.exported, "updated_at": last}},
		} {
			if err := tx.Model(u.model).Where(u.where, runID).Updates(u.set).Error; err != nil {
				return err
			}
		}
		// Enqueue writes every notice on the first channel: the run's approval notices and its
		// transfers' arrival and failure notices have these keys.
		var transfers []uint64
		if err := tx.Model(&model.Transfer{}).Where("run_id = ?", runID).Pluck("id", &transfers).Error; err != nil {
			return err
		}
		keys := make([]string, 0, 2*len(transfers))
		for _, id := range transfers {
			for _, k := range []model.NoticeKind{model.NoticeArrived, model.NoticeFailedTx} {
				keys = append(keys, notify.DedupKey(notify.TransferSubject(id), k, model.ChannelTemplate))
			}
		}
		var notices []model.Notification
		q := tx.Where("dedup_key LIKE ?", fmt.Sprintf("run:%d:member:%%", runID))
		for chunk := range slices.Chunk(keys, 500) {
			q = q.Or("dedup_key IN ?", chunk)
		}
		if err := q.Find(&notices).Error; err != nil {
			return err
		}
		for _, n := range notices {
			event := h.approved
			if n.Kind != model.NoticeApproved {
				event = h.arrived
			}
			set := map[string]any{"created_at": event, "updated_at": event, "next_attempt_at": event}
			// A notice whose sending time has not come yet stays queued for the dispatcher.
			if sent := event.Add(5 * time.Minute); sent.Before(now) {
				ch := model.ChannelSMS
				if followers[n.MemberID] {
					ch = model.ChannelTemplate
				}
				set["status"], set["sent_at"], set["updated_at"], set["attempts"] = model.NoticeSent, sent, sent, 1
				set["channel"] = ch
				set["dedup_key"] = strings.TrimSuffix(n.DedupKey, ":"+string(n.Channel)) + ":" + string(ch)
			}
			if err := tx.Model(&model.Notification{}).Where("id = ?", n.ID).Updates(set).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// followers returns the members whose demo WeChat account follows the official account.
func (s *Seeder) followers(ctx context.Context) (map[uint64]bool, error) {
	var ids []uint64
	if err := s.db.WithContext(ctx).Model(&model.WeChatAccount{}).Where("following AND member_id IS NOT NULL").
		Pluck("member_id", &ids).Error; err != nil {
		return nil, err
	}
	out := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
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
