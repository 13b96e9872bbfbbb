package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/handler/admin"
	"huzhu/model"
	"huzhu/service/kv/kvtest"
	"huzhu/service/member"
	"huzhu/service/pii"
	"huzhu/service/session"
)

// bindWorld is a console with the mini-program's member service, for "为职工绑定".
func bindWorld(t *testing.T) (*world, *member.Service) {
	t.Helper()
	var members *member.Service
	// newWorld opens the database after its options run: the member service gets a *gorm.DB
	// now and the world's database is copied into it below, before any request.
	db := new(gorm.DB)
	w := newWorld(t, func(d *admin.Deps) {
		cipher, err := pii.New(bytes.Repeat([]byte("k"), pii.MinKeyLen))
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := session.New([]byte("admin-test-session-secret-0123456789"), session.Options{}, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		members = member.New(db, cipher, sessions, nil, kvtest.New(t), nil, member.Options{}, d.Now, nil)
		d.Members = members
	})
	*db = *w.db
	return w, members
}

// account creates a mini-program account (as a login would) and returns its id.
func (w *world) account(openID string) uint64 {
	w.t.Helper()
	a := model.WeChatAccount{MPOpenID: &openID}
	if err := w.db.Create(&a).Error; err != nil {
		w.t.Fatal(err)
	}
	return a.ID
}

func (w *world) boundTo(accountID uint64) uint64 {
	w.t.Helper()
	var a model.WeChatAccount
	if err := w.db.Take(&a, accountID).Error; err != nil {
		w.t.Fatal(err)
	}
	if a.MemberID == nil {
		return 0
	}
	return *a.MemberID
}

// TestStaffBindPage: union staff bind their member to the account whose desk code the worker
// shows, with a reason; mistakes come back on the form; another union's member is not found;
// the auditor cannot; the binding is audited with the operator's role and IP.
func TestStaffBindPage(t *testing.T) {
	w, members := bindWorld(t)
	ctx := context.Background()
	zhang := w.memberID("张一")
	li := w.memberID("李二")
	acct := w.account("openid-zhang-new")
	dc, err := members.IssueDeskCode(ctx, member.Principal{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	u1 := w.login("u1")
	if res, page := u1.get(fmt.Sprintf("/admin/members/%d", zhang)); res.StatusCode != 200 || !strings.Contains(page, `id="staff-bind-link"`) {
		t.Fatalf("member page = %d, want the link to 为职工绑定", res.StatusCode)
	}
	res, page := u1.get(fmt.Sprintf("/admin/members/%d/bind", zhang))
	if res.StatusCode != 200 || !strings.Contains(page, `id="staff-bind"`) || !strings.Contains(page, `id="lift-lock"`) {
		t.Fatalf("bind page = %d: %.300s", res.StatusCode, page)
	}
	if res, _ := u1.get(fmt.Sprintf("/admin/members/%d/bind", li)); res.StatusCode != http.StatusNotFound {
		t.Errorf("another union's member = %d, want 404", res.StatusCode)
	}
	path := fmt.Sprintf("/admin/members/%d/bind", zhang)
	res, page = u1.post(path, url.Values{"code": {dc.Code}, "reason": {""}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, `id="form-error"`) || !strings.Contains(page, "请写明办理原因") || !strings.Contains(page, dc.Code) {
		t.Errorf("no reason = %d, want the form again with the error and the code kept: %.500s", res.StatusCode, page)
	}
	res, page = u1.post(path, url.Values{"code": {"00000000"}, "reason": {"本人持身份证到工会办理"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "绑定码不存在或已过期") {
		t.Errorf("unknown code = %d, want 400 on the form", res.StatusCode)
	}
	if res, _ := w.login("aud").post(path, url.Values{"code": {dc.Code}, "reason": {"本人持身份证到工会办理"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("auditor = %d, want 403", res.StatusCode)
	}
	res, _ = u1.post(path, url.Values{"code": {dc.Code}, "reason": {"本人持身份证到工会办理，登记手机号已停用"}})
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), fmt.Sprintf("/admin/members/%d?flash=", zhang)) {
		t.Fatalf("bind = %d to %q, want 303 to the member page", res.StatusCode, res.Header.Get("Location"))
	}
	if got := w.boundTo(acct); got != zhang {
		t.Errorf("account bound to %d, want %d", got, zhang)
	}
	var row model.AuditLog
	if err := w.db.Where("action = ?", "binding.staff_bind").Take(&row).Error; err != nil {
		t.Fatalf("audit row: %v", err)
	}
	if row.Actor != "u1" || row.Role != "union" || row.IP == "" || !strings.Contains(row.Detail, "登记手机号已停用") || row.Target != fmt.Sprintf("member:%d", zhang) {
		t.Errorf("audit = %+v", row)
	}
}

// TestLiftLockPage: staff lift a worker's lock-out from the page; the worker's account binds
// again; the lift is audited.
func TestLiftLockPage(t *testing.T) {
	w, members := bindWorld(t)
	ctx := context.Background()
	zhang := w.memberID("张一")
	acct := w.account("openid-zhang")
	// Five wrong attempts lock the account for this ID number.
	bad := member.BindRequest{Name: "张一", IDNumber: "110199199001010010", JingCard: "6217990000009999", Phone: "13800001234"}
	for range 5 {
		_, _ = members.Bind(ctx, member.Principal{AccountID: acct}, bad, "10.0.0.1")
	}
	if _, err := members.Bind(ctx, member.Principal{AccountID: acct}, bad, "10.0.0.1"); err == nil || !strings.Contains(err.Error(), "binding.locked") {
		t.Fatalf("6th attempt = %v, want binding.locked", err)
	}
	op := w.login("op1")
	path := fmt.Sprintf("/admin/members/%d/unlock", zhang)
	res, page := op.post(path, url.Values{"account_id": {"abc"}, "reason": {"职工来电核对身份"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, `id="unlock-error"`) {
		t.Errorf("bad account id = %d, want the form with the error", res.StatusCode)
	}
	res, _ = op.post(path, url.Values{"account_id": {fmt.Sprint(acct)}, "ip": {"10.0.0.1"}, "reason": {"职工来电核对身份"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlock = %d, want 303", res.StatusCode)
	}
	if _, err := members.Bind(ctx, member.Principal{AccountID: acct}, bad, "10.0.0.1"); err == nil || strings.Contains(err.Error(), "binding.locked") {
		t.Errorf("after the lift = %v, want an answer on the facts, not binding.locked", err)
	}
	var n int64
	w.db.Model(&model.AuditLog{}).Where("action = ? AND actor = ? AND role = ?", "binding.unlock", "op1", "operator").Count(&n)
	if n != 1 {
		t.Errorf("unlock audit rows = %d, want 1", n)
	}
}
