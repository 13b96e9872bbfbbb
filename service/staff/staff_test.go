package staff_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
	"huzhu/service/kv/kvtest"
	"huzhu/service/pii"
	"huzhu/service/staff"
	"huzhu/service/store/storetest"
)

const pw = "a long enough password"

// system creates the fixtures' accounts: the process itself, as the demo does.
func system() model.Actor { return model.Actor{Username: "test", Via: model.ViaSystem} }

type fixture struct {
	db  *gorm.DB
	s   *staff.Service
	now *time.Time
}

func newFixture(t *testing.T, opts ...func(*staff.Options)) fixture {
	t.Helper()
	db := storetest.NewDB(t)
	now := time.Date(2025, 7, 1, 9, 0, 0, 0, model.Shanghai)
	f := fixture{db: db, now: &now}
	cipher, err := pii.New(bytes.Repeat([]byte("k"), pii.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	o := staff.Options{BcryptCost: bcrypt.MinCost, LoginsPerIP: 100, Cipher: cipher}
	for _, fn := range opts {
		fn(&o)
	}
	f.s = staff.New(db, kvtest.New(t), o, func() time.Time { return *f.now }, slog.New(slog.DiscardHandler))
	for _, u := range []model.Union{{Code: "U1", Name: "一厂工会"}, {Code: "U2", Name: "二厂工会"}} {
		if err := db.Create(&u).Error; err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f fixture) mustCreate(t *testing.T, u staff.NewUser) model.AdminUser {
	t.Helper()
	if u.Password == "" {
		u.Password = pw
	}
	row, err := f.s.CreateAccount(context.Background(), system(), u)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", u.Username, err)
	}
	return row
}

func TestCreateUser(t *testing.T) {
	f := newFixture(t)
	f.mustCreate(t, staff.NewUser{Username: "taken", Role: model.RoleAdmin})
	tests := []struct {
		name string
		u    staff.NewUser
		code string
	}{
		{"ok admin", staff.NewUser{Username: "a1", Role: model.RoleAdmin, Password: pw}, ""},
		{"ok union", staff.NewUser{Username: "u1", Role: model.RoleUnion, UnionCode: "U1", Password: pw}, ""},
		{"empty username", staff.NewUser{Username: " ", Role: model.RoleAdmin, Password: pw}, "invalid.username"},
		{"bad role", staff.NewUser{Username: "x", Role: "boss", Password: pw}, "invalid.role"},
		{"short password", staff.NewUser{Username: "x", Role: model.RoleAdmin, Password: "short"}, "staff.password_short"},
		{"union without code", staff.NewUser{Username: "x", Role: model.RoleUnion, Password: pw}, "invalid.union_code"},
		{"admin with code", staff.NewUser{Username: "x", Role: model.RoleAdmin, UnionCode: "U1", Password: pw}, "invalid.union_code"},
		{"unknown union", staff.NewUser{Username: "x", Role: model.RoleUnion, UnionCode: "U9", Password: pw}, "invalid.union_code"},
		{"taken", staff.NewUser{Username: "taken", Role: model.RoleAuditor, Password: pw}, "staff.username_taken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row, err := f.s.CreateAccount(context.Background(), system(), tc.u)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("CreateUser(%s) = %v, want ok", tc.u.Username, err)
				}
				if strings.Contains(row.PasswordHash, pw) || bcrypt.CompareHashAndPassword([]byte(row.PasswordHash), []byte(pw)) != nil {
					t.Errorf("password hash %q is not a bcrypt hash of the password", row.PasswordHash)
				}
				return
			}
			if e, ok := errs.As(err); !ok || e.Code != tc.code {
				t.Errorf("CreateUser(%s) = %v, want code %s", tc.u.Username, err, tc.code)
			}
		})
	}
	rows, _, err := audit.List(context.Background(), f.db, audit.Filter{Action: "staff.create"})
	if err != nil || len(rows) != 3 {
		t.Errorf("audit rows for staff.create = %d, %v; want 3", len(rows), err)
	}
}

func TestLoginAndSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustCreate(t, staff.NewUser{Username: "op", Role: model.RoleOperator})
	u1 := f.mustCreate(t, staff.NewUser{Username: "u1", Role: model.RoleUnion, UnionCode: "U1"})

	for _, name := range []string{"nobody", "op"} {
		if _, err := f.s.Login(ctx, name, "wrong password!", "10.0.0.1"); errs.KindOf(err) != errs.KindUnauthenticated {
			t.Errorf("Login(%s, wrong) = %v, want Unauthenticated", name, err)
		}
	}
	sess, err := f.s.Login(ctx, "op", pw, "10.0.0.1")
	if err != nil {
		t.Fatalf("Login = %v", err)
	}
	st, err := f.s.Authenticate(ctx, sess.Token)
	if err != nil || st.Username != "op" || st.CSRF == "" || !st.CheckCSRF(sess.Staff.CSRF) || st.CheckCSRF("x") {
		t.Fatalf("Authenticate = %+v, %v", st, err)
	}

	us, err := f.s.Login(ctx, "u1", pw, "10.0.0.2")
	if err != nil || us.Staff.UnionCode != "U1" || us.Staff.UnionID != u1.UnionID {
		t.Fatalf("union login = %+v, %v", us.Staff, err)
	}
	f.db.Model(&model.AdminUser{}).Where("id = ?", u1.ID).Update("disabled", true)
	if _, err := f.s.Authenticate(ctx, us.Token); errs.KindOf(err) != errs.KindUnauthenticated {
		t.Errorf("Authenticate for a disabled account = %v, want Unauthenticated", err)
	}
	if err := f.s.Logout(ctx, sess.Token, st, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Authenticate(ctx, sess.Token); errs.KindOf(err) != errs.KindUnauthenticated {
		t.Errorf("Authenticate after logout = %v, want Unauthenticated", err)
	}
	var denied int64
	f.db.Model(&model.AuditLog{}).Where("action = ? AND outcome = ?", "staff.login", "denied").Count(&denied)
	if denied != 2 {
		t.Errorf("denied login audit rows = %d, want 2", denied)
	}
}

func TestLoginRateLimitPerIP(t *testing.T) {
	db := storetest.NewDB(t)
	s := staff.New(db, kvtest.New(t), staff.Options{BcryptCost: bcrypt.MinCost, LoginsPerIP: 3}, nil, nil)
	for i := range 4 {
		_, err := s.Login(context.Background(), "x", "y", "10.9.9.9")
		want := errs.KindUnauthenticated
		if i == 3 {
			want = errs.KindTooMany
		}
		if errs.KindOf(err) != want {
			t.Errorf("attempt %d: %v, want kind %v", i+1, err, want)
		}
	}
}

func TestRoles(t *testing.T) {
	tests := []struct {
		role      model.Role
		act       staff.Action
		createdBy string
		want      bool
	}{
		{model.RoleAdmin, staff.Approve, "admin", true},
		{model.RoleOperator, staff.Approve, "me", false},
		{model.RoleOperator, staff.Approve, "other", true},
		{model.RoleUnion, staff.Approve, "other", false},
		{model.RoleAuditor, staff.Approve, "other", false},
		{model.RoleAuditor, staff.ViewPlan, "", true},
		{model.RoleAuditor, staff.Settle, "", false},
		{model.RoleUnion, staff.ViewPlan, "", false},
		{model.RoleUnion, staff.ViewMembers, "", true},
		{model.RoleUnion, staff.ViewAllFigures, "", false},
		{model.RoleOperator, staff.DownloadFiles, "", true},
		{model.RoleAuditor, staff.DownloadFiles, "", false},
		{model.RoleAdmin, staff.EditFAQ, "", true},
		{model.RoleAdmin, staff.EditPolicy, "", true},
		{model.RoleAdmin, staff.ManageStaff, "", true},
		{model.RoleOperator, staff.EditFAQ, "", false},
		{model.RoleOperator, staff.EditPolicy, "", false},
		{model.RoleOperator, staff.ManageStaff, "", false},
		{model.RoleOperator, staff.AskBot, "", true},
		{model.RoleAuditor, staff.EditFAQ, "", false},
		{model.RoleAuditor, staff.EditPolicy, "", false},
		{model.RoleAuditor, staff.ManageStaff, "", false},
		{model.RoleUnion, staff.EditFAQ, "", false},
		{model.RoleUnion, staff.ManageStaff, "", false},
	}
	for _, tc := range tests {
		t.Run(string(tc.role)+"/"+string(tc.act), func(t *testing.T) {
			st := staff.Staff{Username: "me", Role: tc.role}
			got := st.Can(tc.act)
			if tc.act == staff.Approve {
				if tc.role == model.RoleAdmin {
					st.Username = tc.createdBy
				}
				got = st.CanApprove(tc.createdBy)
			}
			if got != tc.want {
				t.Errorf("%s may %s (run by %q) = %v, want %v", tc.role, tc.act, tc.createdBy, got, tc.want)
			}
		})
	}
}

