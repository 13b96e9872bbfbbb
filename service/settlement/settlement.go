package settlement

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/calendar"
	"huzhu/service/eligibility"
	"huzhu/service/errs"
	"huzhu/service/kv"
	"huzhu/service/notify"
	"huzhu/service/policy"
	"huzhu/service/progress"
)

// Options tune a Service. Zero values take the defaults in brackets.
type Options struct {
	ChunkSize int // records settled per transaction; a member's records are never split [1000]
	Workers   int // chunks computed at once, each on its own connection [4]
	// LockTTL is the lease of the computation lock [1m]: a running computation renews it every
	// third of LockTTL, so the lock outlives a dead process by at most LockTTL. A computation
	// that cannot renew it stops (its chunks roll back; computing again is safe).
	LockTTL time.Duration
}

// Service computes and approves settlement runs.
type Service struct {
	db     *gorm.DB
	engine *policy.Engine
	cal    *calendar.Calendar
	kv     kv.Store
	now    func() time.Time
	log    *slog.Logger
	o      Options
}

// New returns a settlement service. kvs holds the computation lock (Redis when several processes
// may compute); now is the clock.
func New(db *gorm.DB, engine *policy.Engine, cal *calendar.Calendar, kvs kv.Store, o Options, now func() time.Time, log *slog.Logger) *Service {
	if o.ChunkSize <= 0 {
		o.ChunkSize = 1000
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.LockTTL <= 0 {
		o.LockTTL = time.Minute
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, engine: engine, cal: cal, kv: kvs, now: now, log: log, o: o}
}

const lockKey = "settlement:compute"

// Compute (re)computes the draft run of period p and returns it with its totals. It returns a
// Conflict error when the run is already approved (its lines are frozen) or another computation
// is in progress, and Invalid when the period has not ended yet. It reports its progress to ctx
// (see service/progress) in members: after each chunk the members done so far and the members
// that had unsettled records when it started, ending with done equal to total. It returns
// Forbidden unless actor may Settle. The actor becomes the run's CreatedBy, also on a
// recomputation, so the person who last computed a run is the one who may not approve it.
func (s *Service) Compute(ctx context.Context, p calendar.Period, actor model.Actor) (model.SettlementRun, error) {
	if err := audit.Need(actor, model.ActSettle); err != nil {
		return model.SettlementRun{}, err
	}
	if p.IsZero() {
		return model.SettlementRun{}, errs.Invalid("period", "没有指定核算期", "例如 2025-Q1（门诊）或 2025-03（住院）")
	}
	if s.now().Before(p.End) {
		return model.SettlementRun{}, errs.Invalidf("period", "请在核算期结束后再核算", "%s尚未结束，不能核算", p.Label())
	}
	ctx, release, err := s.lock(ctx)
	if err != nil {
		return model.SettlementRun{}, err
	}
	defer release()

	run, err := s.openDraft(ctx, p, actor)
	if err != nil {
		return model.SettlementRun{}, err
	}
	t, err := s.computeAll(ctx, run.ID, p)
	if err != nil {
		if errors.Is(context.Cause(ctx), errLockLost) {
			return run, errLockLost
		}
		return run, fmt.Errorf("settle %s: %w", p, err)
	}
	run, err = s.finish(ctx, run.ID, t, actor)
	if err != nil && errors.Is(context.Cause(ctx), errLockLost) {
		return run, errLockLost
	}
	return run, err
}

// chunk is a set of members with unsettled records, found ahead of the transaction that settles
// them.
type chunk struct {
	records []uint64 // ids, by member then id
	members []uint64 // ascending
}

// totals are what a computation wrote, summed over its chunks.
type totals struct {
	lines, rejected, members int64 // members with at least one line
	amount                   model.Fen
}

func (t *totals) add(o totals) {
	t.lines += o.lines
	t.rejected += o.rejected
	t.members += o.members
	t.amount += o.amount
}

// computeAll settles every unsettled record of the period in chunks, Options.Workers chunks at a
// time, while the next chunk is being found. Chunks hold disjoint members, and a member's
// year-to-date comes only from other runs, so chunks are independent; each commits alone. The
// first failure stops the rest and is returned. Since every line of the run is written here
// (openDraft deleted the earlier ones, and the lock keeps other computations out), the totals of
// the chunks are the run's.
func (s *Service) computeAll(ctx context.Context, runID uint64, p calendar.Period) (totals, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	types, last := claimTypesOf(p.Class), p.Last()
	total, err := s.countPendingMembers(ctx, types, last)
	if err != nil {
		return totals{}, fmt.Errorf("count members: %w", err)
	}
	var (
		mu   sync.Mutex // guards sum and done, and keeps the progress reports in order
		sum  totals
		done int64
	)
	progress.Report(ctx, 0, total)
	lw, err := newLineWriter(ctx, s.db)
	if err != nil {
		return totals{}, err
	}
	defer lw.Close()
	chunks := make(chan chunk, 1) // the next chunk is found while the workers write
	var wg sync.WaitGroup
	for range s.o.Workers {
		wg.Go(func() {
			w := s.newWorker(runID, types, last, lw.forWorker())
			for c := range chunks {
				if ctx.Err() != nil {
					continue // drain: the producer stops at the next chunk
				}
				t, err := w.settle(ctx, c)
				if err != nil {
					cancel(fmt.Errorf("members %d–%d: %w", c.members[0], c.members[len(c.members)-1], err))
					continue
				}
				mu.Lock()
				sum.add(t)
				done += int64(len(c.members))
				progress.Report(ctx, done, max(total, done))
				mu.Unlock()
			}
		})
	}
	var (
		after   uint64
		listErr error
	)
	for ctx.Err() == nil {
		// Members of chunks still in flight have ids up to after, so the cursor never hands
		// out a member twice.
		c, err := s.nextChunk(ctx, types, last, after, s.o.ChunkSize)
		if err != nil {
			listErr = fmt.Errorf("list records: %w", err)
			break
		}
		if len(c.records) == 0 {
			break
		}
		select {
		case chunks <- c:
			after = c.members[len(c.members)-1]
		case <-ctx.Done():
		}
	}
	close(chunks)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return totals{}, err
	}
	if listErr != nil {
		return totals{}, listErr
	}
	if done != total {
		// Records came or went while computing: the run is done whatever the first count said.
		progress.Report(ctx, done, done)
	}
	return sum, nil
}

