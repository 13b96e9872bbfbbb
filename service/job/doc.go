// Package job runs the console's long work (imports, settlement runs, bank exports, bank result
// files) in the background of the serving process and records each job in the jobs table, so
// that staff can leave the page, reload it or come back later and see how far it got.
//
// A job is a row plus a goroutine. At most Options.Workers jobs run at once in one process; up to
// Options.MaxQueued more wait for a slot, first come first served, and further jobs are refused
// with a TooMany error; once Shutdown begins no waiting job gets a slot. The work reports
// progress through its context (service/progress); the job writes it to its row at most every
// Options.Flush, never from inside the work's own calls, so reporting never waits for the database
// (on SQLite the work may hold the only connection). While a job is queued or running its process
// refreshes HeartbeatAt; a live job whose heartbeat is older than Options.StaleAfter belonged to
// a process that stopped, and is marked interrupted when the service starts (Recover) or when the
// job is read. Interrupted work is safe to submit again:
// imports are idempotent on natural keys, a settlement run recomputes its draft from scratch,
// an export is one transaction and a bank result applies each row at most once.
//
// Two kinds of personal data pass through: uploaded files (ID numbers) and exported bank files
// (full account numbers). An upload waits in a Spool, a temporary file sealed with AES-256-GCM
// under a key that exists only in this process's memory, removed when its job ends however it
// ends; a leftover of a crashed process cannot be read by anyone. A job may keep one file for its
// creator (Task.Keep): sealed in job_chunks under a random data key, which is itself sealed with
// the configured personal-data key (service/pii), readable only by the job's creator and deleted
// after Options.KeepFiles.
package job
