package staff

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
	"huzhu/service/pii"
	"huzhu/service/store"
)

// MemberRow is a member as staff see it: names masked, numbers as 尾号 only.
type MemberRow struct {
	ID          uint64
	Name        string // masked: 张*三
	IDLast4     string // masked: ****1234
	SocialLast4 string
	JingLast4   string
	UnionCode   string
	UnionName   string
	Employment  model.EmploymentStatus
	Hardship    bool
	ModelWorker bool
	Bound       bool
	BoundAt     *time.Time
	Following   bool // follows the official account, so template messages reach them
	SMSOptOut   bool // asked for no SMS
}

// MemberQuery selects members among those st may see. Name is a prefix of the full name (never
// shown in full), or four digits (the last may be X, "尾号" or "****" before them are ignored)
// matching the last four of the member's ID, social-security, 京卡 or bank number.
type MemberQuery struct {
	Name  string
	Page  int    // from 1; 0 is the first page
	Limit int    // rows per page, 1 to 200 (50)
	Sort  string // id, name, union or bound, "-" before it for descending; empty: by id
}

// Paging describes one page of a listing.
type Paging struct {
	Number int   // from 1
	Size   int   // rows per page
	Total  int64 // rows over all pages
	Sort   string
}

// Pages is the number of pages, at least 1.
func (p Paging) Pages() int {
	if p.Size <= 0 || p.Total <= 0 {
		return 1
	}
	return int((p.Total + int64(p.Size) - 1) / int64(p.Size))
}

// Prev is the previous page number, 0 on the first page.
func (p Paging) Prev() int {
	if p.Number <= 1 {
		return 0
	}
	return min(p.Number-1, p.Pages())
}

// Next is the next page number, 0 on the last page.
func (p Paging) Next() int {
	if p.Number >= p.Pages() {
		return 0
	}
	return p.Number + 1
}

// paging checks the page number and size and returns the page and its row offset. Pages beyond
// the last give no rows rather than an error, like a list that shrank since it was shown.
func paging(number, size, def, most int) (Paging, int) {
	if size <= 0 || size > most {
		size = def
	}
	if number < 1 || number > 1_000_000 {
		number = 1
	}
	return Paging{Number: number, Size: size}, (number - 1) * size
}

// sortKeys maps the names of the columns a listing may be sorted by to their SQL. Only these
// strings reach ORDER BY: a request names a key, never a column.
type sortKeys map[string]sortColumn

// sortColumn is a column to sort by; a time column is sorted through store.TimeColumn.
type sortColumn struct {
	sql  string
	time bool
}

// order returns the ORDER BY on db for key ("amount", or "-amount" for descending), def when
// key is empty, with tie after it in the same direction so that pages do not overlap. It
// returns the key as understood, and Invalid for a key that is not in k.
func (k sortKeys) order(db *gorm.DB, key, def, tie string) (string, string, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		key = def
	}
	name, desc := strings.TrimPrefix(key, "-"), strings.HasPrefix(key, "-")
	col, ok := k[name]
	if !ok {
		names := slices.Sorted(maps.Keys(k))
		shown := key
		if utf8.RuneCountInString(shown) > 20 || !utf8.ValidString(shown) {
			shown = "该字段"
		}
		return "", "", errs.Invalid("sort", fmt.Sprintf("不能按“%s”排序", shown),
			"可以按 "+strings.Join(names, "、")+" 排序，前面加 - 表示倒序")
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	expr := col.sql
	if col.time {
		expr, _ = store.TimeColumn(db, col.sql)
	}
	return key, expr + dir + ", " + tie + dir, nil
}

// memberSorts, payoutSorts and auditSorts are functions rather than variables: the package
// keeps no state, not even a map nobody writes.
func memberSorts() sortKeys {
	return sortKeys{"id": {sql: "m.id"}, "name": {sql: "m.name"}, "union": {sql: "u.code"}, "bound": {sql: "w.bound_at", time: true}}
}

// MemberList is one page of members.
type MemberList struct {
	Rows []MemberRow
	Page Paging
}

func (s *Service) scope(q *gorm.DB, st Staff) *gorm.DB {
	if st.Role == model.RoleUnion {
		return q.Where("m.union_id = ?", st.UnionID)
	}
	return q
}

type memberScan struct {
	model.Member
	UnionCode string
	UnionName string
	BoundAt   *time.Time
	Bound     bool
	Following bool
	SMSOptOut bool
}

