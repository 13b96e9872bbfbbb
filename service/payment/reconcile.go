package payment

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/errs"
)

// Reconciliation is a run's money, accounted for to the fen. Computed is what the run's lines
// pay; every fen of it is in exactly one of Waiting (approved or re-issued, not exported),
// InTransfer, Arrived, Failed or NotApproved. Mismatches lists every check that failed, in
// plain Chinese; an empty list means the run balances.
type Reconciliation struct {
	RunID       uint64
	Records     int64 // records the run took, eligible or not
	Lines       int64 // payable lines
	Computed    model.Fen
	NotApproved model.Fen
	Waiting     model.Fen
	InTransfer  model.Fen
	Arrived     model.Fen
	Failed      model.Fen
	Exported    model.Fen // all transfers ever exported, re-issues included
	Mismatches  []string
}

// Balanced reports whether every check passed.
func (r Reconciliation) Balanced() bool { return len(r.Mismatches) == 0 }

// Reconcile checks run runID. It returns NotFound for an unknown run; mismatches are not errors
// but findings in the result.
func (s *Service) Reconcile(ctx context.Context, runID uint64) (Reconciliation, error) {
	rec := Reconciliation{RunID: runID}
	db := s.db.WithContext(ctx)
	var run model.SettlementRun
	if err := db.Take(&run, runID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return rec, errs.NotFound("payment.run_not_found", "没有这个核算批次")
	} else if err != nil {
		return rec, fmt.Errorf("reconcile run %d: %w", runID, err)
	}
	var lines []struct {
		Status model.LineStatus
		N      int64
		Total  model.Fen
	}
	if err := db.Model(&model.PayoutLine{}).Where("run_id = ? AND eligible", runID).
		Select("status, COUNT(*) AS n, COALESCE(SUM(amount_fen), 0) AS total").Group("status").Scan(&lines).Error; err != nil {
		return rec, fmt.Errorf("reconcile run %d: lines: %w", runID, err)
	}
	if err := db.Model(&model.PayoutLine{}).Where("run_id = ?", runID).Count(&rec.Records).Error; err != nil {
		return rec, fmt.Errorf("reconcile run %d: %w", runID, err)
	}
	for _, l := range lines {
		rec.Lines += l.N
		rec.Computed += l.Total
		switch l.Status {
		case model.LineComputed:
			rec.NotApproved += l.Total
		case model.LineApproved, model.LineReissued:
			rec.Waiting += l.Total
		case model.LineTransfering:
			rec.InTransfer += l.Total
		case model.LineArrived:
			rec.Arrived += l.Total
		case model.LineFailed:
			rec.Failed += l.Total
		}
	}
	if sum := rec.NotApproved + rec.Waiting + rec.InTransfer + rec.Arrived + rec.Failed; sum != rec.Computed {
		rec.Mismatches = append(rec.Mismatches, fmt.Sprintf("各状态合计 %s 元不等于核算总额 %s 元（有未知状态的明细）", sum.YuanGrouped(), rec.Computed.YuanGrouped()))
	}
	if run.TotalFen != rec.Computed {
		rec.Mismatches = append(rec.Mismatches, fmt.Sprintf("批次记录的总额 %s 元与明细合计 %s 元不一致", run.TotalFen.YuanGrouped(), rec.Computed.YuanGrouped()))
	}

	// Each live transfer equals the sum of its lines, and the status totals agree.
	var transfers []struct {
		ID      uint64
		Ref     string
		Status  model.LineStatus
		Amount  model.Fen
		LineSum model.Fen // not "lines": a reserved word in MySQL
		N       int64
	}
	if err := db.Table("transfers AS t").
		Joins("LEFT JOIN payout_lines AS l ON l.transfer_id = t.id AND l.status = t.status").
		Where("t.run_id = ?", runID).
		Select("t.id, t.ref, t.status, t.amount_fen AS amount, COALESCE(SUM(l.amount_fen), 0) AS line_sum, COUNT(l.id) AS n").
		Group("t.id, t.ref, t.status, t.amount_fen").Order("t.id").Scan(&transfers).Error; err != nil {
		return rec, fmt.Errorf("reconcile run %d: transfers: %w", runID, err)
	}
	byStatus := map[model.LineStatus]model.Fen{}
	for _, t := range transfers {
		rec.Exported += t.Amount
		if t.Status == model.LineFailed && t.N == 0 {
			continue // re-issued: its lines moved on to a newer transfer
		}
		byStatus[t.Status] += t.Amount
		if t.Amount != t.LineSum {
			rec.Mismatches = append(rec.Mismatches, fmt.Sprintf("转账 %s 金额 %s 元，与其明细合计 %s 元不一致", t.Ref, t.Amount.YuanGrouped(), t.LineSum.YuanGrouped()))
		}
	}
	for _, c := range []struct {
		st    model.LineStatus
		lines model.Fen
	}{{model.LineTransfering, rec.InTransfer}, {model.LineArrived, rec.Arrived}, {model.LineFailed, rec.Failed}} {
		if byStatus[c.st] != c.lines {
			rec.Mismatches = append(rec.Mismatches, fmt.Sprintf("“%s”的转账合计 %s 元，明细合计 %s 元，不一致", c.st.Label(), byStatus[c.st].YuanGrouped(), c.lines.YuanGrouped()))
		}
	}
	return rec, nil
}

// YearReconciliation sums the reconciliations of every run of one year's periods.
type YearReconciliation struct {
	Year  int
	Runs  []Reconciliation
	Total Reconciliation // sums; RunID 0; Mismatches of every run, prefixed with its id
}

// ReconcileYear reconciles every run whose period lies in year (2025-Q1 … 2025-12).
func (s *Service) ReconcileYear(ctx context.Context, year int) (YearReconciliation, error) {
	out := YearReconciliation{Year: year}
	var ids []uint64
	if err := s.db.WithContext(ctx).Model(&model.SettlementRun{}).Where("period LIKE ?", fmt.Sprintf("%04d-%%", year)).
		Order("id").Pluck("id", &ids).Error; err != nil {
		return out, fmt.Errorf("reconcile %d: %w", year, err)
	}
	for _, id := range ids {
		r, err := s.Reconcile(ctx, id)
		if err != nil {
			return out, err
		}
		out.Runs = append(out.Runs, r)
		t := &out.Total
		t.Records += r.Records
		t.Lines += r.Lines
		t.Computed += r.Computed
		t.NotApproved += r.NotApproved
		t.Waiting += r.Waiting
		t.InTransfer += r.InTransfer
		t.Arrived += r.Arrived
		t.Failed += r.Failed
		t.Exported += r.Exported
		for _, m := range r.Mismatches {
			t.Mismatches = append(t.Mismatches, fmt.Sprintf("批次 %d：%s", r.RunID, m))
		}
	}
	return out, nil
}
