package settlement

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/policy"
	"huzhu/service/store"
)

// member is what eligibility and the policy need of a member (no name, no ciphertext) and of
// its union.
type member struct {
	model.Member
	UnionPaysDues bool
}

// memberSet holds the members of one chunk, by id; load replaces them, reusing the memory.
type memberSet struct {
	byID map[uint64]*member
	all  []member
}

// load reads the members with the given ids. A member whose union is missing counts as one whose
// employer pays no dues. It scans by hand: it reads a row per member of a run.
func (ms *memberSet) load(db *gorm.DB, ids []uint64) error {
	rows, err := db.Raw("SELECT m.id, m.union_id, m.insured_beijing, m.employment, m.kind, m.participation, "+
		"COALESCE(m.paid_until, ''), COALESCE(m.joined_on, ''), COALESCE(m.jing_card_hash, ''), COALESCE(m.bank_code, ''), "+
		"COALESCE(m.bank_account_hash, ''), m.hardship, COALESCE(m.hardship_from, ''), COALESCE(m.hardship_until, ''), "+
		"m.model_worker, COALESCE(m.model_from, ''), COALESCE(m.model_until, ''), COALESCE(u.pays_dues, ?) "+
		"FROM members AS m LEFT JOIN unions AS u ON u.id = m.union_id WHERE m.id IN ?", false, ids).Rows()
	if err != nil {
		return fmt.Errorf("load members: %w", err)
	}
	defer rows.Close()
	clear(ms.byID)
	if cap(ms.all) < len(ids) {
		ms.all = make([]member, len(ids))
	}
	ms.all = ms.all[:len(ids)]
	var employment, kind, participation, paidUntil, joinedOn, bank, hardshipFrom, hardshipUntil, modelFrom, modelUntil string
	for i := 0; rows.Next(); i++ {
		if i == len(ms.all) {
			return fmt.Errorf("load members: more rows than ids")
		}
		m := &ms.all[i]
		*m = member{}
		if err := rows.Scan(&m.ID, &m.UnionID, &m.InsuredBeijing, &employment, &kind, &participation, &paidUntil, &joinedOn,
			&m.JingCardHash, &bank, &m.BankAccountHash, &m.Hardship, &hardshipFrom, &hardshipUntil,
			&m.ModelWorker, &modelFrom, &modelUntil, &m.UnionPaysDues); err != nil {
			return fmt.Errorf("load members: %w", err)
		}
		m.Employment, m.Kind, m.Participation = model.EmploymentStatus(employment), model.WorkerKind(kind), model.Participation(participation)
		m.PaidUntil, m.JoinedOn, m.BankCode = model.Date(paidUntil), model.Date(joinedOn), model.Bank(bank)
		m.HardshipFrom, m.HardshipUntil, m.ModelFrom, m.ModelUntil = model.Date(hardshipFrom), model.Date(hardshipUntil), model.Date(modelFrom), model.Date(modelUntil)
		ms.byID[m.ID] = m
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load members: %w", err)
	}
	return nil
}

// countPendingMembers counts the members with unsettled records of the types dated up to last.
func (s *Service) countPendingMembers(ctx context.Context, types []model.ClaimType, last model.Date) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&model.MedicalRecord{}).
		Where("settlement_run_id = 0 AND claim_type IN ? AND visit_date <= ?", types, last).
		Select("COUNT(DISTINCT member_id)").Scan(&n).Error
	return n, err
}