func (s *Service) memberQuery(ctx context.Context, st Staff) *gorm.DB {
	q := s.db.WithContext(ctx).Table("members AS m").
		Joins("JOIN unions AS u ON u.id = m.union_id").
		Joins("LEFT JOIN we_chat_accounts AS w ON w.member_id = m.id").
		Select("m.*, u.code AS union_code, u.name AS union_name, w.bound_at AS bound_at, w.id IS NOT NULL AS bound, " +
			"COALESCE(w.following, 0) AS following, COALESCE(w.sms_opt_out, 0) AS sms_opt_out")
	return s.scope(q, st)
}

func row(m memberScan) MemberRow {
	return MemberRow{ID: m.ID, Name: pii.MaskName(m.Name), IDLast4: pii.MaskLast4(m.IDLast4), SocialLast4: pii.MaskLast4(m.SocialCardLast4),
		JingLast4: pii.MaskLast4(m.JingCardLast4), UnionCode: m.UnionCode, UnionName: m.UnionName, Employment: m.Employment,
		Hardship: m.Hardship, ModelWorker: m.ModelWorker, Bound: m.Bound, BoundAt: m.BoundAt, Following: m.Following, SMSOptOut: m.SMSOptOut}
}

// tail returns the last four characters staff typed to find a member by a number ("1234",
// "尾号1234", "****123x"), and false when q is not such a tail.
func tail(q string) (string, bool) {
	q = strings.TrimSpace(q)
	q = strings.TrimPrefix(q, "尾号")
	q = strings.TrimLeft(strings.TrimSpace(q), "*")
	if len(q) != 4 {
		return "", false
	}
	q = strings.ToUpper(q)
	for i := 0; i < 4; i++ {
		if c := q[i]; (c < '0' || c > '9') && !(i == 3 && c == 'X') {
			return "", false
		}
	}
	return q, true
}

// Members is SearchMembers' rows alone.
func (s *Service) Members(ctx context.Context, st Staff, q MemberQuery) ([]MemberRow, error) {
	l, err := s.SearchMembers(ctx, st, q)
	return l.Rows, err
}

