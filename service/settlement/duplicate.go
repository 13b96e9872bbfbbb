package settlement

import (
	"fmt"

	"gorm.io/gorm"

	"huzhu/model"
)

// Reasons of the lines of a bill that was already paid through the other way in.
const (
	reasonDupOfClaim = "这张票据已通过补充申请核算，不重复支付"
	reasonDupOfFeed  = "这张票据已按医保数据核算，不重复支付"
)

// duplicates finds, among the records a chunk is about to settle, the bills that came in twice:
// once from a worker's supplementary claim (source application) and once in the 医保 feed
// (model.SameBill). The claim's record holds the bill while it is unsettled or its line is
// eligible, so the feed record is refused; a claim's record is refused when a feed record of the
// same bill already has an eligible line in another run. Both arriving in one chunk: the claim's
// is paid, the feed's refused. It returns record id → reason. Claims are rare, so a chunk
// without any costs one indexed query.
func duplicates(tx *gorm.DB, members []uint64, records []record) (map[uint64]string, error) {
	if len(records) == 0 {
		return nil, nil
	}
	var apps []model.MedicalRecord
	if err := tx.Select("id", "member_id", "visit_date", "discharge_date", "hospital", "self_pay1_fen", "settlement_run_id", "source").
		Where("member_id IN ? AND source = ?", members, model.SourceApplication).Find(&apps).Error; err != nil {
		return nil, fmt.Errorf("find claims' records: %w", err)
	}
	if len(apps) == 0 {
		return nil, nil
	}
	var appMembers []uint64
	var dates []model.Date
	for _, a := range apps {
		appMembers = append(appMembers, a.MemberID)
		dates = append(dates, a.VisitDate)
	}
	var feed []model.MedicalRecord
	if err := tx.Select("id", "member_id", "visit_date", "discharge_date", "hospital", "self_pay1_fen", "settlement_run_id", "source").
		Where("member_id IN ? AND visit_date IN ? AND source <> ?", appMembers, dates, model.SourceApplication).Find(&feed).Error; err != nil {
		return nil, fmt.Errorf("find feed records of claimed bills: %w", err)
	}
	if len(feed) == 0 {
		return nil, nil
	}
	ids := make([]uint64, 0, len(apps)+len(feed))
	for _, r := range apps {
		ids = append(ids, r.ID)
	}
	for _, r := range feed {
		ids = append(ids, r.ID)
	}
	var lines []struct {
		RecordID uint64
		Eligible bool
	}
	if err := tx.Model(&model.PayoutLine{}).Select("record_id, eligible").Where("record_id IN ?", ids).Scan(&lines).Error; err != nil {
		return nil, fmt.Errorf("find lines of claimed bills: %w", err)
	}
	eligible := map[uint64]bool{}
	settled := map[uint64]bool{}
	for _, l := range lines {
		settled[l.RecordID] = true
		eligible[l.RecordID] = l.Eligible
	}
	settling := map[uint64]bool{}
	for _, r := range records {
		settling[r.ID] = true
	}
	out := map[uint64]string{}
	for _, a := range apps {
		for _, f := range feed {
			if !model.SameBill(a, f) {
				continue
			}
			// The claim holds the bill while no run has taken it, or when its line pays.
			claimHolds := (!settled[a.ID] && !eligible[f.ID]) || eligible[a.ID]
			if settling[f.ID] && claimHolds {
				out[f.ID] = reasonDupOfClaim
			}
			if settling[a.ID] && eligible[f.ID] {
				out[a.ID] = reasonDupOfFeed
			}
		}
	}
	return out, nil
}
