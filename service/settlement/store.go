package settlement

import (
	"fmt"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/policy"
)

// memberColumns are what eligibility and the policy need of a member: no name, no ciphertext.
const memberColumns = "id, union_id, insured_beijing, employment, kind, participation, paid_until, joined_on, " +
	"jing_card_hash, bank_code, bank_account_hash, hardship, hardship_from, hardship_until, model_worker, model_from, model_until"

// loadMembers returns the members with the given ids (the columns settlement needs) and their
// unions, by id.
func loadMembers(tx *gorm.DB, ids []uint64) (map[uint64]model.Member, map[uint64]model.Union, error) {
	var ms []model.Member
	if err := tx.Select(memberColumns).Where("id IN ?", ids).Find(&ms).Error; err != nil {
		return nil, nil, fmt.Errorf("load members: %w", err)
	}
	members := make(map[uint64]model.Member, len(ms))
	unionIDs := map[uint64]bool{}
	for _, m := range ms {
		members[m.ID] = m
		unionIDs[m.UnionID] = true
	}
	ids = ids[:0:0]
	for id := range unionIDs {
		ids = append(ids, id)
	}
	var us []model.Union
	if len(ids) > 0 {
		if err := tx.Where("id IN ?", ids).Find(&us).Error; err != nil {
			return nil, nil, fmt.Errorf("load unions: %w", err)
		}
	}
	unions := make(map[uint64]model.Union, len(us))
	for _, u := range us {
		unions[u.ID] = u
	}
	return members, unions, nil
}

// priorYearToDate sums, per member and year, what every other run already paid, the major-disease
// amount above the basic-insurance cap it already counted (the ladder position) and the 自付一 per
// claim type it already counted (the deductible position).
func priorYearToDate(tx *gorm.DB, ids []uint64, runID uint64) (map[uint64]map[int]policy.YearToDate, error) {
	var rows []struct {
		MemberID  uint64
		Year      int
		ClaimType model.ClaimType
		Paid      model.Fen
		SelfPay1  model.Fen
		AboveCap  model.Fen
	}
	err := tx.Table("payout_lines AS l").Joins("JOIN medical_records AS r ON r.id = l.record_id").
		Where("l.member_id IN ? AND l.run_id <> ? AND l.eligible", ids, runID).
		Select("l.member_id, l.year, l.claim_type, SUM(l.amount_fen) AS paid, SUM(r.self_pay1_fen) AS self_pay1, " +
			"SUM(CASE WHEN r.major_disease THEN r.above_cap_fen ELSE 0 END) AS above_cap").
		Group("l.member_id, l.year, l.claim_type").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load year-to-date: %w", err)
	}
	out := map[uint64]map[int]policy.YearToDate{}
	for _, r := range rows {
		if out[r.MemberID] == nil {
			out[r.MemberID] = map[int]policy.YearToDate{}
		}
		y := out[r.MemberID][r.Year]
		if y.DeductibleFen == nil {
			y.DeductibleFen = map[model.ClaimType]model.Fen{}
		}
		y.PaidFen += r.Paid
		y.AboveCapFen += r.AboveCap
		y.DeductibleFen[r.ClaimType] += r.SelfPay1
		out[r.MemberID][r.Year] = y
	}
	return out, nil
}
