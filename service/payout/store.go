package payout

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/policy"
)

// prior is one year's figures of earlier runs for one member.
type prior struct {
	ytd     policy.YearToDate
	arrived model.Fen
}

// memberYears reads, in one query, the member's fields that eligibility and the policy bonuses
// need, their union's dues flag, and per year of years what every settlement run computed for
// the member (eligible lines of any status), the major-disease amount above the cap they counted
// (the ladder position) and the 自付一 per claim type they counted (the deductible position), as
// settlement's priorYearToDate does, plus what has arrived. One query rather than two because
// an estimate is a hot path whose time goes mostly to database round trips. It returns NotFound
// member.not_found for an unknown member.
func memberYears(db *gorm.DB, memberID uint64, years map[int]bool) (model.Member, model.Union, map[int]prior, error) {
	ys := make([]int, 0, len(years))
	for y := range years {
		ys = append(ys, y)
	}
	var rows []struct {
		model.Member `gorm:"embedded"`
		PaysDues     *bool
		Year         *int
		ClaimType    *model.ClaimType
		Paid         model.Fen
		Arrived      model.Fen
		SelfPay1     model.Fen
		AboveCap     model.Fen
	}
	// The derived table has one row per (year, claim type) with lines, or none; the LEFT JOIN
	// ON 1 = 1 repeats the member's columns on each (one row with NULL figures when none).
	err := db.Raw("SELECT m.id, m.union_id, m.insured_beijing, m.employment, m.kind, m.participation, m.paid_until, "+
		"m.joined_on, m.jing_card_hash, m.bank_code, m.bank_account_hash, m.hardship, m.hardship_from, m.hardship_until, "+
		"m.model_worker, m.model_from, m.model_until, u.pays_dues, "+
		"y.year, y.claim_type, COALESCE(y.paid, 0) AS paid, COALESCE(y.arrived, 0) AS arrived, "+
		"COALESCE(y.self_pay1, 0) AS self_pay1, COALESCE(y.above_cap, 0) AS above_cap "+
		"FROM members AS m LEFT JOIN unions AS u ON u.id = m.union_id "+
		"LEFT JOIN (SELECT l.year, l.claim_type, SUM(l.amount_fen) AS paid, "+
		"SUM(CASE WHEN l.status = ? THEN l.amount_fen ELSE 0 END) AS arrived, SUM(r.self_pay1_fen) AS self_pay1, "+
		"SUM(CASE WHEN r.major_disease THEN r.above_cap_fen ELSE 0 END) AS above_cap "+
		"FROM payout_lines AS l JOIN medical_records AS r ON r.id = l.record_id "+
		"WHERE l.member_id = ? AND l.eligible AND l.year IN ? GROUP BY l.year, l.claim_type) AS y ON 1 = 1 "+
		"WHERE m.id = ?", model.LineArrived, memberID, ys, memberID).Scan(&rows).Error
	if err != nil {
		return model.Member{}, model.Union{}, nil, fmt.Errorf("load member %d and year-to-date: %w", memberID, err)
	}
	if len(rows) == 0 {
		return model.Member{}, model.Union{}, nil, errs.NotFound("member.not_found", "没有找到您的会员信息")
	}
	m := rows[0].Member
	u := model.Union{ID: m.UnionID}
	if rows[0].PaysDues != nil {
		u.PaysDues = *rows[0].PaysDues
	}
	out := make(map[int]prior, len(rows))
	for _, r := range rows {
		if r.Year == nil || r.ClaimType == nil {
			continue
		}
		p := out[*r.Year]
		if p.ytd.DeductibleFen == nil {
			p.ytd.DeductibleFen = map[model.ClaimType]model.Fen{}
		}
		p.ytd.PaidFen += r.Paid
		p.ytd.AboveCapFen += r.AboveCap
		p.ytd.DeductibleFen[*r.ClaimType] += r.SelfPay1
		p.arrived += r.Arrived
		out[*r.Year] = p
	}
	return m, u, out, nil
}

func sortLines(ls []EstimateLine) {
	slices.SortStableFunc(ls, func(a, b EstimateLine) int {
		return cmp.Or(strings.Compare(string(a.Date), string(b.Date)), cmp.Compare(a.Index, b.Index), cmp.Compare(a.RecordID, b.RecordID))
	})
}

func sortYears(ys []YearToDate) {
	slices.SortFunc(ys, func(a, b YearToDate) int { return cmp.Compare(a.Year, b.Year) })
}
