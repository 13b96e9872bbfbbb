package model

import "time"

// BotQuestion is a question the official-account bot was not sure of (it offered choices or
// declined), kept so that 市总 staff can teach the bot. One row per normalised text (Key), with
// how often it was asked. Text is masked before it is stored: runs of six or more digits (ID,
// card and phone numbers) are "***", so the table never holds a personal number.
type BotQuestion struct {
	ID        uint64 `gorm:"primaryKey"`
	Key       string `gorm:"size:191;not null;uniqueIndex"` // normalised masked text: the de-duplication key
	Text      string `gorm:"size:600;not null"`             // the first wording seen, masked
	Best      string `gorm:"size:64;not null"`              // the entry the bot found closest ("" for none)
	Band      string `gorm:"size:16;not null"`              // suggest or decline
	Count     int64  `gorm:"not null"`
	FirstSeen time.Time
	LastSeen  time.Time `gorm:"index:idx_bot_question_open,priority:2"`
	// Resolved is set once staff dealt with the question: attached to an entry, or dismissed.
	Resolved   bool `gorm:"not null;index:idx_bot_question_open,priority:1"`
	ResolvedAt *time.Time
	ResolvedBy string `gorm:"size:64;not null;default:''"`
	Resolution string `gorm:"size:128;not null;default:''"` // "phrasing:cap", "dismissed"
}