// errLockLost ends a computation whose lease on the lock lapsed: another process may have taken
// the lock since, and two computations must not write one run.
var errLockLost = errs.New(errs.KindConflict, "settlement.lock_lost", "核算已中断（核算锁失效），已核算的部分会在重新核算时重算，请稍后再核算一次")

// lock takes the computation lock and returns a context for the computation with the release.
// While the lock is held its lease is renewed; when a renewal finds the lock lost (expired while
// kv was unreachable, or taken), the returned context is cancelled with errLockLost.
func (s *Service) lock(ctx context.Context) (context.Context, func(), error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token := []byte(hex.EncodeToString(b))
	ok, err := s.kv.SetNX(ctx, lockKey, token, s.o.LockTTL)
	if err != nil {
		return ctx, nil, fmt.Errorf("settlement lock: %w", err)
	}
	if !ok {
		return ctx, nil, errs.New(errs.KindConflict, "settlement.busy", "另一项核算正在进行，请稍后再试")
	}
	run, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		tick := time.NewTicker(s.o.LockTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			ok, err := s.kv.Extend(context.WithoutCancel(run), lockKey, token, s.o.LockTTL)
			if err != nil {
				// kv unreachable: the lease still runs; the next tick tries again.
				s.log.Warn("settlement lock: renewal failed", "err", err)
				continue
			}
			if !ok {
				s.log.Error("settlement lock lost: stopping the computation")
				cancel(errLockLost)
				return
			}
		}
	}()
	return run, func() {
		close(done)
		<-renewed
		cancel(nil)
		if _, err := s.kv.DelIf(context.WithoutCancel(ctx), lockKey, token); err != nil {
			s.log.Warn("settlement lock: release failed; it expires with its lease", "err", err)
		}
	}, nil
}

