package staff_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
	"huzhu/service/kv/kvtest"
	"huzhu/service/staff"
	"huzhu/service/store/storetest"
)

// directory is a roster of two unions for the directory tests: U1 has 张一 (bound, hardship),
// 张二, 李三; U2 has 张四, whose ID number ends like 张一's 京卡.
type directory struct {
	t       *testing.T
	db      *gorm.DB
	s       *staff.Service
	u1, u2  model.Union
	members map[string]model.Member
	admin   staff.Staff
	union   staff.Staff
	now     time.Time
}

func newDirectory(t *testing.T) *directory {
	t.Helper()
	d := &directory{t: t, db: storetest.NewDB(t), members: map[string]model.Member{}, now: time.Date(2025, 7, 1, 9, 0, 0, 0, model.Shanghai)}
	d.s = staff.New(d.db, kvtest.New(t), staff.Options{BcryptCost: bcrypt.MinCost}, func() time.Time { return d.now }, slog.New(slog.DiscardHandler))
	d.u1, d.u2 = model.Union{Code: "U1", Name: "一厂工会"}, model.Union{Code: "U2", Name: "二厂工会"}
	for _, u := range []*model.Union{&d.u1, &d.u2} {
		if err := d.db.Create(u).Error; err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range []model.Member{
		{UnionID: d.u1.ID, Name: "张一", IDLast4: "0010", JingCardLast4: "4321", SocialCardLast4: "0001",
			Hardship: true, HardshipFrom: "2025-01-01", HardshipUntil: "2025-12-31", ModelWorker: true, ModelFrom: "2010-05-01", ModelUntil: "2020-04-30"},
		{UnionID: d.u1.ID, Name: "张二", IDLast4: "002X", BankAccountLast4: "7777"},
		{UnionID: d.u1.ID, Name: "李三", IDLast4: "0030"},
		{UnionID: d.u2.ID, Name: "张四", IDLast4: "4321"},
	} {
		m.IDNumberEnc, m.IDNumberHash = []byte{1}, fmt.Sprintf("h%d", i)
		if err := d.db.Create(&m).Error; err != nil {
			t.Fatal(err)
		}
		d.members[m.Name] = m
	}
	one := d.members["张一"].ID
	bound := d.now.Add(-time.Hour)
	if err := d.db.Create(&model.WeChatAccount{MemberID: &one, BoundAt: &bound, Following: true}).Error; err != nil {
		t.Fatal(err)
	}
	d.admin = staff.Staff{Username: "a", Role: model.RoleAdmin}
	d.union = staff.Staff{Username: "u1", Role: model.RoleUnion, UnionID: d.u1.ID}
	return d
}

func names(rows []staff.MemberRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Name+"/"+r.IDLast4)
	}
	return out
}

