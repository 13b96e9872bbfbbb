package payout

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/policy"
)

// loadFacts reads, in one query, the member's fields that eligibility and the policy bonuses
// need, and their union's dues flag. It returns NotFound member.not_found for an unknown member.
func loadFacts(db *gorm.DB, memberID uint64) (model.Member, model.Union, error) {
	var row struct {
		model.Member `gorm:"embedded"`
		PaysDues     *bool
	}
	err := db.Table("members AS m").Joins("LEFT JOIN unions AS u ON u.id = m.union_id").
		Select("m.id, m.union_id, m.insured_beijing, m.employment, m.kind, m.participation, m.paid_until, m.joined_on, "+
			"m.jing_card_hash, m.bank_code, m.bank_account_hash, m.hardship, m.hardship_from, m.hardship_until, "+
			"m.model_worker, m.model_from, m.model_until, u.pays_dues").
		Where("m.id = ?", memberID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return model.Member{}, model.Union{}, errs.NotFound("member.not_found", "没有找到您的会员信息")
	}
	if err != nil {
		return model.Member{}, model.Union{}, fmt.Errorf("load member %d: %w", memberID, err)
	}
	u := model.Union{ID: row.UnionID}
	if row.PaysDues != nil {
		u.PaysDues = *row.PaysDues
	}
	return row.Member, u, nil
}

// prior is one year's figures of earlier runs for one member.
type prior struct {
	ytd     policy.YearToDate
	arrived model.Fen
}

// yearToDate sums, per year, what every settlement run computed for the member (eligible lines
// of any status), the major-disease amount above the cap they counted (the ladder position) and
// the 自付一 per claim type they counted (the deductible position), as settlement's
// priorYearToDate does, plus what has arrived.
func yearToDate(db *gorm.DB, memberID uint64, years map[int]bool) (map[int]prior, error) {
	ys := make([]int, 0, len(years))
	for y := range years {
		ys = append(ys, y)
	}
	var rows []struct {
		Year      int
		ClaimType model.ClaimType
		Paid      model.Fen
		Arrived   model.Fen
		SelfPay1  model.Fen
		AboveCap  model.Fen
	}
	err := db.Table("payout_lines AS l").Joins("JOIN medical_records AS r ON r.id = l.record_id").
		Where("l.member_id = ? AND l.eligible AND l.year IN ?", memberID, ys).
		Select("l.year, l.claim_type, SUM(l.amount_fen) AS paid, "+
			"SUM(CASE WHEN l.status = ? THEN l.amount_fen ELSE 0 END) AS arrived, SUM(r.self_pay1_fen) AS self_pay1, "+
			"SUM(CASE WHEN r.major_disease THEN r.above_cap_fen ELSE 0 END) AS above_cap", model.LineArrived).
		Group("l.year, l.claim_type").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load year-to-date: %w", err)
	}
	out := make(map[int]prior, len(rows))
	for _, r := range rows {
		p := out[r.Year]
		if p.ytd.DeductibleFen == nil {
			p.ytd.DeductibleFen = map[model.ClaimType]model.Fen{}
		}
		p.ytd.PaidFen += r.Paid
		p.ytd.AboveCapFen += r.AboveCap
		p.ytd.DeductibleFen[r.ClaimType] += r.SelfPay1
		p.arrived += r.Arrived
		out[r.Year] = p
	}
	return out, nil
}

func sortLines(ls []EstimateLine) {
	slices.SortStableFunc(ls, func(a, b EstimateLine) int {
		return cmp.Or(strings.Compare(string(a.Date), string(b.Date)), cmp.Compare(a.Index, b.Index), cmp.Compare(a.RecordID, b.RecordID))
	})
}

func sortYears(ys []YearToDate) {
	slices.SortFunc(ys, func(a, b YearToDate) int { return cmp.Compare(a.Year, b.Year) })
}