// openDraft returns the run of p, created if absent, after releasing everything a previous
// computation of it wrote.
func (s *Service) openDraft(ctx context.Context, p calendar.Period, actor model.Actor) (model.SettlementRun, error) {
	var run model.SettlementRun
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Where("period = ? AND class = ?", p.String(), p.Class).Take(&run).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			run = model.SettlementRun{Period: p.String(), Class: p.Class, Status: model.RunDraft, CreatedBy: actor.Username}
			if err := tx.Create(&run).Error; err != nil {
				return err
			}
		case err != nil:
			return err
		case run.Status != model.RunDraft:
			return errs.New(errs.KindConflict, "settlement.run_frozen",
				fmt.Sprintf("%s%s核算已%s，不能重新核算", p.Label(), p.Class.Label(), run.Status.Label()))
		}
		if err := tx.Where("run_id = ?", run.ID).Delete(&model.PayoutLine{}).Error; err != nil {
			return err
		}
		if err := tx.Model(&model.MedicalRecord{}).Where("settlement_run_id = ?", run.ID).
			Update("settlement_run_id", 0).Error; err != nil {
			return err
		}
		run.CreatedBy = actor.Username
		return tx.Model(&run).Updates(map[string]any{"computing": true, "attempt": gorm.Expr("attempt + 1"), "created_by": actor.Username}).Error
	})
	if err != nil {
		return run, fmt.Errorf("settle %s: open run: %w", p, err)
	}
	return run, nil
}

// worker settles chunks on its own, reusing its buffers from chunk to chunk: a computation
// handles a million records, and the garbage of its buffers once cost a tenth of its CPU.
type worker struct {
	s       *Service
	runID   uint64
	types   []model.ClaimType
	last    model.Date
	writer  *lineWriter
	covered map[model.Date]bool // bill date → some policy version is in force on it
	members memberSet
	records []record
	lines   []model.PayoutLine
	expl    []byte
}

func (s *Service) newWorker(runID uint64, types []model.ClaimType, last model.Date, lw *lineWriter) *worker {
	return &worker{s: s, runID: runID, types: types, last: last, writer: lw, covered: map[model.Date]bool{},
		members: memberSet{byID: map[uint64]*member{}}}
}

// settle writes the lines of one chunk and marks their records as taken, in one transaction.
// The members and what other runs paid them are read before it; the records are read inside it,
// locked (MySQL; SQLite has one writer at a time), so that a correction the importer makes to an
// unsettled record either lands before the record is read or finds it settled, never between.
// A record that no longer fits the run (corrected to another member, type or date) is left for
// later.
func (w *worker) settle(ctx context.Context, c chunk) (totals, error) {
	db := w.s.db.WithContext(ctx)
	if err := w.members.load(db, c.members); err != nil {
		return totals{}, err
	}
	prior, err := priorYearToDate(db, c.members, w.runID)
	if err != nil {
		return totals{}, err
	}
	var t totals
	err = db.Transaction(func(tx *gorm.DB) error {
		t = totals{}
		records, err := lockRecords(tx, w.records[:0], c, w.types, w.last)
		w.records = records[:0]
		if err != nil {
			return err
		}
		dups, err := duplicates(tx, c.members, records)
		if err != nil {
			return err
		}
		clear(w.lines[:cap(w.lines)]) // drop the previous chunk's strings
		lines := w.lines[:0]
		for len(records) > 0 {
			n := 1
			for n < len(records) && records[n].MemberID == records[0].MemberID {
				n++
			}
			mine := records[:n]
			records = records[n:]
			m, ok := w.members.byID[mine[0].MemberID]
			if !ok {
				// Records of a member no longer on the roster wait; they are listed as unsettled.
				continue
			}
			before := len(lines)
			lines, err = w.memberLines(lines, m, mine, prior[m.ID], dups)
			if err != nil {
				return fmt.Errorf("member %d: %w", m.ID, err)
			}
			if len(lines) > before {
				t.members++
			}
		}
		w.lines = lines[:0]
		if len(lines) == 0 {
			return nil
		}
		for _, l := range lines {
			t.lines++
			t.amount += l.AmountFen
			if !l.Eligible {
				t.rejected++
			}
		}
		return w.writer.write(ctx, tx, w.runID, lines)
	})
	return t, err
}