// nextChunk returns about n unsettled records of the types dated up to last, of the members after
// the given one in member order, and never part of a member's records: it ends before the last
// member it reached unless that member has all its records in it. A member with more than n
// records makes a chunk of their own. The index on (settlement_run_id, member_id) serves it in
// that order.
func (s *Service) nextChunk(ctx context.Context, types []model.ClaimType, last model.Date, after uint64, n int) (chunk, error) {
	type row struct{ ID, MemberID uint64 }
	var rows []row
	q := func(more func(*gorm.DB) *gorm.DB) error {
		rows = rows[:0]
		return more(s.db.WithContext(ctx).Model(&model.MedicalRecord{}).Select("id, member_id").
			Where("settlement_run_id = 0 AND claim_type IN ? AND visit_date <= ?", types, last)).
			Order("member_id, id").Scan(&rows).Error
	}
	if err := q(func(db *gorm.DB) *gorm.DB { return db.Where("member_id > ?", after).Limit(n + 1) }); err != nil {
		return chunk{}, err
	}
	if len(rows) > n {
		// The last member may have more records than were read: leave them for the next chunk.
		lastMember := rows[len(rows)-1].MemberID
		i := len(rows)
		for i > 0 && rows[i-1].MemberID == lastMember {
			i--
		}
		if i == 0 {
			if err := q(func(db *gorm.DB) *gorm.DB { return db.Where("member_id = ?", lastMember) }); err != nil {
				return chunk{}, err
			}
			i = len(rows)
		}
		rows = rows[:i]
	}
	var c chunk
	c.records = make([]uint64, len(rows))
	for i, r := range rows {
		c.records[i] = r.ID
		if i == 0 || r.MemberID != rows[i-1].MemberID {
			c.members = append(c.members, r.MemberID)
		}
	}
	return c, nil
}

// record is what a run needs of a medical record.
type record struct {
	ID, MemberID, RunID uint64
	ClaimType           model.ClaimType
	VisitDate           model.Date
	SelfPay1, AboveCap  model.Fen
	MajorDisease        bool
}

// lockRecords appends to records those of chunk c that are still unsettled and still fit the run,
// by member, date and id, locked until tx ends (MySQL). It locks by primary key alone: a range of
// the pending index would lock its gaps too, which the neighbouring chunks' writes need.
func lockRecords(tx *gorm.DB, records []record, c chunk, types []model.ClaimType, last model.Date) ([]record, error) {
	q := "SELECT id, member_id, settlement_run_id, claim_type, visit_date, self_pay1_fen, above_cap_fen, major_disease " +
		"FROM medical_records WHERE id IN ?"
	if store.IsMySQL(tx) {
		q += " FOR UPDATE"
	}
	rows, err := tx.Raw(q, c.records).Rows()
	if err != nil {
		return nil, fmt.Errorf("load records: %w", err)
	}
	defer rows.Close()
	var claimType, visitDate string
	var selfPay1, aboveCap int64
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.ID, &r.MemberID, &r.RunID, &claimType, &visitDate, &selfPay1, &aboveCap, &r.MajorDisease); err != nil {
			return nil, fmt.Errorf("load records: %w", err)
		}
		r.ClaimType, r.VisitDate, r.SelfPay1, r.AboveCap = model.ClaimType(claimType), model.Date(visitDate), model.Fen(selfPay1), model.Fen(aboveCap)
		if _, ours := slices.BinarySearch(c.members, r.MemberID); ours && r.RunID == 0 && slices.Contains(types, r.ClaimType) && r.VisitDate <= last {
			records = append(records, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load records: %w", err)
	}
	slices.SortFunc(records, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.MemberID, b.MemberID), strings.Compare(string(a.VisitDate), string(b.VisitDate)), cmp.Compare(a.ID, b.ID))
	})
	return records, nil
}

// lineColumns are the columns a lineWriter writes, in the order of appendLineArgs.
const lineColumns = "run_id, member_id, record_id, year, claim_type, bill_date, policy_code, base_fen, amount_fen, eligible, " +
	"reason, explanation, status, transfer_id, fail_reason, created_at, updated_at"

