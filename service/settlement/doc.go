// Package settlement turns imported 医保 records into payout lines: one run per (period, class),
// outpatient per quarter and inpatient per month (see service/calendar), using the policy version
// in force on each bill's date and the year-to-date amounts of every earlier run.
//
// A run is a draft until staff approve it. A draft may be computed again at any time: computing
// first releases what the draft held and then takes every unsettled record of its class dated up
// to the period's last day (late records of earlier periods included), so a crash mid-way and a
// re-run give the same lines. A record is paid at most once: payout_lines.record_id is unique.
//
// A computation walks the members with unsettled records in member order, in chunks of about
// Options.ChunkSize records that never split a member's records, several chunks at once. Each
// chunk commits alone: its lines, and its records marked as taken. The records are read inside
// that transaction and locked (MySQL; SQLite has one writer), so that a correction the importer
// makes to an unsettled record lands either before the chunk reads it or after, when it finds the
// record settled. Progress is reported to the context (service/progress) in members.
//
// Computations are serialized across processes by a lock in the kv store, because two runs
// computing at once could both see the same room under a member's annual cap. Lines of other
// runs count towards the cap whether or not those runs are approved yet, so a recomputed draft
// can only pay less, never more, than the cap allows.
package settlement