func TestMembersAreScopedAndMasked(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var u1, u2 model.Union
	f.db.Where("code = ?", "U1").Take(&u1)
	f.db.Where("code = ?", "U2").Take(&u2)
	mine := model.Member{UnionID: u1.ID, Name: "张小一", IDNumberEnc: []byte{1}, IDNumberHash: "h1", IDLast4: "0010"}
	theirs := model.Member{UnionID: u2.ID, Name: "张小二", IDNumberEnc: []byte{1}, IDNumberHash: "h2", IDLast4: "0029"}
	f.db.Create(&mine)
	f.db.Create(&theirs)
	bound := time.Now()
	f.db.Create(&model.WeChatAccount{MemberID: &mine.ID, BoundAt: &bound})
	union := staff.Staff{Username: "u1", Role: model.RoleUnion, UnionID: u1.ID}
	admin := staff.Staff{Username: "a", Role: model.RoleAdmin}

	rows, err := f.s.Members(ctx, union, staff.MemberQuery{Name: "张"})
	if err != nil || len(rows) != 1 || rows[0].ID != mine.ID || rows[0].Name == "张小一" || !strings.HasSuffix(rows[0].IDLast4, "0010") || !rows[0].Bound {
		t.Errorf("union search = %+v, %v; want only their masked, bound member", rows, err)
	}
	if rows, _ := f.s.Members(ctx, admin, staff.MemberQuery{Name: "%小_"}); len(rows) != 0 {
		t.Errorf("search with wildcards matched %d rows, want 0 (wildcards are ignored, names match by prefix)", len(rows))
	}
	if rows, _ := f.s.Members(ctx, admin, staff.MemberQuery{Name: "张"}); len(rows) != 2 {
		t.Errorf("admin search = %d rows, want 2", len(rows))
	}
	if _, err := f.s.Member(ctx, union, theirs.ID); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("union reads another union's member: %v, want NotFound", err)
	}
}

// login signs username in and returns the staff member of the session with its token.
func (f fixture) login(t *testing.T, username, password string) (staff.Staff, string) {
	t.Helper()
	sess, err := f.s.Login(context.Background(), username, password, "10.0.0.9")
	if err != nil {
		t.Fatalf("Login(%s) = %v", username, err)
	}
	return sess.Staff, sess.Token
}

func wantCode(t *testing.T, what string, err error, kind errs.Kind, code string) {
	t.Helper()
	if e, ok := errs.As(err); !ok || e.Kind != kind || e.Code != code || e.Message == "" {
		t.Errorf("%s = %v, want %v %s", what, err, kind, code)
	}
}