// insertLinesSQL is the INSERT of n lines.
func insertLinesSQL(n int) string {
	const row = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
	var b strings.Builder
	b.Grow(64 + len(lineColumns) + n*(len(row)+1))
	b.WriteString("INSERT INTO payout_lines (" + lineColumns + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

func appendLineArgs(args []any, lines []model.PayoutLine, now time.Time) []any {
	for _, l := range lines {
		args = append(args, l.RunID, l.MemberID, l.RecordID, int64(l.Year), string(l.ClaimType), string(l.BillDate), l.PolicyCode,
			int64(l.BaseFen), int64(l.AmountFen), l.Eligible, l.Reason, l.Explanation, string(l.Status), l.TransferID, l.FailReason, now, now)
	}
	return args
}

// lineWriter writes the payout lines of one computation: store.BulkRows lines a statement,
// written by hand (GORM's reflection per row was a fifth of a run's CPU), and every full batch
// through one prepared statement, which each connection parses once instead of the server
// parsing every batch's values as SQL text. A computation writes a million lines.
type lineWriter struct {
	per  int
	full *sql.Stmt // the INSERT of per lines; the tail of a chunk goes as a plain statement
	args []any
}

// newLineWriter prepares the statement of a full batch; Close releases it.
func newLineWriter(ctx context.Context, db *gorm.DB) (*lineWriter, error) {
	w := &lineWriter{per: store.BulkRows(db)}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("prepare insert: %w", err)
	}
	if w.full, err = sqlDB.PrepareContext(ctx, insertLinesSQL(w.per)); err != nil {
		return nil, fmt.Errorf("prepare insert: %w", err)
	}
	return w, nil
}

// Close releases the prepared statement on every connection.
func (w *lineWriter) Close() error { return w.full.Close() }

// forWorker returns a writer for one goroutine, sharing the prepared statement.
func (w *lineWriter) forWorker() *lineWriter { return &lineWriter{per: w.per, full: w.full} }

// write inserts lines and marks their records as taken by run runID, in tx. The records are
// locked by lockRecords, so all of them are marked; anything else means the data changed under
// the lock and the chunk must not commit.
func (w *lineWriter) write(ctx context.Context, tx *gorm.DB, runID uint64, lines []model.PayoutLine) error {
	now := tx.NowFunc()
	sqlTx, _ := tx.Statement.ConnPool.(*sql.Tx)
	for start := 0; start < len(lines); start += w.per {
		batch := lines[start:min(start+w.per, len(lines))]
		w.args = appendLineArgs(w.args[:0], batch, now)
		var err error
		if len(batch) == w.per && sqlTx != nil {
			_, err = sqlTx.StmtContext(ctx, w.full).ExecContext(ctx, w.args...)
		} else {
			err = tx.Exec(insertLinesSQL(len(batch)), w.args...).Error
		}
		if err != nil {
			return fmt.Errorf("insert lines: %w", err)
		}
	}
	ids := make([]uint64, len(lines))
	for i, l := range lines {
		ids[i] = l.RecordID
	}
	res := tx.Model(&model.MedicalRecord{}).Where("id IN ? AND settlement_run_id = 0", ids).Update("settlement_run_id", runID)
	if res.Error != nil {
		return fmt.Errorf("mark records: %w", res.Error)
	}
	if res.RowsAffected != int64(len(ids)) {
		return fmt.Errorf("mark records: %d of %d were still unsettled", res.RowsAffected, len(ids))
	}
	return nil
}

// priorYearToDate sums, per member and year, what every other run already paid, the major-disease
// amount above the basic-insurance cap it already counted (the ladder position) and the 自付一 per
// claim type it already counted (the deductible position).
func priorYearToDate(db *gorm.DB, ids []uint64, runID uint64) (map[uint64]map[int]policy.YearToDate, error) {
	var rows []struct {
		MemberID  uint64
		Year      int
		ClaimType model.ClaimType
		Paid      model.Fen
		SelfPay1  model.Fen
		AboveCap  model.Fen
	}
	err := db.Table("payout_lines AS l").Joins("JOIN medical_records AS r ON r.id = l.record_id").
		Where("l.member_id IN ? AND l.run_id <> ? AND l.eligible", ids, runID).
		Select("l.member_id, l.year, l.claim_type, SUM(l.amount_fen) AS paid, SUM(r.self_pay1_fen) AS self_pay1, " +
			"SUM(CASE WHEN r.major_disease THEN r.above_cap_fen ELSE 0 END) AS above_cap").
		Group("l.member_id, l.year, l.claim_type").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load year-to-date: %w", err)
	}
	out := map[uint64]map[int]policy.YearToDate{}
	for _, r := range rows {
		if out[r.MemberID] == nil {
			out[r.MemberID] = map[int]policy.YearToDate{}
		}
		y := out[r.MemberID][r.Year]
		if y.DeductibleFen == nil {
			y.DeductibleFen = map[model.ClaimType]model.Fen{}
		}
		y.PaidFen += r.Paid
		y.AboveCapFen += r.AboveCap
		y.DeductibleFen[r.ClaimType] += r.SelfPay1
		out[r.MemberID][r.Year] = y
	}
	return out, nil
}
