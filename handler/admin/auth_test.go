package admin_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"huzhu/model"
	"huzhu/service/staff"
)

// TestLoginAnswersAlike: an unknown name, a wrong password and a disabled account get the same
// status and the same page, byte for byte, and so do their throttled retries: the login page
// tells nobody which accounts exist.
func TestLoginAnswersAlike(t *testing.T) {
	w := newWorldWith(t, func(o *staff.Options) { o.LoginsPerIP = 100 })
	w.db.Model(&model.AdminUser{}).Where("username = ?", "aud").Update("disabled", true)
	c := w.anon()
	c.get("/admin/login")
	type answer struct {
		status     int
		retryAfter string
		body       string
	}
	try := func(name string) answer {
		res, body := c.post("/admin/login", url.Values{"username": {name}, "password": {"not the password at all"}})
		return answer{res.StatusCode, res.Header.Get("Retry-After"), body}
	}
	for round := range 7 {
		known, unknown, disabled := try("op1"), try("nobody-here"), try("aud")
		if known.status == http.StatusOK || known.status == http.StatusSeeOther {
			t.Fatalf("round %d: a wrong password = %d", round, known.status)
		}
		if known != unknown || known != disabled {
			t.Errorf("round %d: known %d %q, unknown %d %q, disabled %d %q; want byte-identical answers\nknown: %.600s\nunknown: %.600s",
				round, known.status, known.retryAfter, unknown.status, unknown.retryAfter, disabled.status, disabled.retryAfter, known.body, unknown.body)
		}
		if want := map[bool]int{true: http.StatusTooManyRequests, false: http.StatusUnauthorized}[round == 6]; known.status != want {
			t.Errorf("round %d: status %d, want %d", round, known.status, want)
		}
	}
}

var secretRe = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)

// TestTOTPLogin: where the second factor is required, an operator's first login leads to the
// enrolment page (a QR code and the secret), every other page leads back there until it is
// done, the recovery codes show once, and from then on the password alone opens nothing: the
// console asks for the code, then lets the person in.
func TestTOTPLogin(t *testing.T) {
	w := newWorldWith(t, func(o *staff.Options) { o.RequireTOTP = true })
	op := loginAs(t, w, "op1", password)
	res, body := op.get("/admin/runs")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/account/totp" {
		t.Fatalf("an operator without a second factor opens runs = %d to %q, want the enrolment page", res.StatusCode, res.Header.Get("Location"))
	}
	res, body = op.get("/admin/account/totp")
	m := secretRe.FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil || !strings.Contains(body, `id="totp-qr" src="data:image/png;base64,`) {
		t.Fatalf("enrolment page = %d without QR or secret: %.1500s", res.StatusCode, body)
	}
	if res, _ := op.post("/admin/account/totp", url.Values{"code": {"000000"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("a wrong enrolment code = %d, want 400", res.StatusCode)
	}
	// The page shows the same secret again (a reload, a mistyped code): no need to scan again.
	_, body = op.get("/admin/account/totp")
	secret := secretRe.FindStringSubmatch(body)[1]
	if secret != m[1] {
		t.Errorf("the enrolment page shows a new secret after a mistake: %s, then %s", m[1], secret)
	}
	code, _ := totp.GenerateCode(secret, w.now)
	res, body = op.post("/admin/account/totp", url.Values{"code": {code}})
	if res.StatusCode != http.StatusOK || strings.Count(body, "<li><code>") != 10 {
		t.Fatalf("enrolment = %d, want the ten recovery codes: %.1500s", res.StatusCode, body)
	}
	if res, _ := op.get("/admin/runs"); res.StatusCode != http.StatusOK {
		t.Errorf("runs after enrolment = %d, want 200 (the new session)", res.StatusCode)
	}
	if res, _ := w.login("aud").get("/admin/runs"); res.StatusCode != http.StatusOK {
		t.Errorf("an auditor, who needs no second factor, opens runs = %d", res.StatusCode)
	}

	// From now on the password alone is not enough.
	c := w.anon()
	c.get("/admin/login")
	res, body = c.post("/admin/login", url.Values{"username": {"op1"}, "password": {password}, "next": {"/admin/runs"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="code-form"`) || c.cookies["huzhu_admin"] != "" {
		t.Fatalf("login with a second factor = %d, want the code page and no session: %.800s", res.StatusCode, body)
	}
	if res, _ := c.get("/admin/runs"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("runs between password and code = %d, want a redirect to the login", res.StatusCode)
	}
	if res, body := c.post("/admin/login/code", url.Values{"code": {"000000"}, "next": {"/admin/runs"}}); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "验证码不对") {
		t.Errorf("a wrong code = %d, want 401 on the code page", res.StatusCode)
	}
	next, _ := totp.GenerateCode(secret, w.now.Add(30*time.Second))
	res, _ = c.post("/admin/login/code", url.Values{"code": {next}, "next": {"/admin/runs"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/runs" || c.cookies["huzhu_admin"] == "" {
		t.Fatalf("the right code = %d to %q, want 303 to /admin/runs with a session", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := c.get("/admin/runs"); res.StatusCode != http.StatusOK {
		t.Errorf("runs after the code = %d", res.StatusCode)
	}
	// The enrolment ended the session it was made in; the old session cookie opens nothing.
	var n int64
	w.db.Model(&model.AuditLog{}).Where("action = ? AND actor = ?", "staff.totp_enrol", "op1").Count(&n)
	if n != 1 {
		t.Errorf("staff.totp_enrol audit rows = %d, want 1", n)
	}
}