// SearchMembers returns one page of the members matching q among those st may see (a union's
// staff see only their union's members), with the total count. It returns Invalid for a sort
// key MemberQuery does not list and Forbidden for a role that may not read members.
func (s *Service) SearchMembers(ctx context.Context, st Staff, q MemberQuery) (MemberList, error) {
	if !st.Can(ViewMembers) {
		return MemberList{}, errs.New(errs.KindForbidden, "staff.forbidden", "您的角色不能查看会员")
	}
	page, offset := paging(q.Page, q.Limit, 50, 200)
	key, order, err := memberSorts().order(s.db, q.Sort, "id", "m.id")
	if err != nil {
		return MemberList{}, err
	}
	page.Sort = key
	filter := func(db *gorm.DB) *gorm.DB {
		if t, ok := tail(q.Name); ok {
			return db.Where("(m.id_last4 = ? OR m.social_card_last4 = ? OR m.jing_card_last4 = ? OR m.bank_account_last4 = ?)", t, t, t, t)
		}
		if name := strings.TrimSpace(q.Name); name != "" {
			return db.Where("m.name LIKE ?", strings.NewReplacer(`%`, "", `_`, "", `\`, "").Replace(name)+"%")
		}
		return db
	}
	if err := filter(s.scope(s.db.WithContext(ctx).Table("members AS m"), st)).Count(&page.Total).Error; err != nil {
		return MemberList{}, fmt.Errorf("count members: %w", err)
	}
	var rows []memberScan
	if err := filter(s.memberQuery(ctx, st)).Order(order).Limit(page.Size).Offset(offset).Scan(&rows).Error; err != nil {
		return MemberList{}, fmt.Errorf("search members: %w", err)
	}
	out := MemberList{Rows: make([]MemberRow, 0, len(rows)), Page: page}
	for _, m := range rows {
		out.Rows = append(out.Rows, row(m))
	}
	return out, nil
}

// Member returns one member. A member of another union is NotFound for a union's staff, the
// same answer as for an id that does not exist.
func (s *Service) Member(ctx context.Context, st Staff, id uint64) (MemberRow, error) {
	m, err := s.member(ctx, st, id)
	return row(m), err
}

func (s *Service) member(ctx context.Context, st Staff, id uint64) (memberScan, error) {
	if !st.Can(ViewMembers) {
		return memberScan{}, errs.New(errs.KindForbidden, "staff.forbidden", "您的角色不能查看会员")
	}
	var rows []memberScan
	if err := s.memberQuery(ctx, st).Where("m.id = ?", id).Limit(1).Scan(&rows).Error; err != nil {
		return memberScan{}, fmt.Errorf("member %d: %w", id, err)
	}
	if len(rows) == 0 {
		return memberScan{}, errs.NotFound("member.not_found", "没有找到这位会员")
	}
	return rows[0], nil
}

// MemberNames returns the masked names of the members among ids that st may see; the others
// are left out of the map, so a caller shows them as unknown.
func (s *Service) MemberNames(ctx context.Context, st Staff, ids []uint64) (map[uint64]string, error) {
	out := map[uint64]string{}
	if len(ids) == 0 || !st.Can(ViewMembers) {
		return out, nil
	}
	var rows []struct {
		ID   uint64
		Name string
	}
	if err := s.scope(s.db.WithContext(ctx).Table("members AS m"), st).Select("m.id, m.name").Where("m.id IN ?", ids).
		Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("member names: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = pii.MaskName(r.Name)
	}
	return out, nil
}

// SpecialStatus is a status that raises the member's ratios (困难职工, 劳模), with the dates the
// roster gives for it. Staff see expired ones too, to answer "why was I paid less this year".
type SpecialStatus struct {
	Label  string
	From   model.Date // empty: since always
	Until  model.Date // empty: open-ended
	Active bool       // in force today
}

// PayoutRow is one payout line of a member as staff see it.
type PayoutRow struct {
	ID        uint64
	Year      int
	Period    string // the run's period: 2025-Q1 (outpatient) or 2025-03 (inpatient)
	ClaimType model.ClaimType
	BillDate  model.Date
	AmountFen model.Fen
	Eligible  bool
	Reason    string // why the plan does not pay, for lines not eligible
	Status    model.LineStatus
	Account   string // where the money went, masked: "京卡 尾号1234", "工商银行 尾号5678"; empty before export
	ArrivedAt *time.Time
}

// PayoutQuery selects a page of a member's payouts.
type PayoutQuery struct {
	Page  int
	Limit int // rows per page, 1 to 100 (20)
	// Sort is bill_date, year, period, amount, status or arrived, "-" before it for descending;
	// empty: the newest bill first.
	Sort string
}

func payoutSorts() sortKeys {
	return sortKeys{"bill_date": {sql: "l.bill_date"}, "year": {sql: "l.year"}, "period": {sql: "r.period"},
		"amount": {sql: "l.amount_fen"}, "status": {sql: "l.status"}, "arrived": {sql: "l.arrived_at", time: true}}
}

// PayoutList is one page of a member's payouts.
type PayoutList struct {
	Rows []PayoutRow
	Page Paging
}

// NoticeRow is one notice to the member on one channel.
type NoticeRow struct {
	ID        uint64
	Kind      model.NoticeKind
	Channel   model.Channel
	Status    model.NoticeStatus
	Attempts  int
	LastError string
	CreatedAt time.Time
	SentAt    *time.Time
}

// MemberDetail is everything the member page shows.
type MemberDetail struct {
	Member   MemberRow
	Statuses []SpecialStatus
	Payouts  PayoutList
	Notices  []NoticeRow // newest first, at most 50
}

// MemberDetail returns the member with their special statuses, a page of their payouts and
// their latest notices. Like Member, it returns NotFound for a member st may not see, and
// Invalid for a sort key PayoutQuery does not list.
func (s *Service) MemberDetail(ctx context.Context, st Staff, id uint64, q PayoutQuery) (MemberDetail, error) {
	m, err := s.member(ctx, st, id)
	if err != nil {
		return MemberDetail{}, err
	}
	page, offset := paging(q.Page, q.Limit, 20, 100)
	key, order, err := payoutSorts().order(s.db, q.Sort, "-bill_date", "l.id")
	if err != nil {
		return MemberDetail{}, err
	}
	page.Sort = key
	d := MemberDetail{Member: row(m), Statuses: []SpecialStatus{}, Payouts: PayoutList{Rows: []PayoutRow{}, Page: page}, Notices: []NoticeRow{}}
	today := model.DateOf(s.now())
	held := func(from, until model.Date) bool {
		return (from == "" || from <= today) && (until == "" || today <= until)
	}
	if m.Hardship {
		d.Statuses = append(d.Statuses, SpecialStatus{Label: "困难职工", From: m.HardshipFrom, Until: m.HardshipUntil, Active: held(m.HardshipFrom, m.HardshipUntil)})
	}
	if m.ModelWorker {
		d.Statuses = append(d.Statuses, SpecialStatus{Label: "劳模", From: m.ModelFrom, Until: m.ModelUntil, Active: held(m.ModelFrom, m.ModelUntil)})
	}

	db := s.db.WithContext(ctx)
	if err := db.Model(&model.PayoutLine{}).Where("member_id = ?", m.ID).Count(&d.Payouts.Page.Total).Error; err != nil {
		return d, fmt.Errorf("member %d: count payouts: %w", m.ID, err)
	}
	var lines []struct {
		model.PayoutLine `gorm:"embedded"`
		Period           string
		AccountKind      string
		Bank             model.Bank
		AccountLast4     string
	}
	if err := db.Table("payout_lines AS l").Joins("LEFT JOIN settlement_runs AS r ON r.id = l.run_id").
		Joins("LEFT JOIN transfers AS t ON t.id = l.transfer_id").
		Select("l.id, l.year, l.claim_type, l.bill_date, l.amount_fen, l.eligible, l.reason, l.status, l.arrived_at, r.period, "+
			"t.account_kind, t.bank, t.account_last4").
		Where("l.member_id = ?", m.ID).Order(order).Limit(page.Size).Offset(offset).Scan(&lines).Error; err != nil {
		return d, fmt.Errorf("member %d: payouts: %w", m.ID, err)
	}
	for _, l := range lines {
		r := PayoutRow{ID: l.ID, Year: l.Year, Period: l.Period, ClaimType: l.ClaimType, BillDate: l.BillDate, AmountFen: l.AmountFen,
			Eligible: l.Eligible, Reason: l.Reason, Status: l.Status, ArrivedAt: l.ArrivedAt}
		switch {
		case l.AccountLast4 == "":
		case l.AccountKind == "bank":
			r.Account = l.Bank.Label() + " " + pii.MaskLast4(l.AccountLast4)
		default:
			r.Account = "京卡 " + pii.MaskLast4(l.AccountLast4)
		}
		d.Payouts.Rows = append(d.Payouts.Rows, r)
	}

	var notices []model.Notification
	if err := db.Select("id", "kind", "channel", "status", "attempts", "last_error", "created_at", "sent_at").
		Where("member_id = ?", m.ID).Order("created_at DESC, id DESC").Limit(50).Find(&notices).Error; err != nil {
		return d, fmt.Errorf("member %d: notices: %w", m.ID, err)
	}
	for _, n := range notices {
		d.Notices = append(d.Notices, NoticeRow{ID: n.ID, Kind: n.Kind, Channel: n.Channel, Status: n.Status, Attempts: n.Attempts,
			LastError: n.LastError, CreatedAt: n.CreatedAt, SentAt: n.SentAt})
	}
	return d, nil
}

// AuditQuery selects a page of the audit log.
type AuditQuery struct {
	Filter audit.Filter // Limit is the page size, 1 to 500 (100); Offset is ignored
	Page   int          // from 1
	Sort   string       // at, actor, action or outcome, "-" before it for descending; empty: newest first
}

func auditSorts() sortKeys {
	return sortKeys{"at": {sql: "at", time: true}, "actor": {sql: "actor"}, "action": {sql: "action"}, "outcome": {sql: "outcome"}}
}

// AuditList is one page of the audit log.
type AuditList struct {
	Rows []model.AuditLog
	Page Paging
}

// AuditLog lists audit rows for st, newest first, and their total: a union's staff see only
// their union's rows.
func (s *Service) AuditLog(ctx context.Context, st Staff, f audit.Filter) ([]model.AuditLog, int64, error) {
	return audit.List(ctx, s.db, s.auditScope(st, f))
}

// SearchAudit returns one page of the audit rows matching q for st (a union's staff see only
// their union's rows), sorted as q asks. It returns Invalid for a sort key AuditQuery does not
// list.
func (s *Service) SearchAudit(ctx context.Context, st Staff, q AuditQuery) (AuditList, error) {
	page, offset := paging(q.Page, q.Filter.Limit, 100, 500)
	key, order, err := auditSorts().order(s.db, q.Sort, "-at", "id")
	if err != nil {
		return AuditList{}, err
	}
	page.Sort = key
	q.Filter.Limit, q.Filter.Offset, q.Filter.Order = page.Size, offset, order
	rows, total, err := audit.List(ctx, s.db, s.auditScope(st, q.Filter))
	page.Total = total
	return AuditList{Rows: rows, Page: page}, err
}

// auditScope keeps a union's staff to their union's rows.
func (s *Service) auditScope(st Staff, f audit.Filter) audit.Filter {
	if st.Role == model.RoleUnion {
		f.UnionID = st.UnionID
	}
	return f
}
