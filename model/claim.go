package model

import "time"

// RecordSource says where a medical record came from.
type RecordSource string

// Record sources: the 医保 feed (imports; the empty value of rows written before claims existed
// means the same) and a worker's supplementary claim confirmed by 办事处.
const (
	SourceFeed        RecordSource = "feed"
	SourceApplication RecordSource = "application"
)

// FromClaim reports whether the record was made from a worker's supplementary claim.
func (s RecordSource) FromClaim() bool { return s == SourceApplication }

// ClaimKind is why a bill needs a supplementary claim: the 医保 feed never carries it.
type ClaimKind string

// Claim kinds.
const (
	// ClaimRemoteEmergency is emergency care outside Beijing, paid in cash and reimbursed by hand
	// (异地急诊，费用自费后回京手工报销).
	ClaimRemoteEmergency ClaimKind = "remote_emergency"
	// ClaimAboveCap is a bill with 自付一 above the basic-insurance cap, for which the plan asks
	// for the documents (超封顶线 材料).
	ClaimAboveCap ClaimKind = "above_cap"
)

// ClaimKinds lists every claim kind in display order.
var ClaimKinds = []ClaimKind{ClaimRemoteEmergency, ClaimAboveCap}

// Label returns the Chinese name of the kind.
func (k ClaimKind) Label() string {
	switch k {
	case ClaimRemoteEmergency:
		return "异地急诊手工报销"
	case ClaimAboveCap:
		return "超封顶线费用"
	}
	return string(k)
}

// Valid reports whether k is a known kind.
func (k ClaimKind) Valid() bool { return k.Label() != string(k) }

// DocKind is what one document of a claim shows.
type DocKind string

// Document kinds, from the plan's list of what to bring (seed 004) and the 急诊章 of seed 002.
const (
	DocSocialCard DocKind = "social_card" // 社会保障卡复印件
	DocJingCard   DocKind = "jing_card"   // 京卡复印件
	DocReceipt    DocKind = "receipt"     // 门诊收费专用收据 or 住院费用清单 / 分割单
	DocEmergency  DocKind = "emergency"   // 加盖急诊章的病历或诊断证明
	DocOther      DocKind = "other"       // anything the union asked for in a return
)

// DocKinds lists every document kind in display order.
var DocKinds = []DocKind{DocSocialCard, DocJingCard, DocReceipt, DocEmergency, DocOther}

// Label returns the Chinese name of the document kind.
func (d DocKind) Label() string {
	switch d {
	case DocSocialCard:
		return "社会保障卡复印件"
	case DocJingCard:
		return "京卡复印件"
	case DocReceipt:
		return "收费收据或住院费用清单（分割单）"
	case DocEmergency:
		return "加盖急诊章的病历或诊断证明"
	case DocOther:
		return "其他补充材料"
	}
	return string(d)
}

// Valid reports whether d is a known document kind.
func (d DocKind) Valid() bool { return d.Label() != string(d) }

// RequiredDocs returns the documents a claim of kind k must carry before it can be submitted.
// The paper form also asks for a copy of the 京卡: here the money goes to the account on the
// roster, which a worker cannot change through a claim, so the copy would prove nothing and is
// optional (DocJingCard).
func (k ClaimKind) RequiredDocs() []DocKind {
	switch k {
	case ClaimRemoteEmergency:
		return []DocKind{DocReceipt, DocEmergency}
	case ClaimAboveCap:
		return []DocKind{DocSocialCard, DocReceipt}
	}
	return nil
}

// ClaimStatus is where a supplementary claim is: 草稿 → 已提交 → 工会已审核 (or 退回补充, back to
// the worker, then 已提交 again) → 办事处已确认 → 已核算 → 已到账; 已撤回 by the worker at any point
// before 办事处 confirms.
type ClaimStatus string

// Claim statuses. Settled and paid are not stored on the claim: they are read from the payout line
// of the record the claim became, so they cannot disagree with the money.
const (
	ClaimDraft         ClaimStatus = "draft"
	ClaimSubmitted     ClaimStatus = "submitted"
	ClaimReturned      ClaimStatus = "returned"
	ClaimUnionApproved ClaimStatus = "union_approved"
	ClaimConfirmed     ClaimStatus = "confirmed"
	ClaimSettled       ClaimStatus = "settled"
	ClaimPaid          ClaimStatus = "paid"
	ClaimWithdrawn     ClaimStatus = "withdrawn"
)

// ClaimStatuses lists every status in the order of the flow.
var ClaimStatuses = []ClaimStatus{ClaimDraft, ClaimSubmitted, ClaimReturned, ClaimUnionApproved, ClaimConfirmed, ClaimSettled,
	ClaimPaid, ClaimWithdrawn}

// Label returns the Chinese name of the status as workers and staff see it.
func (s ClaimStatus) Label() string {
	switch s {
	case ClaimDraft:
		return "草稿"
	case ClaimSubmitted:
		return "已提交"
	case ClaimReturned:
		return "退回补充"
	case ClaimUnionApproved:
		return "工会已审核"
	case ClaimConfirmed:
		return "办事处已确认"
	case ClaimSettled:
		return "已核算"
	case ClaimPaid:
		return "已到账"
	case ClaimWithdrawn:
		return "已撤回"
	}
	return string(s)
}

