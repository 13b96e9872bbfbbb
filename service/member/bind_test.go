package member_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/member"
)

// phoneCode registers a fresh phone-number button code for phone with the fake WeChat.
func (f *fixture) phoneCode(phone string) string {
	code := fmt.Sprintf("pc-%d", time.Now().UnixNano())
	f.fake.PhoneNumberFor(code, phone)
	return code
}

func (f *fixture) boundTo(t *testing.T, accountID uint64) uint64 {
	t.Helper()
	var a model.WeChatAccount
	mustDo(t, f.db.Take(&a, accountID).Error)
	if a.MemberID == nil {
		return 0
	}
	return *a.MemberID
}

func (f *fixture) audits(t *testing.T, action string) []model.AuditLog {
	t.Helper()
	var rows []model.AuditLog
	mustDo(t, f.db.Where("action = ?", action).Order("id").Find(&rows).Error)
	return rows
}

// TestBindNeedsProof: the four roster facts alone bind nobody unless the mode is none; the
// answer names the proof the mode asks for.
func TestBindNeedsProof(t *testing.T) {
	tests := []struct {
		proof member.Proof
		field string
	}{
		{"", "phone_code"}, // the default is the phone-number check
		{member.ProofWeChatPhone, "phone_code"},
		{member.ProofSMS, "sms_code"},
	}
	for _, tc := range tests {
		t.Run(string(tc.proof), func(t *testing.T) {
			f := newFixture(t, member.Options{Proof: tc.proof})
			_, p := f.login(t, "thief", "")
			_, err := f.svc.Bind(context.Background(), p, f.req, "10.0.0.1")
			if e, ok := errs.As(err); !ok || e.Kind != errs.KindInvalid || e.Field != tc.field {
				t.Errorf("Bind(four facts) = %v, want Invalid on %s", err, tc.field)
			}
			if got := f.boundTo(t, p.AccountID); got != 0 {
				t.Errorf("account bound to %d after a bind without proof", got)
			}
		})
	}
}

// TestBindWithWeChatPhone: the phone WeChat verified proves the roster phone; the typed phone
// may be left out; nothing in the audit row holds the number.
func TestBindWithWeChatPhone(t *testing.T) {
	f := newFixture(t, member.Options{})
	ctx := context.Background()
	_, p := f.login(t, "owner", "")
	r := f.req
	r.Phone, r.PhoneCode = "", f.phoneCode(f.req.Phone)
	pr, err := f.svc.Bind(ctx, p, r, "10.0.0.1")
	if err != nil || pr.MemberID != f.m.ID {
		t.Fatalf("Bind with the phone code = %+v, %v", pr, err)
	}
	rows := f.audits(t, "binding.attempt")
	if len(rows) != 1 || rows[0].Outcome != "ok" || !strings.Contains(rows[0].Detail, `"proof":"wechat_phone"`) || strings.Contains(rows[0].Detail, f.req.Phone) {
		t.Errorf("audit = %+v, want one ok row naming the proof, without the number", rows)
	}
	if n := f.fake.Count("/wxa/business/getuserphonenumber"); n != 1 {
		t.Errorf("getuserphonenumber calls = %d, want 1", n)
	}
	// A used code is refused as such.
	_, p2 := f.login(t, "other", "")
	r.PhoneCode = "pc-used"
	f.fake.PhoneNumberFor("pc-used", f.req.Phone)
	if _, err := f.svc.Bind(ctx, p2, r, "10.0.0.2"); err == nil {
		t.Fatal("second bind of the member without take-back succeeded")
	}
	if _, err := f.svc.Bind(ctx, p2, r, "10.0.0.2"); errs.KindOf(err) != errs.KindInvalid || !strings.Contains(err.Error(), "phone_code_invalid") {
		t.Errorf("reused phone code = %v, want binding.phone_code_invalid", err)
	}
}

