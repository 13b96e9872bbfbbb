package model

import "time"

// JobKind is what a background job of the console does.
type JobKind string

// Job kinds: the console's long work.
const (
	JobImportRoster  JobKind = "import_roster"
	JobImportMedical JobKind = "import_medical"
	JobSettle        JobKind = "settle"
	JobExport        JobKind = "export"
	JobBankResult    JobKind = "bank_result"
	// JobBackfillFollowers links existing official-account followers to bound workers.
	JobBackfillFollowers JobKind = "backfill_followers"
)

// Label returns the Chinese name of the kind.
func (k JobKind) Label() string {
	switch k {
	case JobImportRoster:
		return "导入花名册"
	case JobImportMedical:
		return "导入医保数据"
	case JobSettle:
		return "结算计算"
	case JobExport:
		return "导出银行文件"
	case JobBankResult:
		return "导入银行回盘"
	case JobBackfillFollowers:
		return "关联公众号关注者"
	}
	return string(k)
}

// JobStatus is where a job is: 排队中 → 进行中 → 已完成 or 失败; 中断 when the process that ran it
// stopped before it finished.
type JobStatus string

// Job statuses.
const (
	JobQueued      JobStatus = "queued"
	JobRunning     JobStatus = "running"
	JobDone        JobStatus = "done"
	JobFailed      JobStatus = "failed"
	JobInterrupted JobStatus = "interrupted"
)

// Label returns the Chinese name of the status.
func (s JobStatus) Label() string {
	switch s {
	case JobQueued:
		return "排队中"
	case JobRunning:
		return "进行中"
	case JobDone:
		return "已完成"
	case JobFailed:
		return "失败"
	case JobInterrupted:
		return "中断"
	}
	return string(s)
}

// Live reports whether the job has not finished yet (queued or running).
func (s JobStatus) Live() bool { return s == JobQueued || s == JobRunning }

// CanTransitionTo reports whether a job may move from s to next. A job marked interrupted by
// another process (its heartbeat looked stale) may still record how it really ended.
func (s JobStatus) CanTransitionTo(next JobStatus) bool {
	switch s {
	case JobQueued:
		return next == JobRunning || next == JobFailed || next == JobInterrupted
	case JobRunning:
		return next == JobDone || next == JobFailed || next == JobInterrupted
	case JobInterrupted:
		return next == JobDone || next == JobFailed
	}
	return false
}

// Job is one piece of long work started from the console (an import, a settlement run, a bank
// export or a bank result file), run in the background by the process that took the request.
// HeartbeatAt is refreshed while the process lives, so a job whose process died shows as
// interrupted. A job may keep one file for its creator (the bank files of an export): sealed in
// JobChunk rows under a data key that is itself encrypted (FileKey), and deleted at FileExpiresAt.
type Job struct {
	ID          uint64    `gorm:"primaryKey"`
	Kind        JobKind   `gorm:"size:24;not null"`
	Status      JobStatus `gorm:"size:16;not null;index:idx_job_live,priority:1"`
	Stage       string    `gorm:"size:64;not null;default:''"` // short Chinese label of the current step
	Done        int64     `gorm:"not null;default:0"`          // progress units done (rows, bytes, members)
	Total       int64     `gorm:"not null;default:0"`          // 0: not known yet
	Subject     string    `gorm:"size:255;not null;default:''"`
	CreatedBy   string    `gorm:"size:64;not null;index:idx_job_creator,priority:1"`
	Owner       string    `gorm:"size:64;not null"` // the process that runs it
	Result      string    `gorm:"type:mediumtext"`  // JSON summary when done
	ErrorCode   string    `gorm:"size:64;not null;default:''"`
	Error       string    `gorm:"size:512;not null;default:''"` // plain Chinese, for staff
	Hint        string    `gorm:"size:512;not null;default:''"` // what to do about it
	HeartbeatAt time.Time `gorm:"not null;index:idx_job_live,priority:2"`
	CreatedAt   time.Time `gorm:"index:idx_job_creator,priority:2"`
	StartedAt   *time.Time
	FinishedAt  *time.Time
	FileName    string     `gorm:"size:255;not null;default:''"`
	FileKey     []byte     // the file's data key, sealed with the configured key; nil once deleted
	FileSize    int64      `gorm:"not null;default:0"`
	FileExpires *time.Time `gorm:"index"`
}

// JobChunk is one sealed piece of a job's kept file, in order of Seq.
type JobChunk struct {
	ID    uint64 `gorm:"primaryKey"`
	JobID uint64 `gorm:"not null;uniqueIndex:idx_job_chunk,priority:1"`
	Seq   int    `gorm:"not null;uniqueIndex:idx_job_chunk,priority:2"`
	Data  []byte `gorm:"not null"`
}