// Valid reports whether s is a known status.
func (s ClaimStatus) Valid() bool { return s.Label() != string(s) }

// Editable reports whether the worker may still change the claim and its documents.
func (s ClaimStatus) Editable() bool { return s == ClaimDraft || s == ClaimReturned }

// CanTransitionTo reports whether a claim may move from s to next.
func (s ClaimStatus) CanTransitionTo(next ClaimStatus) bool {
	switch s {
	case ClaimDraft:
		return next == ClaimSubmitted || next == ClaimWithdrawn
	case ClaimSubmitted:
		return next == ClaimUnionApproved || next == ClaimReturned || next == ClaimWithdrawn
	case ClaimReturned:
		return next == ClaimSubmitted || next == ClaimWithdrawn
	case ClaimUnionApproved:
		// 办事处 may send it back too; the worker may still withdraw until it is confirmed.
		return next == ClaimConfirmed || next == ClaimReturned || next == ClaimWithdrawn
	case ClaimConfirmed:
		return next == ClaimSettled
	case ClaimSettled:
		return next == ClaimPaid
	}
	return false
}

// Claim is a worker's supplementary claim for a bill the 医保 feed does not carry. Confirmed by
// 办事处, it becomes the medical record RecordID (source application), which settles like any
// other. UnionID is the member's union when the claim was started: the union that reviews it.
type Claim struct {
	ID            uint64      `gorm:"primaryKey"`
	MemberID      uint64      `gorm:"not null;index"`
	UnionID       uint64      `gorm:"not null;index:idx_claim_queue,priority:1"`
	Status        ClaimStatus `gorm:"size:16;not null;index:idx_claim_queue,priority:2"`
	Kind          ClaimKind   `gorm:"size:24;not null"`
	ClaimType     ClaimType   `gorm:"size:24;not null"`
	VisitDate     Date        `gorm:"size:10;not null"`
	DischargeDate Date        `gorm:"size:10"`
	Hospital      string      `gorm:"size:128;not null"`
	TotalFen      Fen         `gorm:"not null"`
	SelfPay1Fen   Fen         `gorm:"not null"` // 自付一
	AboveCapFen   Fen         `gorm:"not null"` // 超封顶线自付一
	MajorDisease  bool        `gorm:"not null;default:false"`
	Note          string      `gorm:"size:512"` // the worker's words, e.g. the answer to a return
	// ReturnCode and ReturnNote are why the claim was last sent back (a code of the service's list
	// and the reviewer's free text).
	ReturnCode      string `gorm:"size:32"`
	ReturnNote      string `gorm:"size:512"`
	Returns         int    `gorm:"not null;default:0"`
	UnionApprovedBy string `gorm:"size:64"`
	ConfirmedBy     string `gorm:"size:64"`
	// DuplicateOf is the 医保 record found to be the same bill when 办事处 tried to confirm: the
	// claim is flagged and cannot be confirmed.
	DuplicateOf     uint64
	RecordID        uint64 `gorm:"index"`
	SubmittedAt     *time.Time
	ReturnedAt      *time.Time
	UnionApprovedAt *time.Time
	ConfirmedAt     *time.Time
	WithdrawnAt     *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// ClaimDocument is one photo or PDF of a claim. The bytes live in the document store, sealed under
// a key used for this document only (DataKey, itself sealed with the personal-data key); DeletedAt
// is set when the bytes are deleted after the claim ended.
type ClaimDocument struct {
	ID         uint64  `gorm:"primaryKey"`
	ClaimID    uint64  `gorm:"not null;index"`
	Kind       DocKind `gorm:"size:16;not null"`
	MIME       string  `gorm:"size:32;not null"`
	Size       int64   `gorm:"not null"` // bytes as the worker sees them (after metadata is removed)
	StorageKey string  `gorm:"size:96;not null;uniqueIndex"`
	DataKey    []byte
	UploadedAt time.Time `gorm:"not null"`
	DeletedAt  *time.Time
}

// SameBill reports whether two records describe the same bill: the same member, hospital (spaces
// ignored), visit and discharge dates and 自付一. A claim's record and a feed record that are the
// same bill are never both paid.
func SameBill(a, b MedicalRecord) bool {
	return a.MemberID == b.MemberID && a.VisitDate == b.VisitDate && a.DischargeDate == b.DischargeDate &&
		a.SelfPay1Fen == b.SelfPay1Fen && squeeze(a.Hospital) == squeeze(b.Hospital)
}

// squeeze drops every space (ASCII and the full-width 　) so "北京 协和医院" matches "北京协和医院".
func squeeze(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == ' ' || r == '\t' || r == '\u3000' || r == '\u00a0' {
			continue
		}
		out = append(out, r)
	}
	return string(out)
}
