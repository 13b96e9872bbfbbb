package payout

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/errs"
	"huzhu/service/policy"
)

// Query selects a page of payouts: one calendar year (of the bill; 0 = the current year),
// page from 1, size up to MaxPageSize (0 = DefaultPageSize).
type Query struct {
	Year int
	Page int
	Size int
}

// Page is one page of a member's payouts of a year, newest bill first.
type Page struct {
	Year  int
	Years []int // years with payouts, newest first
	Items []Item
	Total int64 // payouts in the year
	Page  int
	Size  int
	Totals
}

// Totals are a year's figures for the member, the one definition every channel shows (the
// mini-program's list and detail, the bot's 今年报了多少 and 还能报多少; see the package doc for
// the rule). PromisedFen() is what approval promised (ArrivedFen + OnTheWayFen); DraftFen is
// computed by a run awaiting approval, not promised, but counted against the cap.
type Totals struct {
	Year        int
	CapFen      model.Fen
	ComputedFen model.Fen // every payable line (already paid, on its way, or awaiting approval)
	ArrivedFen  model.Fen // 已到账
	OnTheWayFen model.Fen // approved, transferring, failed (to be re-issued) or re-issued
	DraftFen    model.Fen // computed, awaiting approval: not promised, may still change
	LeftFen     model.Fen // CapFen − ComputedFen, never negative
	Lines       int       // payable lines approved or later (drafts not counted)
}

// PromisedFen is what approval promised the member in the year: arrived or on its way.
func (t Totals) PromisedFen() model.Fen { return t.ArrivedFen + t.OnTheWayFen }

// Year returns the member's figures of year (0: the current year), as List shows them. It
// returns Invalid year for a year outside the plan's years or in the future.
func (s *Service) Year(ctx context.Context, memberID uint64, year int) (Totals, error) {
	today := model.DateOf(s.now())
	if year == 0 {
		year = today.Year()
	}
	if err := s.checkYear(year, today); err != nil {
		return Totals{}, err
	}
	rows, err := memberLines(s.db.WithContext(ctx), memberID)
	if err != nil {
		return Totals{}, fmt.Errorf("figures of member %d, %d: %w", memberID, year, err)
	}
	sums := map[int]yearSum{}
	for _, r := range rows {
		addSum(sums, sumRow{Year: r.Year, Status: r.Status, Eligible: r.Eligible, AmountFen: r.AmountFen})
	}
	return s.totals(year, sums[year], today), nil
}

// Item is one payout line in a list.
type Item struct {
	ID        uint64
	Period    calendar.Period
	ClaimType model.ClaimType
	BillDate  model.Date
	AmountFen model.Fen
	Status    model.LineStatus
	Eligible  bool
	Reason    string // why nothing is paid, when not Eligible
	ArrivedAt *time.Time
}

