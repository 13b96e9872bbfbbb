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
// an estimate is a hot path whose time goes mostly to database round trips; the lines come back
// one per row and are summed here, since a GROUP BY in the database (a temporary table per
// query) cost MariaDB more than the whole rest of the statement. It returns NotFound
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
		RecordID     *uint64
		AmountFen    model.Fen
		Status       model.LineStatus
		SelfPay1Fen  model.Fen
		MajorDisease bool
		AboveCapFen  model.Fen
	}
	// The LEFT JOINs repeat the member's columns on each of their lines (one row with NULL line
	// columns when none). A line whose record is gone is left out, as settlement's inner join
	// does. Find, not Scan: gorm's Scan renders every statement as text for its
	// logger, which costs more than reading the rows.
	err := db.Raw("SELECT m.id, m.union_id, m.insured_beijing, m.employment, m.kind, m.participation, m.paid_until, "+
		"m.joined_on, m.jing_card_hash, m.bank_code, m.bank_account_hash, m.hardship, m.hardship_from, m.hardship_until, "+
		"m.model_worker, m.model_from, m.model_until, u.pays_dues, "+
		"l.year, l.claim_type, r.id AS record_id, COALESCE(l.amount_fen, 0) AS amount_fen, COALESCE(l.status, '') AS status, "+
		"COALESCE(r.self_pay1_fen, 0) AS self_pay1_fen, COALESCE(r.major_disease, 0) AS major_disease, "+
		"COALESCE(r.above_cap_fen, 0) AS above_cap_fen "+
		"FROM members AS m LEFT JOIN unions AS u ON u.id = m.union_id "+
		"LEFT JOIN payout_lines AS l ON l.member_id = m.id AND l.eligible AND l.year IN ? "+
		"LEFT JOIN medical_records AS r ON r.id = l.record_id "+
		"WHERE m.id = ?", ys, memberID).Find(&rows).Error
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
	out := make(map[int]prior, len(years))
	for _, r := range rows {
		if r.Year == nil || r.ClaimType == nil || r.RecordID == nil {
			continue
		}
		p := out[*r.Year]
		if p.ytd.DeductibleFen == nil {
			p.ytd.DeductibleFen = map[model.ClaimType]model.Fen{}
		}
		p.ytd.PaidFen += r.AmountFen
		if r.MajorDisease {
			p.ytd.AboveCapFen += r.AboveCapFen
		}
		p.ytd.DeductibleFen[*r.ClaimType] += r.SelfPay1Fen
		if r.Status == model.LineArrived {
			p.arrived += r.AmountFen
		}
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
