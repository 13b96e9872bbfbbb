package model

import "time"

// Notification is an outbox row: one notice to one member on one channel. DedupKey is unique
// (payout line or transfer, kind, channel), so a notice is queued at most once.
type Notification struct {
	ID            uint64       `gorm:"primaryKey"`
	DedupKey      string       `gorm:"size:96;not null;uniqueIndex"`
	MemberID      uint64       `gorm:"not null;index"`
	Kind          NoticeKind   `gorm:"size:16;not null"`
	Channel       Channel      `gorm:"size:16;not null"`
	Urgent        bool         `gorm:"not null;default:false"` // urgent notices ignore quiet hours
	Payload       string       `gorm:"type:text;not null"`     // JSON fields of the message, no personal numbers in clear
	Status        NoticeStatus `gorm:"size:16;not null;index:idx_notice_due,priority:1;index:idx_notice_unsure,priority:1"`
	NextAttemptAt time.Time    `gorm:"not null;index:idx_notice_due,priority:2;index:idx_notice_unsure,priority:3"`
	Attempts      int          `gorm:"not null;default:0"`
	LeaseOwner    string       `gorm:"size:64"`
	LeaseUntil    *time.Time
	LastError     string `gorm:"size:512"`
	// Ambiguous counts attempts whose outcome is unknown (the lease expired mid-send, or the
	// connection broke after the request went out); channels without a de-duplication id stop
	// retrying after one such attempt, so a person gets at most two copies, never an endless stream.
	Ambiguous int `gorm:"not null;default:0;index:idx_notice_unsure,priority:2"`
	// UnsureSince is the earliest time a send whose outcome is unknown may have reached the
	// provider (the first such attempt); WeChat's client_msg_id de-duplication counts from there.
	UnsureSince *time.Time
	ProviderRef string `gorm:"size:64"` // the provider's message id (WeChat msgid), when it gives one
	SentAt      *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// AdminUser is a staff account of the console.
type AdminUser struct {
	ID           uint64 `gorm:"primaryKey"`
	Username     string `gorm:"size:64;not null;uniqueIndex"`
	DisplayName  string `gorm:"size:64"`
	PasswordHash string `gorm:"size:255;not null"`
	Role         Role   `gorm:"size:16;not null"`
	UnionID      uint64 // for RoleUnion: the only union they see
	FailedLogins int    `gorm:"not null;default:0"`
	LockedUntil  *time.Time
	Disabled     bool `gorm:"not null;default:false"`
	// MustChangePassword is set when an admin set or reset the password: the console lets the
	// account do nothing but choose its own until it has.
	MustChangePassword bool `gorm:"not null;default:false"`
	// TOTPSecretEnc is the second factor's shared secret, encrypted with the PII key; empty until
	// the account has enrolled. TOTPPending holds a secret shown for enrolment and not yet
	// confirmed with a code.
	TOTPSecretEnc  []byte
	TOTPPendingEnc []byte
	TOTPEnabledAt  *time.Time
	// RecoveryCodes is a JSON list of bcrypt hashes of the one-time recovery codes; a used code's
	// hash is removed.
	RecoveryCodes string `gorm:"type:text"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// AuditLog records one action by a person: staff changes, approvals, card-binding attempts.
type AuditLog struct {
	ID      uint64    `gorm:"primaryKey"`
	At      time.Time `gorm:"not null;index"`
	Actor   string    `gorm:"size:64;not null;index"` // staff username, or "wx:<account id>"
	Role    string    `gorm:"size:16"`
	Action  string    `gorm:"size:64;not null;index"` // e.g. run.approve, member.unbind, binding.attempt
	Target  string    `gorm:"size:64"`                // e.g. run:12
	Outcome string    `gorm:"size:16;not null"`       // ok, denied, failed
	Detail  string    `gorm:"type:text"`              // JSON, never personal numbers in clear
	IP      string    `gorm:"size:45"`
	UnionID uint64    `gorm:"index"`
	Via     string    `gorm:"size:16"` // console, api, cli, break_glass, system (model.Via); empty for workers
}

// ImportBatch is one imported file and its outcome.
type ImportBatch struct {
	ID         uint64       `gorm:"primaryKey"`
	Kind       ImportKind   `gorm:"size:16;not null"`
	FileName   string       `gorm:"size:255;not null"`
	FileSHA256 string       `gorm:"size:64;not null;index"`
	Status     ImportStatus `gorm:"size:16;not null"`
	RowsTotal  int64        `gorm:"not null;default:0"`
	RowsOK     int64        `gorm:"not null;default:0"`
	RowsBad    int64        `gorm:"not null;default:0"`
	RowsSame   int64        `gorm:"not null;default:0"` // rows already present and unchanged
	Report     string       `gorm:"type:mediumtext"`    // CSV of row errors
	CreatedBy  string       `gorm:"size:64;not null"`
	CreatedAt  time.Time
	FinishedAt *time.Time
}

// FAQEntry is a knowledge-base entry edited by staff; entries in the database override the
// shipped config/faq.yaml entry with the same Key.
type FAQEntry struct {
	ID        uint64 `gorm:"primaryKey"`
	Key       string `gorm:"size:64;not null;uniqueIndex"`
	Body      string `gorm:"type:text;not null"` // the entry as YAML
	UpdatedBy string `gorm:"size:64;not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
}