// List returns a page of the member's payout lines of q.Year. It returns Invalid naming the
// field for a year outside the plan's years or in the future, a page below 1 or a size outside
// 1…MaxPageSize.
func (s *Service) List(ctx context.Context, memberID uint64, q Query) (Page, error) {
	today := model.DateOf(s.now())
	if q.Year == 0 {
		q.Year = today.Year()
	}
	if q.Size == 0 {
		q.Size = s.o.DefaultPageSize
	}
	if q.Page == 0 {
		q.Page = 1
	}
	if err := s.checkYear(q.Year, today); err != nil {
		return Page{}, err
	}
	switch {
	case q.Page < 1 || q.Page > 10_000:
		return Page{}, errs.Invalid("page", "页码不对", "页码从1开始")
	case q.Size < 1 || q.Size > s.o.MaxPageSize:
		return Page{}, errs.Invalidf("size", fmt.Sprintf("每页1到%d条", s.o.MaxPageSize), "每页条数%d超出范围", q.Size)
	}
	// Every line of the member in one round trip: the years and the year's sums need them all
	// anyway (a member has a few dozen at most), and the page is cut from them here, newest bill
	// first (sorted here too, which spares MariaDB a filesort).
	rows, err := memberLines(s.db.WithContext(ctx), memberID)
	if err != nil {
		return Page{}, fmt.Errorf("list payouts of member %d: %w", memberID, err)
	}
	slices.SortFunc(rows, func(a, b lineRow) int {
		return cmp.Or(strings.Compare(string(b.BillDate), string(a.BillDate)), cmp.Compare(b.ID, a.ID))
	})
	sums := map[int]yearSum{}
	var year []lineRow
	for _, r := range rows {
		addSum(sums, sumRow{Year: r.Year, Status: r.Status, Eligible: r.Eligible, AmountFen: r.AmountFen})
		if r.Year == q.Year {
			year = append(year, r)
		}
	}
	p := Page{Year: q.Year, Page: q.Page, Size: q.Size, Items: []Item{}, Years: []int{}}
	for y := range sums {
		p.Years = append(p.Years, y)
	}
	slices.Sort(p.Years)
	slices.Reverse(p.Years)
	p.Totals = s.totals(q.Year, sums[q.Year], today)
	p.Total = int64(len(year))
	from := (q.Page - 1) * q.Size
	for _, r := range year[min(from, len(year)):min(from+q.Size, len(year))] {
		p.Items = append(p.Items, Item{ID: r.ID, Period: s.period(r.Period), ClaimType: r.ClaimType, BillDate: r.BillDate,
			AmountFen: r.AmountFen, Status: r.Status, Eligible: r.Eligible, Reason: r.Reason, ArrivedAt: r.ArrivedAt})
	}
	return p, nil
}

type lineRow struct {
	ID        uint64
	Year      int
	ClaimType model.ClaimType
	BillDate  model.Date
	AmountFen model.Fen
	Status    model.LineStatus
	Eligible  bool
	Reason    string
	ArrivedAt *time.Time
	Period    string
}