// TestBindPhoneMismatch: a verified phone that is not the roster phone, or a roster without a
// phone, is refused with a stable code telling the worker to see their union.
func TestBindPhoneMismatch(t *testing.T) {
	f := newFixture(t, member.Options{})
	ctx := context.Background()
	_, p := f.login(t, "newphone", "")
	r := f.req
	r.Phone, r.PhoneCode = "", f.phoneCode("13912345678")
	_, err := f.svc.Bind(ctx, p, r, "10.0.0.1")
	e, ok := errs.As(err)
	if !ok || e.Code != "binding.phone_mismatch" || e.Kind != errs.KindForbidden || !strings.Contains(e.Fix, "工会") {
		t.Errorf("Bind with another phone = %v, want Forbidden binding.phone_mismatch sending the worker to the union", err)
	}
	if got := f.boundTo(t, p.AccountID); got != 0 {
		t.Errorf("bound to %d after a mismatch", got)
	}
	rows := f.audits(t, "binding.attempt")
	if len(rows) != 1 || rows[0].Outcome != "failed" || strings.Contains(rows[0].Detail, "13912345678") {
		t.Errorf("audit = %+v, want one failed row without the number", rows)
	}
	// The roster has no phone.
	mustDo(t, f.db.Model(&f.m).Updates(map[string]any{"phone_enc": nil, "phone_hash": "", "phone_last4": ""}).Error)
	r.PhoneCode = f.phoneCode(f.req.Phone)
	_, err = f.svc.Bind(ctx, p, r, "10.0.0.1")
	if e, ok := errs.As(err); !ok || e.Code != "binding.no_roster_phone" || !strings.Contains(e.Fix, "工会") {
		t.Errorf("Bind with no roster phone = %v, want binding.no_roster_phone", err)
	}
	// Neither answer counts towards the lock-out: the worker can still try the SMS fallback or
	// come back after the union updated the roster.
	for range 6 {
		r.PhoneCode = f.phoneCode("13912345678")
		_, _ = f.svc.Bind(ctx, p, r, "10.0.0.1")
	}
	if _, err := f.svc.Bind(ctx, p, r, "10.0.0.1"); errs.KindOf(err) == errs.KindTooMany {
		t.Errorf("after phone mismatches = %v, want no lock-out", err)
	}
}

// TestTakeBack: a worker who proves the roster phone takes the member back from another
// account, which is unbound, told at its next login, and the change is audited.
func TestTakeBack(t *testing.T) {
	f := newFixture(t, member.Options{BindingCacheTTL: time.Hour})
	ctx := context.Background()
	// Someone bound the member with the roster facts before proofs were required.
	_, thief := f.login(t, "thief", "")
	mustDo(t, f.db.Model(&model.WeChatAccount{}).Where("id = ?", thief.AccountID).Updates(map[string]any{"member_id": f.m.ID, "bound_at": now}).Error)
	thiefLogin, thief := f.login(t, "thief", "")
	if thief.MemberID != f.m.ID || thiefLogin.Notice != "" {
		t.Fatalf("thief = %+v %+v", thief, thiefLogin)
	}
	_, owner := f.login(t, "owner", "")
	r := f.req
	r.PhoneCode = f.phoneCode(f.req.Phone)
	if _, err := f.svc.Bind(ctx, owner, r, "10.0.0.1"); errs.KindOf(err) != errs.KindConflict || !strings.Contains(err.Error(), "member_taken") {
		t.Fatalf("Bind without TakeBack = %v, want binding.member_taken", err)
	}
	r.PhoneCode, r.TakeBack = f.phoneCode(f.req.Phone), true
	if _, err := f.svc.Bind(ctx, owner, r, "10.0.0.1"); err != nil {
		t.Fatalf("take back = %v", err)
	}
	if got := f.boundTo(t, owner.AccountID); got != f.m.ID {
		t.Errorf("owner bound to %d, want %d", got, f.m.ID)
	}
	if got := f.boundTo(t, thief.AccountID); got != 0 {
		t.Errorf("old account still bound to %d", got)
	}
	// The old account's cached binding ended at once, and its next login tells it.
	l, p := f.login(t, "thief", "")
	if p.MemberID != 0 || !strings.Contains(l.Notice, "收回了绑定") {
		t.Errorf("old account's next login = %+v %+v, want unbound with the notice", p, l)
	}
	if l, _ := f.login(t, "thief", ""); l.Notice != "" {
		t.Errorf("notice shown twice: %q", l.Notice)
	}
	rows := f.audits(t, "binding.take_back")
	if len(rows) != 1 || rows[0].Actor != fmt.Sprintf("wx:%d", owner.AccountID) || rows[0].Target != fmt.Sprintf("member:%d", f.m.ID) || rows[0].UnionID != f.m.UnionID {
		t.Fatalf("take_back audit = %+v", rows)
	}
	var d map[string]any
	mustDo(t, json.Unmarshal([]byte(rows[0].Detail), &d))
	if d["from_account"] != float64(thief.AccountID) || d["proof"] != "wechat_phone" {
		t.Errorf("take_back detail = %v", d)
	}
}

