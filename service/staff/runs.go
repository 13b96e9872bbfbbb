package staff

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/pii"
	"huzhu/service/policy"
)

// SampleLine is one payout line of a run as staff check it: the member masked, the amounts and
// the policy engine's explanation.
type SampleLine struct {
	ID         uint64
	MemberID   uint64
	MemberName string // masked
	UnionName  string
	ClaimType  model.ClaimType
	BillDate   model.Date
	PolicyCode string
	BaseFen    model.Fen
	AmountFen  model.Fen
	Eligible   bool
	Reason     string
	Status     model.LineStatus
	Steps      []policy.Step
}

// RunDetail is a run with a sample of its lines: the largest payouts first, then the lines the
// plan does not pay, which are the ones staff most need to check.
type RunDetail struct {
	Run      model.SettlementRun
	Largest  []SampleLine
	Rejected []SampleLine
}

// Run returns the run and up to n lines of each sample. It returns NotFound for an unknown run
// and Forbidden for roles that do not see the plan's work.
func (s *Service) Run(ctx context.Context, st Staff, runID uint64, n int) (RunDetail, error) {
	if !st.Can(ViewPlan) {
		return RunDetail{}, errs.New(errs.KindForbidden, "staff.forbidden", "您的角色不能查看结算批次")
	}
	if n <= 0 || n > 100 {
		n = 20
	}
	db := s.db.WithContext(ctx)
	var d RunDetail
	if err := db.Take(&d.Run, runID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return d, errs.NotFound("run.not_found", "没有这个结算批次")
	} else if err != nil {
		return d, fmt.Errorf("run %d: %w", runID, err)
	}
	var err error
	if d.Largest, err = sample(db, runID, true, n); err != nil {
		return d, fmt.Errorf("run %d: %w", runID, err)
	}
	if d.Rejected, err = sample(db, runID, false, n); err != nil {
		return d, fmt.Errorf("run %d: %w", runID, err)
	}
	return d, nil
}

func sample(db *gorm.DB, runID uint64, eligible bool, n int) ([]SampleLine, error) {
	var rows []struct {
		model.PayoutLine `gorm:"embedded"`
		MemberName       string
		UnionName        string
	}
	q := db.Table("payout_lines AS l").Joins("JOIN members AS m ON m.id = l.member_id").Joins("JOIN unions AS u ON u.id = m.union_id").
		Select("l.*, m.name AS member_name, u.name AS union_name").Where("l.run_id = ? AND l.eligible = ?", runID, eligible)
	if eligible {
		q = q.Order("l.amount_fen DESC, l.id")
	} else {
		q = q.Order("l.id")
	}
	if err := q.Limit(n).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("sample lines: %w", err)
	}
	out := make([]SampleLine, 0, len(rows))
	for _, r := range rows {
		l := SampleLine{ID: r.ID, MemberID: r.MemberID, MemberName: pii.MaskName(r.MemberName), UnionName: r.UnionName, ClaimType: r.ClaimType,
			BillDate: r.BillDate, PolicyCode: r.PolicyCode, BaseFen: r.BaseFen, AmountFen: r.AmountFen, Eligible: r.Eligible,
			Reason: r.Reason, Status: r.Status}
		if r.Explanation != "" {
			steps, err := policy.DecodeSteps(r.Explanation)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", r.ID, err)
			}
			l.Steps = steps
		}
		out = append(out, l)
	}
	return out, nil
}

// FailedTransfer is a transfer the bank refused, waiting for staff to fix the account and
// re-issue it.
type FailedTransfer struct {
	ID           uint64
	Ref          string
	RunID        uint64
	MemberID     uint64
	MemberName   string // masked
	Bank         model.Bank
	AccountLast4 string // masked
	AmountFen    model.Fen
	FailReason   string
	UpdatedAt    time.Time
}

// FailedTransfers lists up to n failed transfers not yet re-issued, newest first.
func (s *Service) FailedTransfers(ctx context.Context, st Staff, n int) ([]FailedTransfer, error) {
	if !st.Can(ViewPlan) {
		return nil, errs.New(errs.KindForbidden, "staff.forbidden", "您的角色不能查看转账")
	}
	if n <= 0 || n > 500 {
		n = 100
	}
	var rows []struct {
		model.Transfer `gorm:"embedded"`
		MemberName     string
	}
	if err := s.db.WithContext(ctx).Table("transfers AS t").Joins("JOIN members AS m ON m.id = t.member_id").
		Select("t.*, m.name AS member_name").Where("t.status = ? AND EXISTS (SELECT 1 FROM payout_lines AS l WHERE l.transfer_id = t.id AND l.status = ?)", model.LineFailed, model.LineFailed).
		Order("t.updated_at DESC, t.id DESC").Limit(n).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("failed transfers: %w", err)
	}
	out := make([]FailedTransfer, 0, len(rows))
	for _, r := range rows {
		out = append(out, FailedTransfer{ID: r.ID, Ref: r.Ref, RunID: r.RunID, MemberID: r.MemberID, MemberName: pii.MaskName(r.MemberName),
			Bank: r.Bank, AccountLast4: pii.MaskLast4(r.AccountLast4), AmountFen: r.AmountFen, FailReason: r.FailReason, UpdatedAt: r.UpdatedAt})
	}
	return out, nil
}
