package model

// RunStatus is the life cycle of a settlement run.
type RunStatus string

// Run statuses: a draft may be recalculated; approval freezes the lines; export sends them to the
// banks; a run is closed when every payable line has arrived (at once, when none is payable).
const (
	RunDraft    RunStatus = "draft"
	RunApproved RunStatus = "approved"
	RunExported RunStatus = "exported"
	RunClosed   RunStatus = "closed"
)

// Label returns the Chinese name of the status.
func (s RunStatus) Label() string {
	switch s {
	case RunDraft:
		return "草稿"
	case RunApproved:
		return "已审核"
	case RunExported:
		return "已导出"
	case RunClosed:
		return "已完成"
	}
	return string(s)
}

// CanTransitionTo reports whether a run may move from s to next.
func (s RunStatus) CanTransitionTo(next RunStatus) bool {
	switch s {
	case RunDraft:
		return next == RunDraft || next == RunApproved
	case RunApproved:
		return next == RunExported || next == RunClosed // closed at once when nothing is payable
	case RunExported:
		return next == RunExported || next == RunClosed
	}
	return false
}

// LineStatus is where one payout line is on its way to the worker: 已核算 → 已审核 → 转账中 →
// 已到账, or 失败 → 重新发放 (back to 转账中).
type LineStatus string

// Line statuses.
const (
	LineComputed    LineStatus = "computed"
	LineApproved    LineStatus = "approved"
	LineTransfering LineStatus = "transferring"
	LineArrived     LineStatus = "arrived"
	LineFailed      LineStatus = "failed"
	LineReissued    LineStatus = "reissued"
)

// Label returns the Chinese name of the status as workers see it.
func (s LineStatus) Label() string {
	switch s {
	case LineComputed:
		return "已核算"
	case LineApproved:
		return "已审核"
	case LineTransfering:
		return "转账中"
	case LineArrived:
		return "已到账"
	case LineFailed:
		return "转账失败"
	case LineReissued:
		return "重新发放"
	}
	return string(s)
}

// CanTransitionTo reports whether a line may move from s to next.
func (s LineStatus) CanTransitionTo(next LineStatus) bool {
	switch s {
	case LineComputed:
		return next == LineApproved
	case LineApproved:
		return next == LineTransfering
	case LineTransfering:
		return next == LineArrived || next == LineFailed
	case LineFailed:
		return next == LineReissued
	case LineReissued:
		return next == LineTransfering
	}
	return false
}

// NoticeStatus is the state of one outbox row.
type NoticeStatus string

// Notice statuses.
const (
	NoticePending NoticeStatus = "pending"
	NoticeSending NoticeStatus = "sending"
	NoticeSent    NoticeStatus = "sent"
	NoticeFailed  NoticeStatus = "failed"
	NoticeSkipped NoticeStatus = "skipped"
)

// Label returns the Chinese name of the status.
func (s NoticeStatus) Label() string {
	switch s {
	case NoticePending:
		return "待发送"
	case NoticeSending:
		return "发送中"
	case NoticeSent:
		return "已发送"
	case NoticeFailed:
		return "发送失败"
	case NoticeSkipped:
		return "已跳过"
	}
	return string(s)
}

// CanTransitionTo reports whether an outbox row may move from s to next.
func (s NoticeStatus) CanTransitionTo(next NoticeStatus) bool {
	// WeChat's template receipt (TEMPLATESENDJOBFINISH) may confirm an unknown-outcome send
	// (pending or failed → sent) or report a sent message undelivered (sent → failed).
	switch s {
	case NoticePending:
		return next == NoticeSending || next == NoticeSkipped || next == NoticeSent
	case NoticeSending:
		return next == NoticeSent || next == NoticePending || next == NoticeFailed || next == NoticeSkipped
	case NoticeFailed:
		return next == NoticePending || next == NoticeSent
	case NoticeSent:
		return next == NoticeFailed
	}
	return false
}

// NoticeKind is what a notice tells the worker.
type NoticeKind string

// Notice kinds.
const (
	NoticeArrived  NoticeKind = "arrived"  // 互助金已到账
	NoticeApproved NoticeKind = "approved" // 本期互助金已核算，预计…到账
	NoticeFailedTx NoticeKind = "failed"   // 转账失败，请联系基层工会
	// Supplementary claims: sent back for more (with the reason), and confirmed by 办事处. No
	// WeChat template is configured for them yet, so they reach the worker by SMS, within the
	// worker's preferences; the mini-program shows the same status.
	NoticeClaimReturned  NoticeKind = "claim_returned"
	NoticeClaimConfirmed NoticeKind = "claim_confirmed"
)

// Channel is how a notice reaches the worker.
type Channel string

// Channels, in order of preference.
const (
	ChannelTemplate  Channel = "oa_template"  // official-account template message
	ChannelSubscribe Channel = "mp_subscribe" // mini-program subscribe message
	ChannelSMS       Channel = "sms"
)

// ImportKind is what an import file holds.
type ImportKind string

// Import kinds.
const (
	ImportRoster     ImportKind = "roster"
	ImportMedical    ImportKind = "medical"
	ImportBankResult ImportKind = "bank_result"
)

// ImportStatus is the state of an import batch.
type ImportStatus string

// Import statuses.
const (
	ImportRunning ImportStatus = "running"
	ImportDone    ImportStatus = "done"
	ImportFailed  ImportStatus = "failed"
)