// TestTakeBackBySMS: the SMS code is a proof too; without any proof take-back is refused.
func TestTakeBackBySMS(t *testing.T) {
	f := newFixture(t, member.Options{Proof: member.ProofNone})
	ctx := context.Background()
	_, first := f.login(t, "first", "")
	if _, err := f.svc.Bind(ctx, first, f.req, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	_, second := f.login(t, "second", "")
	r := f.req
	r.TakeBack = true
	if _, err := f.svc.Bind(ctx, second, r, "10.0.0.2"); errs.KindOf(err) != errs.KindConflict || !strings.Contains(err.Error(), "take_back_needs_proof") {
		t.Fatalf("take back without proof = %v, want binding.take_back_needs_proof", err)
	}
	if _, err := f.svc.SendBindCode(ctx, second, r, "10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	r.SMSCode = f.sms.code(t)
	if _, err := f.svc.Bind(ctx, second, r, "10.0.0.2"); err != nil {
		t.Fatalf("take back with the SMS code = %v", err)
	}
	if f.boundTo(t, first.AccountID) != 0 || f.boundTo(t, second.AccountID) != f.m.ID {
		t.Error("the member did not move to the second account")
	}
}

// TestStaffBind: staff bind a member to the account whose desk code the worker shows, within
// their union, with a reason, audited; a member bound elsewhere moves and the old account is
// told.
func TestStaffBind(t *testing.T) {
	f := newFixture(t, member.Options{})
	ctx := context.Background()
	_, old := f.login(t, "lost-phone", "")
	mustDo(t, f.db.Model(&model.WeChatAccount{}).Where("id = ?", old.AccountID).Update("member_id", f.m.ID).Error)
	_, p := f.login(t, "new-phone", "")
	dc, err := f.svc.IssueDeskCode(ctx, p)
	if err != nil || len(dc.Code) != 8 || dc.ExpiresIn != 30*time.Minute {
		t.Fatalf("IssueDeskCode = %+v, %v", dc, err)
	}
	own := model.Actor{Username: "u1-staff", Role: model.RoleUnion, UnionID: f.m.UnionID, IP: "192.0.2.1"}
	req := member.StaffBindRequest{MemberID: f.m.ID, Code: dc.Code[:4] + " " + dc.Code[4:], Reason: "本人持身份证到工会办理，原手机丢失"}
	tests := []struct {
		name string
		op   model.Actor
		edit func(*member.StaffBindRequest)
		kind errs.Kind
		code string
	}{
		{"auditor", model.Actor{Username: "aud", Role: model.RoleAuditor}, nil, errs.KindForbidden, "staff.forbidden"},
		{"another union", model.Actor{Username: "u2", Role: model.RoleUnion, UnionID: f.m.UnionID + 1}, nil, errs.KindNotFound, "member.not_found"},
		{"no reason", own, func(r *member.StaffBindRequest) { r.Reason = " " }, errs.KindInvalid, "invalid.reason"},
		{"a phone number in the reason", own, func(r *member.StaffBindRequest) { r.Reason = "新手机号13912345678" }, errs.KindInvalid, "invalid.reason"},
		{"short code", own, func(r *member.StaffBindRequest) { r.Code = "1234" }, errs.KindInvalid, "invalid.code"},
		{"unknown code", own, func(r *member.StaffBindRequest) { r.Code = wrongCode(dc.Code) }, errs.KindInvalid, "binding.desk_code_invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := req
			if tc.edit != nil {
				tc.edit(&r)
			}
			_, err := f.svc.StaffBind(ctx, tc.op, r)
			if e, ok := errs.As(err); !ok || e.Kind != tc.kind || e.Code != tc.code {
				t.Errorf("StaffBind = %v, want %v %s", err, tc.kind, tc.code)
			}
		})
	}
	out, err := f.svc.StaffBind(ctx, own, req)
	if err != nil || out.AccountID != p.AccountID || out.TookFrom != old.AccountID {
		t.Fatalf("StaffBind = %+v, %v", out, err)
	}
	if f.boundTo(t, p.AccountID) != f.m.ID || f.boundTo(t, old.AccountID) != 0 {
		t.Error("the member did not move to the worker's new account")
	}
	if l, _ := f.login(t, "lost-phone", ""); !strings.Contains(l.Notice, "工会工作人员") {
		t.Errorf("old account's notice = %q", l.Notice)
	}
	rows := f.audits(t, "binding.staff_bind")
	if len(rows) != 1 || rows[0].Actor != "u1-staff" || rows[0].Role != "union" || rows[0].IP != "192.0.2.1" || !strings.Contains(rows[0].Detail, "原手机丢失") {
		t.Errorf("audit = %+v", rows)
	}
	if _, err := f.svc.StaffBind(ctx, own, req); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("the code used twice = %v, want Invalid", err)
	}
}