// memberLines reads every line of the member with its run's period, scanned by hand (gorm's
// reflection per row cost more than the query on this hot path).
func memberLines(db *gorm.DB, memberID uint64) ([]lineRow, error) {
	rs, err := db.Raw("SELECT l.id, l.year, l.claim_type, l.bill_date, l.amount_fen, l.status, l.eligible, "+
		"COALESCE(l.reason, ''), l.arrived_at, r.period FROM payout_lines AS l JOIN settlement_runs AS r ON r.id = l.run_id "+
		"WHERE l.member_id = ?", memberID).Rows()
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var rows []lineRow
	for rs.Next() {
		var r lineRow
		if err := rs.Scan(&r.ID, &r.Year, &r.ClaimType, &r.BillDate, &r.AmountFen, &r.Status, &r.Eligible, &r.Reason,
			&r.ArrivedAt, &r.Period); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, rs.Err()
}

func (s *Service) checkYear(y int, today model.Date) error {
	first := 2000
	if s.first != "" {
		first = s.first.Year()
	}
	if y < first || y > today.Year() {
		return errs.Invalidf("year", fmt.Sprintf("请选择%d年到%d年之间的年份", first, today.Year()), "年份%d不在本计划的年度范围内", y)
	}
	return nil
}

func (s *Service) period(key string) calendar.Period {
	p, err := s.cal.ParsePeriod(key)
	if err != nil {
		return calendar.Period{}
	}
	return p
}

// yearSum is one year's sums of a member's lines.
type yearSum struct {
	computed, arrived, onTheWay, draft model.Fen
	lines                              int // payable lines approved or later
}

// sumRow is one payout line as the year's sums count it.
type sumRow struct {
	Year      int
	Status    model.LineStatus
	Eligible  bool
	AmountFen model.Fen
}

// addSum counts line r into its year: the year is listed for any line, and eligible lines count
// in its amounts.
func addSum(out map[int]yearSum, r sumRow) {
	ys := out[r.Year]
	if r.Eligible {
		ys.computed += r.AmountFen
		switch r.Status {
		case model.LineArrived:
			ys.arrived += r.AmountFen
		case model.LineComputed:
			ys.draft += r.AmountFen
		default:
			ys.onTheWay += r.AmountFen
		}
		if r.Status != model.LineComputed {
			ys.lines++
		}
	}
	out[r.Year] = ys
}

func (s *Service) totals(year int, ys yearSum, today model.Date) Totals {
	cp := s.capOf(year, today)
	return Totals{Year: year, CapFen: cp, ComputedFen: ys.computed, ArrivedFen: ys.arrived, OnTheWayFen: ys.onTheWay,
		DraftFen: ys.draft, LeftFen: max(cp-ys.computed, 0), Lines: ys.lines}
}

// Detail is one payout with everything a worker may ask about it.
type Detail struct {
	Item
	Year       int
	PolicyCode string
	BaseFen    model.Fen
	Hospital   string
	// ClaimID is the worker's supplementary claim the record came from; 0 for the 医保 feed.
	ClaimID  uint64
	SelfPay1 model.Fen
	AboveCap model.Fen
	Major    bool
	Steps    []policy.Step // the explanation, in order
	Timeline []Event
	// ExpectedBy is when the money should arrive (the run's promised date); empty once arrived,
	// once that day has passed, or for lines that pay nothing.
	ExpectedBy model.Date
	// Account is where the money went or goes: empty until a transfer exists.
	Account *Account
	Totals  Totals // the year's figures
}

// Account is a masked payout account.
type Account struct {
	Kind  string // jingka or bank
	Bank  model.Bank
	Last4 string
}

// Event is one step of a payout's timeline. Done steps have the time they happened (At may be
// nil when it was not recorded); the steps still ahead are listed with Done false.
type Event struct {
	Status model.LineStatus
	At     *time.Time
	Done   bool
	Note   string
}

// Detail returns one payout line of the member with its explanation, timeline, account and the
// year's totals. A line that does not exist or is another member's is NotFound
// payout.not_found.
func (s *Service) Detail(ctx context.Context, memberID, lineID uint64) (Detail, error) {
	l, run, rec, sums, chain, err := detailRows(s.db.WithContext(ctx), memberID, lineID)
	if err != nil {
		return Detail{}, err
	}
	today := model.DateOf(s.now())
	d := Detail{
		Item: Item{ID: l.ID, Period: s.period(run.Period), ClaimType: l.ClaimType, BillDate: l.BillDate, AmountFen: l.AmountFen,
			Status: l.Status, Eligible: l.Eligible, Reason: l.Reason, ArrivedAt: l.ArrivedAt},
		Year: l.Year, PolicyCode: l.PolicyCode, BaseFen: l.BaseFen, Hospital: rec.Hospital, ClaimID: rec.ClaimID, SelfPay1: rec.SelfPay1Fen,
		AboveCap: rec.AboveCapFen, Major: rec.MajorDisease, Steps: []policy.Step{},
		Totals: s.totals(l.Year, sums[l.Year], today),
	}
	if l.Explanation != "" {
		steps, err := policy.DecodeSteps(l.Explanation)
		if err != nil {
			return Detail{}, fmt.Errorf("payout %d: %w", lineID, err)
		}
		d.Steps = steps
	}
	if n := len(chain); n > 0 {
		t := chain[n-1]
		d.Account = &Account{Kind: t.AccountKind, Bank: t.Bank, Last4: t.AccountLast4}
	}
	pays := l.Eligible && l.AmountFen > 0
	d.Timeline = timeline(l, run, chain, pays)
	if pays && l.Status != model.LineArrived && !d.Period.IsZero() {
		pr := s.cal.Promise(d.Period, s.now())
		d.ExpectedBy = model.DateOf(pr.By)
		if pr.Late {
			// The promised day has passed (a failed transfer being re-issued, or a late bank): no
			// date is better than a wrong one, and the next step says whom to ask.
			d.ExpectedBy = ""
			for i := range d.Timeline {
				if !d.Timeline[i].Done {
					d.Timeline[i].Note = "已超过预计到账日期，" + calendar.LateAdvice
					break
				}
			}
		}
	}
	return d, nil
}

// detailRows reads the member's line lineID, its run and record, every line of its year (for
// the year's sums) and its transfer chain in one round trip: detail is a hot path, and a round
// trip cost more than the rest of the request. The year's lines and the transfers are joined
// side by side, so a row stands for a pair of them; both are told apart by id. The columns are
// scanned by hand: gorm's reflection on these wide rows cost more than the query.
//
// The chain is the transfer the line went out with and those it re-issued, oldest first.
// payment.Export makes every one of them for the line's run, so transfers are joined by run (an
// OR with the line's transfer id made MariaDB merge two indexes, which cost it more than the
// rest of the statement). A line that does not exist or is another member's is NotFound
// payout.not_found.
func detailRows(db *gorm.DB, memberID, lineID uint64) (model.PayoutLine, model.SettlementRun, model.MedicalRecord, map[int]yearSum, []model.Transfer, error) {
	var (
		l   model.PayoutLine
		run model.SettlementRun
		rec model.MedicalRecord
	)
	fail := func(err error) (model.PayoutLine, model.SettlementRun, model.MedicalRecord, map[int]yearSum, []model.Transfer, error) {
		return l, run, rec, nil, nil, err
	}
	rows, err := db.Raw("SELECT l.id, l.run_id, l.year, l.claim_type, l.bill_date, l.policy_code, l.base_fen, l.amount_fen, "+
		"l.eligible, COALESCE(l.reason, ''), COALESCE(l.explanation, ''), l.status, COALESCE(l.transfer_id, 0), l.arrived_at, r.period, r.computed_at, r.approved_at, "+
		"COALESCE(m.hospital, ''), COALESCE(m.self_pay1_fen, 0), COALESCE(m.above_cap_fen, 0), COALESCE(m.major_disease, 0), COALESCE(m.claim_id, 0), "+
		"s.id, s.status, s.eligible, s.amount_fen, "+
		"t.id, t.reissue_of, t.status, t.fail_reason, t.arrived_at, t.created_at, t.updated_at, t.bank, t.account_kind, t.account_last4 "+
		"FROM payout_lines AS l JOIN settlement_runs AS r ON r.id = l.run_id "+
		"LEFT JOIN medical_records AS m ON m.id = l.record_id AND m.member_id = l.member_id "+
		"JOIN payout_lines AS s ON s.member_id = l.member_id AND s.year = l.year "+
		"LEFT JOIN transfers AS t ON l.transfer_id <> 0 AND t.member_id = l.member_id AND t.run_id = l.run_id "+
		"WHERE l.id = ? AND l.member_id = ?", lineID, memberID).Rows()
	if err != nil {
		return fail(fmt.Errorf("payout %d: %w", lineID, err))
	}
	defer rows.Close()
	sums := map[int]yearSum{}
	seenLine := map[uint64]bool{}
	byID := map[uint64]model.Transfer{}
	found := false
	for rows.Next() {
		var (
			sumID                 uint64
			sumStatus             model.LineStatus
			sumEligible           bool
			sumAmount             model.Fen
			tID, tReissueOf       *uint64
			tStatus, tFail, tBank *string
			tKind, tLast4         *string
			tArrived              *time.Time
			tCreated, tUpdated    *time.Time
		)
		if err := rows.Scan(&l.ID, &l.RunID, &l.Year, &l.ClaimType, &l.BillDate, &l.PolicyCode, &l.BaseFen, &l.AmountFen,
			&l.Eligible, &l.Reason, &l.Explanation, &l.Status, &l.TransferID, &l.ArrivedAt, &run.Period, &run.ComputedAt, &run.ApprovedAt,
			&rec.Hospital, &rec.SelfPay1Fen, &rec.AboveCapFen, &rec.MajorDisease, &rec.ClaimID,
			&sumID, &sumStatus, &sumEligible, &sumAmount,
			&tID, &tReissueOf, &tStatus, &tFail, &tArrived, &tCreated, &tUpdated, &tBank, &tKind, &tLast4); err != nil {
			return fail(fmt.Errorf("payout %d: %w", lineID, err))
		}
		found = true
		if !seenLine[sumID] {
			seenLine[sumID] = true
			addSum(sums, sumRow{Year: l.Year, Status: sumStatus, Eligible: sumEligible, AmountFen: sumAmount})
		}
		if tID != nil {
			t := model.Transfer{ID: *tID, MemberID: memberID, ArrivedAt: tArrived}
			t.ReissueOf = deref(tReissueOf)
			t.Status = model.LineStatus(deref(tStatus))
			t.FailReason, t.Bank, t.AccountKind, t.AccountLast4 = deref(tFail), model.Bank(deref(tBank)), deref(tKind), deref(tLast4)
			if tCreated != nil {
				t.CreatedAt = *tCreated
			}
			if tUpdated != nil {
				t.UpdatedAt = *tUpdated
			}
			byID[t.ID] = t
		}
	}
	if err := rows.Err(); err != nil {
		return fail(fmt.Errorf("payout %d: %w", lineID, err))
	}
	if !found {
		return fail(errs.NotFound("payout.not_found", "没有找到这笔互助金"))
	}
	l.MemberID, run.ID = memberID, l.RunID
	var chain []model.Transfer
	for t, ok := byID[l.TransferID]; ok && len(chain) < len(byID); t, ok = byID[t.ReissueOf] {
		chain = append(chain, t)
	}
	slices.Reverse(chain)
	return l, run, rec, sums, chain, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// timeline tells the line's way: 已核算 → 已审核 → 转账中 → 已到账, with 失败 → 重新发放 → 转账中
// for every failed transfer, and the steps still ahead not done.
func timeline(l model.PayoutLine, run model.SettlementRun, chain []model.Transfer, pays bool) []Event {
	ev := []Event{{Status: model.LineComputed, At: run.ComputedAt, Done: true}}
	if !pays {
		ev[0].Note = "本笔不予支付"
		if l.Reason != "" {
			ev[0].Note = l.Reason
		}
		return ev
	}
	approved := l.Status != model.LineComputed
	ev = append(ev, Event{Status: model.LineApproved, Done: approved})
	if approved {
		ev[1].At = run.ApprovedAt
	}
	for i, t := range chain {
		if i > 0 {
			at := t.CreatedAt
			ev = append(ev, Event{Status: model.LineReissued, At: &at, Done: true, Note: "已重新发放"})
		}
		at := t.CreatedAt
		ev = append(ev, Event{Status: model.LineTransfering, At: &at, Done: true})
		switch t.Status {
		case model.LineFailed:
			fail := t.UpdatedAt
			note := "转账未成功，工会将核实账户后重新发放"
			if t.FailReason != "" {
				note = "转账未成功（" + t.FailReason + "），工会将核实账户后重新发放"
			}
			ev = append(ev, Event{Status: model.LineFailed, At: &fail, Done: true, Note: note})
		case model.LineArrived:
			ev = append(ev, Event{Status: model.LineArrived, At: t.ArrivedAt, Done: true})
		}
	}
	switch last := chain; {
	case len(last) == 0:
		ev = append(ev, Event{Status: model.LineTransfering}, Event{Status: model.LineArrived})
	case last[len(last)-1].Status == model.LineFailed:
		ev = append(ev, Event{Status: model.LineReissued}, Event{Status: model.LineTransfering}, Event{Status: model.LineArrived})
	case last[len(last)-1].Status != model.LineArrived:
		ev = append(ev, Event{Status: model.LineArrived})
	}
	if l.Status == model.LineArrived && len(chain) == 0 {
		// Arrived without a transfer on record (imported history): say so from the line.
		ev = append(ev[:len(ev)-2], Event{Status: model.LineTransfering, Done: true}, Event{Status: model.LineArrived, At: l.ArrivedAt, Done: true})
	}
	return ev
}