func TestSearchMembersPagesSortsAndFindsTails(t *testing.T) {
	d := newDirectory(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		st    staff.Staff
		q     staff.MemberQuery
		want  []string
		total int64
	}{
		{"name prefix, by id", d.admin, staff.MemberQuery{Name: "张"}, []string{"张*/尾号0010", "张*/尾号002X", "张*/尾号4321"}, 3},
		{"union sees its own only", d.union, staff.MemberQuery{Name: "张"}, []string{"张*/尾号0010", "张*/尾号002X"}, 2},
		{"first page", d.admin, staff.MemberQuery{Limit: 2}, []string{"张*/尾号0010", "张*/尾号002X"}, 4},
		{"second page", d.admin, staff.MemberQuery{Limit: 2, Page: 2}, []string{"李*/尾号0030", "张*/尾号4321"}, 4},
		{"past the last page", d.admin, staff.MemberQuery{Limit: 2, Page: 9}, []string{}, 4},
		{"by id descending", d.admin, staff.MemberQuery{Sort: "-id", Limit: 2}, []string{"张*/尾号4321", "李*/尾号0030"}, 4},
		{"by union descending", d.admin, staff.MemberQuery{Name: "张", Sort: "-union"}, []string{"张*/尾号4321", "张*/尾号002X", "张*/尾号0010"}, 3},
		{"tail of ID or 京卡 across unions", d.admin, staff.MemberQuery{Name: "4321"}, []string{"张*/尾号0010", "张*/尾号4321"}, 2},
		{"tail written as 尾号, union scope", d.union, staff.MemberQuery{Name: "尾号4321"}, []string{"张*/尾号0010"}, 1},
		{"tail with x and stars", d.admin, staff.MemberQuery{Name: "****002x"}, []string{"张*/尾号002X"}, 1},
		{"bank account tail", d.union, staff.MemberQuery{Name: "7777"}, []string{"张*/尾号002X"}, 1},
		{"own union's ID tail", d.union, staff.MemberQuery{Name: "0030"}, []string{"李*/尾号0030"}, 1},
		{"no match", d.union, staff.MemberQuery{Name: "9999"}, []string{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := d.s.SearchMembers(ctx, tc.st, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, names(l.Rows)); diff != "" || l.Page.Total != tc.total {
				t.Errorf("SearchMembers(%+v) total %d, want %d; rows (-want +got):\n%s", tc.q, l.Page.Total, tc.total, diff)
			}
		})
	}
	t.Run("bound and following come with the row", func(t *testing.T) {
		l, _ := d.s.SearchMembers(ctx, d.union, staff.MemberQuery{Name: "0010"})
		if len(l.Rows) != 1 || !l.Rows[0].Bound || !l.Rows[0].Following || l.Rows[0].BoundAt == nil {
			t.Errorf("rows = %+v, want 张一 bound and following", l.Rows)
		}
	})
	t.Run("paging figures", func(t *testing.T) {
		l, _ := d.s.SearchMembers(ctx, d.admin, staff.MemberQuery{Limit: 3, Page: 2, Sort: "-name"})
		if p := l.Page; p.Pages() != 2 || p.Prev() != 1 || p.Next() != 0 || p.Sort != "-name" || p.Size != 3 {
			t.Errorf("page = %+v (pages %d prev %d next %d), want page 2 of 2, sorted -name", p, p.Pages(), p.Prev(), p.Next())
		}
	})
	for _, bad := range []string{"m.name", "name; DROP TABLE members", "password", "-", "--id"} {
		t.Run("sort "+bad, func(t *testing.T) {
			_, err := d.s.SearchMembers(ctx, d.admin, staff.MemberQuery{Sort: bad})
			if e, ok := errs.As(err); !ok || e.Kind != errs.KindInvalid || e.Field != "sort" {
				t.Errorf("SearchMembers(sort %q) = %v, want Invalid on sort", bad, err)
			}
		})
	}
}