// memberLines decides eligibility per bill date, computes the eligible bills of member m (records
// by date, then id) and appends the member's lines to lines.
// dups holds the records that are the same bill as another record already paid or holding the
// bill (see duplicates), with the reason.
func (w *worker) memberLines(lines []model.PayoutLine, m *member, records []record, prior map[int]policy.YearToDate, dups map[uint64]string) ([]model.PayoutLine, error) {
	s, runID := w.s, w.runID
	facts := eligibility.FactsOf(m.Member, model.Union{ID: m.UnionID, PaysDues: m.UnionPaysDues})
	var bills []policy.Bill
	for _, r := range records {
		reason := ""
		covered, seen := w.covered[r.VisitDate]
		if !seen {
			_, covered = s.engine.At(r.VisitDate)
			w.covered[r.VisitDate] = covered
		}
		if why, dup := dups[r.ID]; dup {
			reason = why
		} else if !covered {
			reason = "就诊日期早于本计划最早的政策版本"
		} else if d := eligibility.Decide(facts, r.VisitDate); !payable(d) {
			reason = reasonText(d)
		}
		if reason != "" {
			lines = append(lines, model.PayoutLine{RunID: runID, MemberID: m.ID, RecordID: r.ID, Year: r.VisitDate.Year(),
				ClaimType: r.ClaimType, BillDate: r.VisitDate, Eligible: false, Reason: model.Fit(reason, 255), Status: model.LineComputed})
			continue
		}
		bills = append(bills, policy.Bill{RecordID: r.ID, ClaimType: r.ClaimType, Date: r.VisitDate,
			SelfPay1Fen: r.SelfPay1, AboveCapFen: r.AboveCap, MajorDisease: r.MajorDisease})
	}
	if len(bills) == 0 {
		return lines, nil
	}
	res, err := s.engine.Compute(policy.Input{Facts: bonusFacts(m.Member), Bills: bills, Prior: prior})
	if e, ok := errs.As(err); ok && e.Kind == errs.KindInvalid {
		// Bad data of one member (a bonus span ending before it starts…) holds back that member's
		// bills with the reason, for staff to correct; everyone else is still paid.
		s.log.Warn("member's bills held back", "member_id", m.ID, "code", e.Code, "field", e.Field)
		for _, b := range bills {
			lines = append(lines, model.PayoutLine{RunID: runID, MemberID: m.ID, RecordID: b.RecordID, Year: b.Date.Year(),
				ClaimType: b.ClaimType, BillDate: b.Date, Reason: model.Fit("数据有误，暂缓核算："+e.Message, 255), Status: model.LineComputed})
		}
		return lines, nil
	}
	if err != nil {
		return nil, err
	}
	for _, l := range res.Lines {
		w.expl = policy.AppendSteps(w.expl[:0], l.Steps)
		lines = append(lines, model.PayoutLine{RunID: runID, MemberID: m.ID, RecordID: l.RecordID, Year: l.Year,
			ClaimType: l.ClaimType, BillDate: l.BillDate, PolicyCode: l.PolicyCode, BaseFen: l.BaseFen, AmountFen: l.AmountFen,
			Eligible: true, Reason: model.Fit(l.Reason, 255), Explanation: string(w.expl), Status: model.LineComputed})
	}
	return lines, nil
}

// payable reports whether bills of a worker with decision d are paid. A worker who still has to
// act (apply for a 京卡, register a bank card) is covered: the line is computed and the transfer
// waits for the account.
func payable(d eligibility.Decision) bool {
	return d.Status == eligibility.StatusEligible || d.Status == eligibility.StatusNeedsAction
}

func reasonText(d eligibility.Decision) string {
	if len(d.Reasons) == 0 {
		return "不符合参加条件"
	}
	return d.Reasons[0].Message
}

// bonusFacts returns the member's +5-point spans (困难职工, 劳模).
func bonusFacts(m model.Member) policy.Facts {
	var f policy.Facts
	if m.Hardship {
		f.Bonuses = append(f.Bonuses, policy.Bonus{Kind: policy.BonusHardship, From: m.HardshipFrom, Until: m.HardshipUntil})
	}
	if m.ModelWorker {
		f.Bonuses = append(f.Bonuses, policy.Bonus{Kind: policy.BonusModelWorker, From: m.ModelFrom, Until: m.ModelUntil})
	}
	return f
}

// finish stores the run's totals and writes the audit row.
func (s *Service) finish(ctx context.Context, runID uint64, t totals, actor model.Actor) (model.SettlementRun, error) {
	var run model.SettlementRun
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		if err := tx.Model(&model.SettlementRun{}).Where("id = ?", runID).Updates(map[string]any{
			"records_in": t.lines, "lines": t.lines - t.rejected, "members": t.members, "total_fen": t.amount,
			"rejected": t.rejected, "computing": false, "computed_at": now,
		}).Error; err != nil {
			return err
		}
		if err := tx.Take(&run, runID).Error; err != nil {
			return err
		}
		e := audit.By(actor)
		e.Action, e.Target = "run.compute", fmt.Sprintf("run:%d", runID)
		e.Detail = map[string]any{"period": run.Period, "class": run.Class, "attempt": run.Attempt, "lines": run.Lines,
			"members": run.Members, "total_fen": run.TotalFen, "rejected": run.Rejected}
		return audit.Write(ctx, tx, now, e)
	})
	if err != nil {
		return run, fmt.Errorf("settle run %d: totals: %w", runID, err)
	}
	s.log.Info("settlement computed", "run_id", run.ID, "period", run.Period, "class", run.Class, "lines", run.Lines,
		"total_fen", int64(run.TotalFen))
	return run, nil
}