func wrongCode(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// TestLiftLock: a worker locked out of their own account binds again once staff lift the lock;
// the lift is audited and scoped like StaffBind.
func TestLiftLock(t *testing.T) {
	f := newFixture(t, member.Options{Proof: member.ProofNone, AccountFailures: 2})
	ctx := context.Background()
	_, p := f.login(t, "clumsy", "")
	wrong := f.req
	wrong.Phone = "13800009999"
	for range 2 {
		_, _ = f.svc.Bind(ctx, p, wrong, "10.0.0.1")
	}
	if _, err := f.svc.Bind(ctx, p, f.req, "10.0.0.1"); errs.KindOf(err) != errs.KindTooMany {
		t.Fatalf("locked account = %v, want TooMany", err)
	}
	lift := member.LockLift{MemberID: f.m.ID, AccountID: p.AccountID, IP: "10.0.0.1", Reason: "职工来电，核对身份后解除"}
	if err := f.svc.LiftLock(ctx, model.Actor{Username: "aud", Role: model.RoleAuditor}, lift); errs.KindOf(err) != errs.KindForbidden {
		t.Errorf("auditor lifts = %v, want Forbidden", err)
	}
	bad := lift
	bad.IP = "not-an-ip"
	op := model.Actor{Username: "op1", Role: model.RoleOperator, IP: "192.0.2.9"}
	if err := f.svc.LiftLock(ctx, op, bad); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("bad IP = %v, want Invalid", err)
	}
	if err := f.svc.LiftLock(ctx, op, lift); err != nil {
		t.Fatalf("LiftLock = %v", err)
	}
	if _, err := f.svc.Bind(ctx, p, f.req, "10.0.0.1"); err != nil {
		t.Errorf("bind after the lift = %v", err)
	}
	if rows := f.audits(t, "binding.unlock"); len(rows) != 1 || rows[0].Actor != "op1" || rows[0].Role != "operator" {
		t.Errorf("unlock audit = %+v", rows)
	}
}
