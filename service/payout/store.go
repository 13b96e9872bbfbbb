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
	// The LEFT JOINs repeat the member's columns on each of their lines (one row with NULL line
	// columns when none). A line whose record is gone is left out, as settlement's inner join
	// does. The columns are scanned by hand: gorm's reflection over the member's columns cost
	// more than the rest of the request.
	rows, err := db.Raw("SELECT m.id, m.union_id, m.insured_beijing, m.employment, m.kind, m.participation, "+
		"COALESCE(m.paid_until, ''), COALESCE(m.joined_on, ''), COALESCE(m.jing_card_hash, ''), COALESCE(m.bank_code, ''), "+
		"COALESCE(m.bank_account_hash, ''), m.hardship, COALESCE(m.hardship_from, ''), COALESCE(m.hardship_until, ''), "+
		"m.model_worker, COALESCE(m.model_from, ''), COALESCE(m.model_until, ''), u.pays_dues, "+
		"l.year, l.claim_type, r.id, l.amount_fen, l.status, r.self_pay1_fen, r.major_disease, r.above_cap_fen "+
		"FROM members AS m LEFT JOIN unions AS u ON u.id = m.union_id "+
		"LEFT JOIN payout_lines AS l ON l.member_id = m.id AND l.eligible AND l.year IN ? "+
		"LEFT JOIN medical_records AS r ON r.id = l.record_id "+
		"WHERE m.id = ?", ys, memberID).Rows()
	if err != nil {
		return model.Member{}, model.Union{}, nil, fmt.Errorf("load member %d and year-to-date: %w", memberID, err)
	}
	defer rows.Close()
	var (
		m        model.Member
		u        model.Union
		paysDues *bool // NULL when the member's union row is missing
		found    bool
	)
	out := make(map[int]prior, len(years))
	for rows.Next() {
		var (
			year      *int
			claimType *model.ClaimType
			recordID  *uint64
			amount    *model.Fen
			status    *model.LineStatus
			selfPay1  *model.Fen
			major     *bool
			aboveCap  *model.Fen
		)
		if err := rows.Scan(&m.ID, &m.UnionID, &m.InsuredBeijing, &m.Employment, &m.Kind, &m.Participation,
			&m.PaidUntil, &m.JoinedOn, &m.JingCardHash, &m.BankCode, &m.BankAccountHash, &m.Hardship, &m.HardshipFrom,
			&m.HardshipUntil, &m.ModelWorker, &m.ModelFrom, &m.ModelUntil, &paysDues,
			&year, &claimType, &recordID, &amount, &status, &selfPay1, &major, &aboveCap); err != nil {
			return model.Member{}, model.Union{}, nil, fmt.Errorf("load member %d and year-to-date: %w", memberID, err)
		}
		found = true
		if year == nil || claimType == nil || recordID == nil {
			continue
		}
		p := out[*year]
		if p.ytd.DeductibleFen == nil {
			p.ytd.DeductibleFen = map[model.ClaimType]model.Fen{}
		}
		p.ytd.PaidFen += deref(amount)
		if deref(major) {
			p.ytd.AboveCapFen += deref(aboveCap)
		}
		p.ytd.DeductibleFen[*claimType] += deref(selfPay1)
		if deref(status) == model.LineArrived {
			p.arrived += deref(amount)
		}
		out[*year] = p
	}
	if err := rows.Err(); err != nil {
		return model.Member{}, model.Union{}, nil, fmt.Errorf("load member %d and year-to-date: %w", memberID, err)
	}
	if !found {
		return model.Member{}, model.Union{}, nil, errs.NotFound("member.not_found", "没有找到您的会员信息")
	}
	u.ID, u.PaysDues = m.UnionID, deref(paysDues)
	return m, u, out, nil
}

// unsettledBills reads the member's newest max records that no settlement run has taken, as
// bills, scanned by hand like memberYears (this is the other statement of the same request).
func unsettledBills(db *gorm.DB, memberID uint64, max int) ([]bill, error) {
	rows, err := db.Raw("SELECT id, claim_type, visit_date, COALESCE(hospital, ''), self_pay1_fen, above_cap_fen, major_disease "+
		"FROM medical_records WHERE member_id = ? AND settlement_run_id = 0 ORDER BY visit_date DESC, id DESC LIMIT ?",
		memberID, max).Rows()
	if err != nil {
		return nil, fmt.Errorf("load records: %w", err)
	}
	defer rows.Close()
	var bills []bill
	for rows.Next() {
		b := bill{record: true}
		if err := rows.Scan(&b.RecordID, &b.ClaimType, &b.Date, &b.hospital, &b.SelfPay1Fen, &b.AboveCapFen, &b.MajorDisease); err != nil {
			return nil, fmt.Errorf("load records: %w", err)
		}
		bills = append(bills, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load records: %w", err)
	}
	return bills, nil
}

func sortLines(ls []EstimateLine) {
	slices.SortStableFunc(ls, func(a, b EstimateLine) int {
		return cmp.Or(strings.Compare(string(a.Date), string(b.Date)), cmp.Compare(a.Index, b.Index), cmp.Compare(a.RecordID, b.RecordID))
	})
}

func sortYears(ys []YearToDate) {
	slices.SortFunc(ys, func(a, b YearToDate) int { return cmp.Compare(a.Year, b.Year) })
}