func TestMemberDetail(t *testing.T) {
	d := newDirectory(t)
	ctx := context.Background()
	one, four := d.members["张一"], d.members["张四"]
	run := model.SettlementRun{Period: "2025-Q1", Class: model.ClassOutpatient, Status: model.RunExported, CreatedBy: "op"}
	run2 := model.SettlementRun{Period: "2025-04", Class: model.ClassInpatient, Status: model.RunApproved, CreatedBy: "op"}
	for _, r := range []*model.SettlementRun{&run, &run2} {
		if err := d.db.Create(r).Error; err != nil {
			t.Fatal(err)
		}
	}
	jing := model.Transfer{Ref: "T1", BatchID: 1, RunID: run.ID, MemberID: one.ID, Bank: model.BankBOB, AccountKind: "jingka", AccountLast4: "4321", AmountFen: 1500, Status: model.LineArrived}
	bank := model.Transfer{Ref: "T2", BatchID: 1, RunID: run.ID, MemberID: one.ID, Bank: model.BankICBC, AccountKind: "bank", AccountLast4: "5678", AmountFen: 200, Status: model.LineFailed}
	for _, tr := range []*model.Transfer{&jing, &bank} {
		if err := d.db.Create(tr).Error; err != nil {
			t.Fatal(err)
		}
	}
	arrived := time.Date(2025, 4, 28, 10, 30, 0, 0, model.Shanghai)
	for i, l := range []model.PayoutLine{
		{RunID: run.ID, MemberID: one.ID, ClaimType: model.ClaimOutpatient, BillDate: "2025-03-14", AmountFen: 1500, Status: model.LineArrived, TransferID: jing.ID, ArrivedAt: &arrived},
		{RunID: run.ID, MemberID: one.ID, ClaimType: model.ClaimOutpatient, BillDate: "2025-02-01", AmountFen: 200, Status: model.LineFailed, TransferID: bank.ID},
		{RunID: run2.ID, MemberID: one.ID, ClaimType: model.ClaimInpatient, BillDate: "2025-04-09", AmountFen: 90000, Status: model.LineApproved},
		{RunID: run2.ID, MemberID: four.ID, ClaimType: model.ClaimInpatient, BillDate: "2025-04-10", AmountFen: 7, Status: model.LineApproved},
	} {
		l.RecordID, l.Year, l.PolicyCode, l.Eligible = uint64(i+1), 2025, "2021", true
		if err := d.db.Create(&l).Error; err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range []model.Notification{
		{MemberID: one.ID, Kind: model.NoticeArrived, Channel: model.ChannelTemplate, Status: model.NoticeSent},
		{MemberID: one.ID, Kind: model.NoticeFailedTx, Channel: model.ChannelSMS, Status: model.NoticeFailed, Attempts: 5, LastError: "短信网关拒绝"},
		{MemberID: four.ID, Kind: model.NoticeArrived, Channel: model.ChannelSMS, Status: model.NoticeSent},
	} {
		n.DedupKey, n.Payload, n.NextAttemptAt = fmt.Sprintf("k%d", i), "{}", d.now
		n.CreatedAt = d.now.Add(time.Duration(i) * time.Minute)
		if err := d.db.Create(&n).Error; err != nil {
			t.Fatal(err)
		}
	}

	det, err := d.s.MemberDetail(ctx, d.union, one.ID, staff.PayoutQuery{})
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		Bill    model.Date
		Period  string
		Amount  model.Fen
		Status  model.LineStatus
		Account string
		Arrived bool
	}
	var got []line
	for _, r := range det.Payouts.Rows {
		got = append(got, line{r.BillDate, r.Period, r.AmountFen, r.Status, r.Account, r.ArrivedAt != nil && r.ArrivedAt.Equal(arrived)})
	}
	want := []line{
		{"2025-04-09", "2025-04", 90000, model.LineApproved, "", false},
		{"2025-03-14", "2025-Q1", 1500, model.LineArrived, "京卡 尾号4321", true},
		{"2025-02-01", "2025-Q1", 200, model.LineFailed, "工商银行 尾号5678", false},
	}
	if diff := cmp.Diff(want, got); diff != "" || det.Payouts.Page.Total != 3 {
		t.Errorf("payouts total %d, want 3; (-want +got):\n%s", det.Payouts.Page.Total, diff)
	}
	wantStatuses := []staff.SpecialStatus{{Label: "困难职工", From: "2025-01-01", Until: "2025-12-31", Active: true},
		{Label: "劳模", From: "2010-05-01", Until: "2020-04-30", Active: false}}
	if diff := cmp.Diff(wantStatuses, det.Statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if len(det.Notices) != 2 || det.Notices[0].Kind != model.NoticeFailedTx || det.Notices[0].LastError != "短信网关拒绝" || det.Notices[1].Channel != model.ChannelTemplate {
		t.Errorf("notices = %+v, want the member's two, newest first", det.Notices)
	}
	if m := det.Member; m.Name != "张*" || !m.Bound || m.JingLast4 != "尾号4321" {
		t.Errorf("member = %+v, want masked, bound", m)
	}

	t.Run("paged and sorted by amount", func(t *testing.T) {
		det, err := d.s.MemberDetail(ctx, d.admin, one.ID, staff.PayoutQuery{Limit: 2, Page: 2, Sort: "amount"})
		if err != nil {
			t.Fatal(err)
		}
		if p := det.Payouts.Page; len(det.Payouts.Rows) != 1 || det.Payouts.Rows[0].AmountFen != 90000 || p.Total != 3 || p.Pages() != 2 {
			t.Errorf("page 2 by amount = %+v, %+v; want the 900.00 line alone, 3 in all", det.Payouts.Rows, p)
		}
	})
	t.Run("another union's member is not found", func(t *testing.T) {
		if _, err := d.s.MemberDetail(ctx, d.union, four.ID, staff.PayoutQuery{}); errs.KindOf(err) != errs.KindNotFound {
			t.Errorf("MemberDetail(another union's member) = %v, want NotFound", err)
		}
	})
	t.Run("unknown sort", func(t *testing.T) {
		if _, err := d.s.MemberDetail(ctx, d.admin, one.ID, staff.PayoutQuery{Sort: "amount_fen"}); errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("MemberDetail(sort amount_fen) = %v, want Invalid", err)
		}
	})
}

