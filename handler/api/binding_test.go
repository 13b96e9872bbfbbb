package api_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"huzhu/model"
)

// TestFourFactsAreNotEnough: with the default proof (the phone-number check) a stranger who
// knows the roster facts cannot bind the worker.
func TestFourFactsAreNotEnough(t *testing.T) {
	w := newWorld(t)
	a, _, _ := w.seed(t)
	tok := w.login(t, person{openID: "openid-stranger"})
	r := w.call(t, "POST", "/api/v1/binding", tok, a.bindBody())
	if r.status != 400 || r.str("field") != "phone_code" {
		t.Errorf("bind with the four roster facts = %d %s, want 400 on phone_code", r.status, r.body)
	}
	if r := w.call(t, "GET", "/api/v1/me", tok, ""); r.status != 403 {
		t.Errorf("GET /me after = %d %s, want 403 member.not_bound", r.status, r.body)
	}
}

// TestBindWithPhoneButton: the session says which proof to use; the phone-number code alone
// (no typed phone) binds when WeChat's verified number is the roster phone.
func TestBindWithPhoneButton(t *testing.T) {
	w := newWorld(t)
	a, _, _ := w.seed(t)
	code := "login-a"
	w.fake.Code2SessionFor(code, a.openID, a.unionID)
	s := w.call(t, "POST", "/api/v1/session", "", `{"code":"`+code+`"}`)
	if s.str("binding_proof") != "wechat_phone" || s.m["notice"] != nil {
		t.Fatalf("session = %s, want binding_proof wechat_phone and no notice", s.body)
	}
	body, _ := json.Marshal(map[string]string{"name": a.Name, "id_number": a.IDNumber, "jing_card": a.Jing, "phone_code": w.phoneCode(a.Phone)})
	r := w.call(t, "POST", "/api/v1/binding", s.str("token"), string(body))
	if r.status != 201 || r.str("phone") != "尾号1234" {
		t.Fatalf("bind with the phone code = %d %s", r.status, r.body)
	}
	reqs := w.fake.Requests("/wxa/business/getuserphonenumber")
	if len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), `"code"`) {
		t.Errorf("getuserphonenumber requests = %+v", reqs)
	}
}

// TestPhoneMismatchSendsToUnion: a verified phone that is not the roster phone is refused with
// the union hint, and the worker can get a desk code for the union.
func TestPhoneMismatchSendsToUnion(t *testing.T) {
	w := newWorld(t)
	a, _, _ := w.seed(t)
	tok := w.login(t, a)
	moved := a
	moved.Phone = "13666666666"
	body, _ := json.Marshal(map[string]string{"name": a.Name, "id_number": a.IDNumber, "jing_card": a.Jing, "phone_code": w.phoneCode(moved.Phone)})
	r := w.call(t, "POST", "/api/v1/binding", tok, string(body))
	if r.status != 403 || r.str("code") != "binding.phone_mismatch" || !strings.Contains(r.str("fix"), "工会") {
		t.Fatalf("bind with another phone = %d %s, want 403 binding.phone_mismatch with the union hint", r.status, r.body)
	}
	d := w.call(t, "POST", "/api/v1/binding/desk-code", tok, "")
	if d.status != 200 || !regexp.MustCompile(`^\d{8}$`).MatchString(d.str("code")) || d.m["expires_in"] != 1800.0 {
		t.Errorf("desk code = %d %s", d.status, d.body)
	}
}

// TestTakeBackThroughAPI: the member bound elsewhere is taken back with the phone proof; the old
// account is unbound at once and told at its next login; the change is audited.
func TestTakeBackThroughAPI(t *testing.T) {
	w := newWorld(t)
	a, _, _ := w.seed(t)
	thief := person{openID: "openid-thief"}
	thiefTok := w.login(t, thief)
	var acct model.WeChatAccount
	must(t, w.db.Where("mp_open_id = ?", thief.openID).Take(&acct).Error)
	must(t, w.db.Model(&acct).Update("member_id", a.ID).Error) // bound with the roster facts, before proofs
	tok := w.login(t, a)
	if r := w.call(t, "POST", "/api/v1/binding", tok, w.bindBody(t, a)); r.status != 409 || r.str("code") != "binding.member_taken" || !strings.Contains(r.str("fix"), "收回") {
		t.Fatalf("bind while taken = %d %s, want 409 binding.member_taken pointing to take-back", r.status, r.body)
	}
	var m map[string]any
	must(t, json.Unmarshal([]byte(w.bindBody(t, a)), &m))
	m["take_back"] = true
	body, _ := json.Marshal(m)
	if r := w.call(t, "POST", "/api/v1/binding", tok, string(body)); r.status != 201 {
		t.Fatalf("take back = %d %s", r.status, r.body)
	}
	if r := w.call(t, "GET", "/api/v1/me", thiefTok, ""); r.status != 403 || r.str("code") != "member.not_bound" {
		t.Errorf("old account's /me = %d %s, want 403 member.not_bound", r.status, r.body)
	}
	code := "login-thief-again"
	w.fake.Code2SessionFor(code, thief.openID, "")
	s := w.call(t, "POST", "/api/v1/session", "", `{"code":"`+code+`"}`)
	if s.m["bound"] != false || !strings.Contains(s.str("notice"), "收回了绑定") {
		t.Errorf("old account's next login = %s, want unbound with the notice", s.body)
	}
	var n int64
	w.db.Model(&model.AuditLog{}).Where("action = ? AND outcome = ?", "binding.take_back", "ok").Count(&n)
	if n != 1 {
		t.Errorf("take_back audit rows = %d, want 1", n)
	}
}

// TestStrangerCannotLockWorkerOut: a stranger's failures with the worker's ID number, from two
// WeChat accounts, lock the stranger (with the wait in minutes) but not the worker's own
// account, which still gets the SMS code and binds.
func TestStrangerCannotLockWorkerOut(t *testing.T) {
	w := newWorld(t)
	a, _, _ := w.seed(t)
	wrong := a
	wrong.Jing = "6217990000009999"
	var last resp
	for i := range 12 {
		tok := w.login(t, person{openID: []string{"openid-s1", "openid-s2"}[i%2]})
		last = w.call(t, "POST", "/api/v1/binding", tok, wrong.bindBody())
	}
	if last.status != 429 || last.str("code") != "binding.locked" || !strings.Contains(last.str("message"), "小时") {
		t.Errorf("stranger's 12th attempt = %d %s, want 429 binding.locked saying how long to wait", last.status, last.body)
	}
	tok := w.login(t, a)
	if r := w.call(t, "POST", "/api/v1/binding/sms-code", tok, a.bindBody()); r.status != 200 {
		t.Fatalf("the worker's SMS code after a stranger's failures = %d %s, want 200", r.status, r.body)
	}
	_, text, _ := strings.Cut(w.sms.last(), "|")
	var m map[string]any
	must(t, json.Unmarshal([]byte(a.bindBody()), &m))
	m["sms_code"] = text[strings.Index(text, "验证码")+len("验证码"):][:6]
	body, _ := json.Marshal(m)
	if r := w.call(t, "POST", "/api/v1/binding", tok, string(body)); r.status != 201 {
		t.Errorf("the worker's bind = %d %s, want 201", r.status, r.body)
	}
}