func TestAccounts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a1 := f.mustCreate(t, staff.NewUser{Username: "a1", DisplayName: "市总一", Role: model.RoleAdmin})
	f.mustCreate(t, staff.NewUser{Username: "op", Role: model.RoleOperator})
	me, myToken := f.login(t, "a1", pw)
	op, _ := f.login(t, "op", pw)

	u, err := f.s.CreateAccount(ctx, me.Actor("1.1.1.1", model.ViaConsole), staff.NewUser{Username: "new1", DisplayName: "新人", Role: model.RoleUnion, UnionCode: "U1", Password: pw})
	if err != nil {
		t.Fatalf("CreateAccount = %v", err)
	}
	_, err = f.s.CreateAccount(ctx, op.Actor("1.1.1.1", model.ViaConsole), staff.NewUser{Username: "x", Role: model.RoleAdmin, Password: pw})
	wantCode(t, "operator CreateAccount", err, errs.KindForbidden, "staff.forbidden")
	_, err = f.s.CreateAccount(ctx, me.Actor("ip", model.ViaConsole), staff.NewUser{Username: "x", DisplayName: strings.Repeat("长", 65), Role: model.RoleAdmin, Password: pw})
	wantCode(t, "CreateAccount with a long name", err, errs.KindInvalid, "invalid.display_name")

	rows, err := f.s.Accounts(ctx, me.Actor("ip", model.ViaConsole))
	if err != nil || len(rows) != 3 || rows[0].Username != "a1" || rows[1].Username != "new1" || rows[1].UnionCode != "U1" || rows[1].UnionName != "一厂工会" {
		t.Fatalf("Accounts = %+v, %v; want admins first, the union's code and name", rows, err)
	}
	if _, err := f.s.Accounts(ctx, op.Actor("ip", model.ViaConsole)); errs.KindOf(err) != errs.KindForbidden {
		t.Errorf("operator Accounts = %v, want Forbidden", err)
	}
	if _, err := f.s.Account(ctx, me.Actor("ip", model.ViaConsole), 999); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("Account(999) = %v, want NotFound", err)
	}

	// The new account signs in, then its role and union change: the next request sees them.
	st, token := f.login(t, "new1", pw)
	if st.Role != model.RoleUnion || st.UnionCode != "U1" {
		t.Fatalf("new account = %+v", st)
	}
	err = f.s.ChangeAccount(ctx, me.Actor("ip", model.ViaConsole), u.ID, staff.AccountChange{DisplayName: "改名", Role: model.RoleUnion, UnionCode: "U2"})
	if err != nil {
		t.Fatalf("ChangeAccount = %v", err)
	}
	if st, err := f.s.Authenticate(ctx, token); err != nil || st.UnionCode != "U2" || st.DisplayName != "改名" {
		t.Errorf("after the change the session is %+v, %v; want union U2", st, err)
	}
	wantCode(t, "union role without a code", f.s.ChangeAccount(ctx, me.Actor("ip", model.ViaConsole), u.ID, staff.AccountChange{Role: model.RoleUnion}),
		errs.KindInvalid, "invalid.union_code")
	wantCode(t, "operator with a code", f.s.ChangeAccount(ctx, me.Actor("ip", model.ViaConsole), u.ID, staff.AccountChange{Role: model.RoleOperator, UnionCode: "U1"}),
		errs.KindInvalid, "invalid.union_code")
	if err := f.s.ChangeAccount(ctx, me.Actor("ip", model.ViaConsole), u.ID, staff.AccountChange{Role: model.RoleAuditor}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.s.Authenticate(ctx, token); st.Role != model.RoleAuditor || st.UnionID != 0 {
		t.Errorf("after the role change the session is %+v, want an auditor without a union", st)
	}

	// Disabling ends the session at once; enabling lets the account in again.
	if err := f.s.SetDisabled(ctx, me.Actor("ip", model.ViaConsole), u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Authenticate(ctx, token); errs.KindOf(err) != errs.KindUnauthenticated {
		t.Errorf("session of a disabled account = %v, want Unauthenticated", err)
	}
	if _, err := f.s.Login(ctx, "new1", pw, "ip"); errs.KindOf(err) != errs.KindUnauthenticated {
		t.Errorf("login of a disabled account = %v", err)
	}
	if err := f.s.SetDisabled(ctx, me.Actor("ip", model.ViaConsole), u.ID, false); err != nil {
		t.Fatal(err)
	}
	_, token = f.login(t, "new1", pw)

	// A password reset ends every session of the account, and the old password stops working.
	wantCode(t, "short password", f.s.ResetPassword(ctx, me.Actor("ip", model.ViaConsole), u.ID, "short"), errs.KindInvalid, "staff.password_short")
	if err := f.s.ResetPassword(ctx, me.Actor("ip", model.ViaConsole), u.ID, "another long password"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Authenticate(ctx, token); errs.KindOf(err) != errs.KindUnauthenticated {
		t.Errorf("session after a password reset = %v, want Unauthenticated", err)
	}
	if _, err := f.s.Login(ctx, "new1", pw, "ip"); errs.KindOf(err) != errs.KindUnauthenticated {
		t.Errorf("old password after a reset = %v, want refused", err)
	}
	f.login(t, "new1", "another long password")

	// An admin keeps their own role and account; the last admin stays.
	wantCode(t, "demote self", f.s.ChangeAccount(ctx, me.Actor("ip", model.ViaConsole), a1.ID, staff.AccountChange{Role: model.RoleOperator}), errs.KindConflict, "staff.self")
	wantCode(t, "disable self", f.s.SetDisabled(ctx, me.Actor("ip", model.ViaConsole), a1.ID, true), errs.KindConflict, "staff.self")
	if st, err := f.s.Authenticate(ctx, myToken); err != nil || st.Role != model.RoleAdmin {
		t.Fatalf("own session after refused changes = %+v, %v", st, err)
	}
	a2 := f.mustCreate(t, staff.NewUser{Username: "a2", Role: model.RoleAdmin})
	two, _ := f.login(t, "a2", pw)
	if err := f.s.SetDisabled(ctx, me.Actor("ip", model.ViaConsole), a2.ID, true); err != nil {
		t.Fatal(err)
	}
	// a2 was disabled, so it no longer acts as an admin, even with a session opened before.
	wantCode(t, "a disabled admin acts", f.s.SetDisabled(ctx, two.Actor("ip", model.ViaConsole), a1.ID, true), errs.KindForbidden, "staff.forbidden")
	if err := f.s.SetDisabled(ctx, me.Actor("ip", model.ViaConsole), a2.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := f.s.ChangeAccount(ctx, two.Actor("ip", model.ViaConsole), a1.ID, staff.AccountChange{Role: model.RoleOperator}); err != nil {
		t.Fatalf("a2 demotes a1 = %v", err)
	}
	// a2 is now the last admin, and cannot demote or disable themselves; a1 is no admin any more.
	wantCode(t, "the last admin demotes themselves", f.s.ChangeAccount(ctx, two.Actor("ip", model.ViaConsole), a2.ID, staff.AccountChange{Role: model.RoleOperator}),
		errs.KindConflict, "staff.self")
	wantCode(t, "a demoted admin acts", f.s.ChangeAccount(ctx, me.Actor("ip", model.ViaConsole), a2.ID, staff.AccountChange{Role: model.RoleOperator}),
		errs.KindForbidden, "staff.forbidden")

	var n int64
	f.db.Model(&model.AuditLog{}).Where("action IN ? AND actor IN ?", []string{"staff.create", "staff.update", "staff.disable", "staff.enable", "staff.password_reset"},
		[]string{"a1", "a2"}).Count(&n)
	if n != 9 {
		t.Errorf("audit rows of the admins' changes = %d, want 9", n)
	}
	var rows2 []model.AuditLog
	f.db.Where("action = ?", "staff.password_reset").Find(&rows2)
	for _, r := range rows2 {
		if strings.Contains(r.Detail, "another long password") {
			t.Error("the audit log holds the new password")
		}
	}
}

// TestAdminsDemoteEachOther: two admins demote each other at the same moment; the changes are
// serialized and the second actor is no admin by then, so one admin always remains.
func TestAdminsDemoteEachOther(t *testing.T) {
	for round := range 5 {
		f := newFixture(t)
		ctx := context.Background()
		a := f.mustCreate(t, staff.NewUser{Username: "a", Role: model.RoleAdmin})
		b := f.mustCreate(t, staff.NewUser{Username: "b", Role: model.RoleAdmin})
		sa, _ := f.login(t, "a", pw)
		sb, _ := f.login(t, "b", pw)
		var wg sync.WaitGroup
		var errA, errB error
		wg.Go(func() {
			errA = f.s.ChangeAccount(ctx, sa.Actor("ip", model.ViaConsole), b.ID, staff.AccountChange{Role: model.RoleAuditor})
		})
		wg.Go(func() { errB = f.s.SetDisabled(ctx, sb.Actor("ip", model.ViaConsole), a.ID, true) })
		wg.Wait()
		var admins int64
		f.db.Model(&model.AdminUser{}).Where("role = ? AND disabled = ?", model.RoleAdmin, false).Count(&admins)
		if admins != 1 || (errA == nil) == (errB == nil) {
			t.Errorf("round %d: enabled admins = %d, errors %v / %v; want one admin left and one change refused", round, admins, errA, errB)
		}
	}
}
