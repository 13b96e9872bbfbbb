package model

import "time"

// MedicalRecord is one 医保 settlement record of a visit, imported from the basic-insurance data.
// Amounts are the record's own; the plan pays a share of SelfPay1 (自付一) and, for major
// disease, of AboveCap (the 自付一 above the basic-insurance cap).
type MedicalRecord struct {
	ID            uint64    `gorm:"primaryKey"`
	RecordNo      string    `gorm:"size:64;not null;uniqueIndex"` // 医保结算单号, the natural key
	MemberID      uint64    `gorm:"not null;index:idx_record_member_date,priority:1;index:idx_record_pending,priority:2"`
	ClaimType     ClaimType `gorm:"size:24;not null"`
	VisitDate     Date      `gorm:"size:10;not null;index:idx_record_member_date,priority:2"`
	DischargeDate Date      `gorm:"size:10"`
	Hospital      string    `gorm:"size:128"`
	TotalFen      Fen       `gorm:"not null"`
	FundPaidFen   Fen       `gorm:"not null"`
	SelfPay1Fen   Fen       `gorm:"not null"` // 自付一
	SelfPay2Fen   Fen       `gorm:"not null"` // 自付二
	SelfFundedFen Fen       `gorm:"not null"` // 自费
	AboveCapFen   Fen       `gorm:"not null"` // above the basic-insurance cap
	MajorDisease  bool      `gorm:"not null;default:false"`
	ImportBatchID uint64
	// SettlementRunID is 0 until a run takes the record. (settlement_run_id, member_id) is the
	// index a run walks to find the members with unsettled records, in member order.
	SettlementRunID uint64 `gorm:"index:idx_record_pending,priority:1"`
	// Source is where the record came from: the 医保 feed, or a worker's supplementary claim
	// (ClaimID). A claim's record and a feed record of the same bill are never both paid.
	Source    RecordSource `gorm:"size:16;not null;default:feed"`
	ClaimID   uint64
	CreatedAt time.Time
}