func TestMemberNamesAreScopedAndMasked(t *testing.T) {
	d := newDirectory(t)
	ids := []uint64{d.members["张一"].ID, d.members["张四"].ID, 99999}
	got, err := d.s.MemberNames(context.Background(), d.union, ids)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[uint64]string{d.members["张一"].ID: "张*"}, got); diff != "" {
		t.Errorf("MemberNames for a union (-want +got):\n%s", diff)
	}
	if got, _ := d.s.MemberNames(context.Background(), d.admin, ids); len(got) != 2 {
		t.Errorf("MemberNames for an admin = %v, want two names", got)
	}
}

func TestSearchAudit(t *testing.T) {
	d := newDirectory(t)
	ctx := context.Background()
	base := time.Date(2025, 6, 30, 23, 30, 0, 0, model.Shanghai)
	for i, e := range []audit.Entry{
		{Actor: "op1", Action: "run.approve", UnionID: 0},
		{Actor: "u1", Action: "member.unbind", UnionID: d.u1.ID},
		{Actor: "admin", Action: "notice.retry_all"},
		{Actor: "u1", Action: "member.unbind", UnionID: d.u1.ID},
		{Actor: "u2", Action: "member.unbind", UnionID: d.u2.ID},
		{Actor: "op1", Action: "notice.retry"},
	} {
		at := base.Add(time.Duration(i) * 10 * time.Minute)
		if i%2 == 1 {
			at = at.UTC() // written by a process whose clock is in UTC
		}
		if err := audit.Write(ctx, d.db, at, e); err != nil {
			t.Fatal(err)
		}
	}
	julyFirst := time.Date(2025, 7, 1, 0, 0, 0, 0, model.Shanghai)
	actions := func(rows []model.AuditLog) []string {
		out := []string{}
		for _, r := range rows {
			out = append(out, r.Actor+" "+r.Action)
		}
		return out
	}
	tests := []struct {
		name  string
		st    staff.Staff
		q     staff.AuditQuery
		want  []string
		total int64
	}{
		{"newest first, first page", d.admin, staff.AuditQuery{Filter: audit.Filter{Limit: 2}}, []string{"op1 notice.retry", "u2 member.unbind"}, 6},
		{"third page", d.admin, staff.AuditQuery{Filter: audit.Filter{Limit: 2}, Page: 3}, []string{"u1 member.unbind", "op1 run.approve"}, 6},
		{"by actor then id", d.admin, staff.AuditQuery{Sort: "actor", Filter: audit.Filter{Limit: 3}}, []string{"admin notice.retry_all", "op1 run.approve", "op1 notice.retry"}, 6},
		{"underscore is not a wildcard", d.admin, staff.AuditQuery{Filter: audit.Filter{Action: "notice.retry_"}}, []string{"admin notice.retry_all"}, 1},
		{"union sees its own rows", d.union, staff.AuditQuery{Sort: "at"}, []string{"u1 member.unbind", "u1 member.unbind"}, 2},
		// Rows from 23:30 on 30 June to 00:20 on 1 July, every other one by a clock in UTC.
		{"from a Beijing day across clock zones", d.admin, staff.AuditQuery{Sort: "at", Filter: audit.Filter{From: julyFirst}},
			[]string{"u1 member.unbind", "u2 member.unbind", "op1 notice.retry"}, 3},
		{"to a Beijing day across clock zones", d.admin, staff.AuditQuery{Sort: "at", Filter: audit.Filter{To: julyFirst}},
			[]string{"op1 run.approve", "u1 member.unbind", "admin notice.retry_all"}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := d.s.SearchAudit(ctx, tc.st, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, actions(l.Rows)); diff != "" || l.Page.Total != tc.total {
				t.Errorf("SearchAudit(%+v) total %d, want %d; (-want +got):\n%s", tc.q, l.Page.Total, tc.total, diff)
			}
		})
	}
	if _, err := d.s.SearchAudit(ctx, d.admin, staff.AuditQuery{Sort: "detail"}); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("SearchAudit(sort detail) = %v, want Invalid", err)
	}
}