// Approve freezes a computed draft: its payable lines become 已审核 and every member with money
// in it gets an approval notice with the promised arrival date, all in one transaction. It
// returns Forbidden unless actor may Approve, Forbidden (run.own_run) when actor last computed
// the run and model.Actor.CanApprove refuses it (four eyes), NotFound for an unknown run and
// Conflict for a run that is not a computed draft.
func (s *Service) Approve(ctx context.Context, runID uint64, actor model.Actor) (model.SettlementRun, error) {
	if err := audit.Need(actor, model.ActApprove); err != nil {
		return model.SettlementRun{}, err
	}
	var run model.SettlementRun
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Take(&run, runID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return errs.NotFound("settlement.run_not_found", "没有这个核算批次")
		} else if err != nil {
			return err
		}
		if run.Status != model.RunDraft || run.ComputedAt == nil || run.Computing {
			return errs.New(errs.KindConflict, "settlement.not_approvable", "只有核算完成的草稿可以审核")
		}
		if !actor.CanApprove(run.CreatedBy) {
			return errs.New(errs.KindForbidden, "run.own_run", "不能审批自己发起的结算批次").WithFix("请由另一位经办人或市总管理员审批")
		}
		p, err := s.cal.ParsePeriod(run.Period)
		if err != nil {
			return err
		}
		now := s.now()
		by := model.DateOf(s.cal.Settlement(p).ArriveBy)
		res := tx.Model(&model.SettlementRun{}).Where("id = ? AND status = ?", run.ID, model.RunDraft).
			Updates(map[string]any{"status": model.RunApproved, "approved_by": actor.Username, "approved_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errs.New(errs.KindConflict, "settlement.not_approvable", "这个核算批次刚被其他人审核过")
		}
		if err := tx.Model(&model.PayoutLine{}).Where("run_id = ? AND eligible AND amount_fen > 0", run.ID).
			Update("status", model.LineApproved).Error; err != nil {
			return err
		}
		var perMember []struct {
			MemberID uint64
			Total    model.Fen
		}
		if err := tx.Model(&model.PayoutLine{}).Where("run_id = ? AND status = ?", run.ID, model.LineApproved).
			Select("member_id, SUM(amount_fen) AS total").Group("member_id").Order("member_id").Scan(&perMember).Error; err != nil {
			return err
		}
		for _, pm := range perMember {
			if _, err := notify.Enqueue(ctx, tx, notify.Notice{Subject: notify.RunSubject(run.ID, pm.MemberID), MemberID: pm.MemberID,
				Kind: model.NoticeApproved, At: now, Payload: notify.Payload{AmountFen: pm.Total, Period: run.Period,
					ClaimTypes: run.Class.Label(), RunID: run.ID, ExpectedBy: by}}); err != nil {
				return err
			}
		}
		e := audit.By(actor)
		e.Action, e.Target = "run.approve", fmt.Sprintf("run:%d", run.ID)
		e.Detail = map[string]any{"period": run.Period, "class": run.Class, "total_fen": run.TotalFen, "members": len(perMember),
			"computed_by": run.CreatedBy}
		if err := audit.Write(ctx, tx, now, e); err != nil {
			return err
		}
		return tx.Take(&run, run.ID).Error
	})
	if err != nil {
		return run, fmt.Errorf("approve run %d: %w", runID, err)
	}
	return run, nil
}

func claimTypesOf(c model.SettlementClass) []model.ClaimType {
	var out []model.ClaimType
	for _, t := range model.ClaimTypes {
		if t.Class() == c {
			out = append(out, t)
		}
	}
	return out
}

// Runs returns the newest runs first, at most limit (0: 50).
func (s *Service) Runs(ctx context.Context, limit int) ([]model.SettlementRun, error) {
	if limit <= 0 {
		limit = 50
	}
	var runs []model.SettlementRun
	if err := s.db.WithContext(ctx).Order("id DESC").Limit(limit).Find(&runs).Error; err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}
