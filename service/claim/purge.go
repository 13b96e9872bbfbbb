package claim

import (
	"context"
	"fmt"
	"time"

	"huzhu/model"
)

// Purge deletes the documents of claims that ended more than Options.KeepDocs ago: withdrawn,
// or settled (the claim's record is in an approved settlement run). The data key goes first (in
// the row), then the object: a document whose object could not be deleted is unreadable anyway.
// It handles at most limit claims a call (0: 100) and returns the documents deleted.
func (s *Service) Purge(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		limit = 100
	}
	db := s.db.WithContext(ctx)
	cutoff := s.now().Add(-s.o.KeepDocs)
	var cs []model.Claim
	// Claims that still hold a document; ended or not is decided below, in Go, where the times of
	// every backend compare alike.
	if err := db.Where("status IN ? AND id IN (SELECT claim_id FROM claim_documents WHERE deleted_at IS NULL)",
		[]model.ClaimStatus{model.ClaimWithdrawn, model.ClaimConfirmed}).Order("id").Limit(10 * limit).Find(&cs).Error; err != nil {
		return 0, fmt.Errorf("purge claim documents: %w", err)
	}
	var ended []uint64
	var confirmed []uint64
	for _, c := range cs {
		switch {
		case c.Status == model.ClaimWithdrawn && c.WithdrawnAt != nil && c.WithdrawnAt.Before(cutoff):
			ended = append(ended, c.ID)
		case c.Status == model.ClaimConfirmed && c.RecordID != 0:
			confirmed = append(confirmed, c.RecordID)
		}
	}
	if len(confirmed) > 0 {
		var rows []struct {
			ClaimID    uint64
			ApprovedAt *time.Time
		}
		if err := db.Table("payout_lines l").Select("r.claim_id, s.approved_at").
			Joins("JOIN medical_records r ON r.id = l.record_id").Joins("JOIN settlement_runs s ON s.id = l.run_id").
			Where("l.record_id IN ? AND s.status <> ?", confirmed, model.RunDraft).Scan(&rows).Error; err != nil {
			return 0, fmt.Errorf("purge claim documents: settled claims: %w", err)
		}
		for _, r := range rows {
			if r.ApprovedAt != nil && r.ApprovedAt.Before(cutoff) {
				ended = append(ended, r.ClaimID)
			}
		}
	}
	if len(ended) > limit {
		ended = ended[:limit]
	}
	n := 0
	for _, id := range ended {
		var docs []model.ClaimDocument
		if err := db.Where("claim_id = ? AND deleted_at IS NULL", id).Find(&docs).Error; err != nil {
			return n, fmt.Errorf("purge claim %d: %w", id, err)
		}
		for _, d := range docs {
			if err := db.Model(&model.ClaimDocument{}).Where("id = ?", d.ID).
				Updates(map[string]any{"deleted_at": s.now(), "data_key": nil}).Error; err != nil {
				return n, fmt.Errorf("purge document %d: %w", d.ID, err)
			}
			if err := s.store.Delete(ctx, d.StorageKey); err != nil {
				s.log.Warn("claim document left in the store (its key is deleted)", "claim_id", id, "document_id", d.ID, "err", err)
			}
			n++
		}
	}
	return n, nil
}
