package model

import "time"

// PolicyVersion is an effective-dated version of the plan's rules that staff added in the
// console. The versions shipped in config/policy.yaml need no row; a row with the same Code
// overrides the shipped one.
type PolicyVersion struct {
	ID            uint64 `gorm:"primaryKey"`
	Code          string `gorm:"size:32;not null;uniqueIndex"`
	EffectiveFrom Date   `gorm:"size:10;not null"`
	Body          string `gorm:"type:text;not null"` // the version as YAML, validated by service/policy
	CreatedBy     string `gorm:"size:64;not null"`
	CreatedAt     time.Time
}

// SettlementRun is one settlement of a class for a period: outpatient per quarter ("2025-Q1"),
// inpatient per month ("2025-03"). There is at most one run per (period, class).
type SettlementRun struct {
	ID         uint64          `gorm:"primaryKey"`
	Period     string          `gorm:"size:8;not null;uniqueIndex:idx_run_period_class,priority:1"`
	Class      SettlementClass `gorm:"size:16;not null;uniqueIndex:idx_run_period_class,priority:2"`
	Status     RunStatus       `gorm:"size:16;not null"`
	RecordsIn  int64           `gorm:"not null;default:0"`
	Lines      int64           `gorm:"not null;default:0"`
	Members    int64           `gorm:"not null;default:0"`
	TotalFen   Fen             `gorm:"not null;default:0"`
	Rejected   int64           `gorm:"not null;default:0"` // records kept with an ineligibility reason
	Attempt    int64           `gorm:"not null;default:0"` // increments on every (re)calculation
	Computing  bool            `gorm:"not null;default:false"`
	CreatedBy  string          `gorm:"size:64;not null"`
	ApprovedBy string          `gorm:"size:64"`
	ApprovedAt *time.Time
	ComputedAt *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Payable reports whether the run may have transfers to export: it is approved or exported (a
// re-issued transfer goes out with the next export), and it pays something. A closed run has
// paid everything, and a run of 0.00 (every line capped or rejected) has nothing to send.
func (r SettlementRun) Payable() bool {
	return (r.Status == RunApproved || r.Status == RunExported) && r.TotalFen > 0
}

// PayoutLine is what the plan pays for one medical record in one run. RecordID is unique: a
// record is paid at most once, whatever happens to the process.
type PayoutLine struct {
	ID          uint64     `gorm:"primaryKey"`
	RunID       uint64     `gorm:"not null;index"`
	MemberID    uint64     `gorm:"not null;index:idx_line_member_year,priority:1"`
	RecordID    uint64     `gorm:"not null;uniqueIndex"`
	Year        int        `gorm:"not null;index:idx_line_member_year,priority:2"`
	ClaimType   ClaimType  `gorm:"size:24;not null"`
	BillDate    Date       `gorm:"size:10;not null"`
	PolicyCode  string     `gorm:"size:32;not null"`
	BaseFen     Fen        `gorm:"not null"` // the amount the ratio applies to (自付一 + above cap for major disease)
	AmountFen   Fen        `gorm:"not null"` // what the plan pays for this record
	Eligible    bool       `gorm:"not null"` // false: kept with Reason, amount 0
	Reason      string     `gorm:"size:255"`
	Explanation string     `gorm:"type:text"` // the policy engine's steps: policy.EncodeSteps, read with policy.DecodeSteps
	Status      LineStatus `gorm:"size:16;not null;index:idx_line_status_arrived,priority:1"`
	TransferID  uint64     `gorm:"index"`
	ArrivedAt   *time.Time `gorm:"index:idx_line_status_arrived,priority:2"` // with Status: the monthly arrivals
	FailReason  string     `gorm:"size:255"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Transfer is one bank transfer to one member: the sum of their approved lines of a run, sent in
// a payment batch. A failed transfer may be re-issued as a new transfer after staff fix the
// account.
type Transfer struct {
	ID           uint64     `gorm:"primaryKey"`
	Ref          string     `gorm:"size:40;not null;uniqueIndex"` // our reference, echoed in the bank's result file
	BatchID      uint64     `gorm:"not null;index"`
	RunID        uint64     `gorm:"not null;index"`
	MemberID     uint64     `gorm:"not null;index"`
	Bank         Bank       `gorm:"size:8;not null"`
	AccountKind  string     `gorm:"size:16;not null"` // jingka or bank
	AccountLast4 string     `gorm:"size:4;not null"`
	AmountFen    Fen        `gorm:"not null"`
	Status       LineStatus `gorm:"size:16;not null;index"`
	ArrivedAt    *time.Time
	FailReason   string `gorm:"size:255"`
	ReissueOf    uint64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// PaymentBatch is one transfer file for one bank.
type PaymentBatch struct {
	ID        uint64 `gorm:"primaryKey"`
	RunID     uint64 `gorm:"not null;index"`
	Bank      Bank   `gorm:"size:8;not null"`
	FileName  string `gorm:"size:128;not null"`
	Transfers int64  `gorm:"not null"`
	TotalFen  Fen    `gorm:"not null"`
	CreatedBy string `gorm:"size:64;not null"`
	CreatedAt time.Time
}
