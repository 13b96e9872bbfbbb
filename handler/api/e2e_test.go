package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/member"
)

// TestMiniProgramJourney drives the API as the mini-program does: wx.login → session, bind,
// profile, eligibility, estimates, payouts with detail, preferences, refresh, unbind. Every
// answer is checked against openapi.json by call.
func TestMiniProgramJourney(t *testing.T) {
	w := newWorld(t)
	a, _, _ := w.seed(t)

	if r := w.call(t, "GET", "/api/v1/stats", "", ""); r.status != 200 || r.m["helped"] != 1.0 {
		t.Errorf("stats = %d %s, want one member helped", r.status, r.body)
	}
	if r := w.call(t, "GET", "/api/openapi.json", "", ""); r.status != 200 || r.str("openapi") == "" {
		t.Errorf("openapi.json = %d", r.status)
	}
	tok := w.login(t, a)
	for _, path := range []string{"/api/v1/me", "/api/v1/me/eligibility", "/api/v1/payouts", "/api/v1/estimates/unsettled"} {
		if r := w.call(t, "GET", path, tok, ""); r.status != 403 || r.str("code") != "member.not_bound" {
			t.Errorf("GET %s before binding = %d %s, want 403 member.not_bound", path, r.status, r.body)
		}
	}

	r := w.call(t, "POST", "/api/v1/binding", tok, w.bindBody(t, a))
	if r.status != 201 {
		t.Fatalf("bind = %d %s", r.status, r.body)
	}
	for _, secret := range []string{a.IDNumber, a.Jing, a.Phone, a.Social, a.IDNumber[:14]} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("bind answer shows a personal number in clear: %s", r.body)
		}
	}
	if r.str("id_number") != "尾号"+a.IDNumber[14:] || r.str("jing_card") != "尾号1234" || r.str("phone") != "尾号1234" {
		t.Errorf("profile masks = %s", r.body)
	}
	if st, _ := r.m["statuses"].([]any); len(st) != 1 || st[0].(map[string]any)["kind"] != "hardship" {
		t.Errorf("statuses = %v, want hardship", r.m["statuses"])
	}
	if r := w.call(t, "POST", "/api/v1/binding", tok, w.bindBody(t, a)); r.status != 409 || r.str("code") != "binding.already_bound" {
		t.Errorf("second bind = %d %s, want 409 binding.already_bound", r.status, r.body)
	}

	// A new login of the same WeChat user is recognised as bound.
	tok = w.login(t, a)
	if r := w.call(t, "GET", "/api/v1/me", tok, ""); r.status != 200 || r.str("name") != a.Name {
		t.Fatalf("me = %d %s", r.status, r.body)
	}
	if r := w.call(t, "GET", "/api/v1/me/eligibility", tok, ""); r.status != 200 || r.str("status") != "eligible" || r.str("pay_to") != "jingka" {
		t.Errorf("eligibility = %d %s", r.status, r.body)
	}

	cal := calendar.New(model.Shanghai)
	t.Run("estimate receipts", func(t *testing.T) {
		r := w.call(t, "POST", "/api/v1/estimates", tok, `{"bills":[{"claim_type":"门诊","date":"2025-06-01","self_pay1_yuan":"100.00"},
			{"claim_type":"special_inpatient","date":"2025-03-05","self_pay1_fen":0,"above_cap_fen":1000000,"major_disease":false}]}`)
		if r.status != 200 {
			t.Fatalf("estimate = %d %s", r.status, r.body)
		}
		if got := r.m["total_fen"]; got != 5500.0 {
			t.Errorf("total_fen = %v, want 5500 (100 yuan × 55%% with the hardship bonus)", got)
		}
		lines := r.m["lines"].([]any)
		if len(lines) != 2 {
			t.Fatalf("lines = %v", lines)
		}
		first, second := lines[0].(map[string]any), lines[1].(map[string]any)
		if first["index"] != 1.0 || first["amount_fen"] != 0.0 || !hasStep(first, "above_cap_not_covered") {
			t.Errorf("line for the non-major above-cap bill = %v", first)
		}
		want := string(model.DateOf(cal.Settlement(cal.PeriodOfDate(model.ClassOutpatient, "2025-06-01")).ArriveBy))
		if second["index"] != 0.0 || second["amount_fen"] != 5500.0 || second["expected_by"] != want || !hasStep(second, "bonus") {
			t.Errorf("outpatient line = %v, want 5500 fen by %s with a bonus step", second, want)
		}
		years := r.m["years"].([]any)
		y := years[len(years)-1].(map[string]any)
		if y["year"] != 2025.0 || y["paid_fen"] != 330000.0 || y["arrived_fen"] != 55000.0 || y["left_fen"] != float64(20065300-330000-5500) {
			t.Errorf("2025 year-to-date = %v, want paid 330000 (earlier runs), arrived 55000, left cap − paid − estimate", y)
		}
		if r.m["cap_left_fen"] != y["left_fen"] {
			t.Errorf("cap_left_fen = %v, want %v", r.m["cap_left_fen"], y["left_fen"])
		}
	})
	t.Run("estimate unsettled records", func(t *testing.T) {
		r := w.call(t, "GET", "/api/v1/estimates/unsettled", tok, "")
		lines, _ := r.m["lines"].([]any)
		if r.status != 200 || len(lines) != 1 || r.m["total_fen"] != 11000.0 {
			t.Fatalf("unsettled = %d %s, want R3 only, 11000 fen", r.status, r.body)
		}
		if l := lines[0].(map[string]any); l["hospital"] != "示例社区卫生服务中心" || l["record_id"] == nil {
			t.Errorf("line = %v", l)
		}
	})

	var ids []uint64
	t.Run("payouts", func(t *testing.T) {
		r := w.call(t, "GET", "/api/v1/payouts?year=2025", tok, "")
		if r.status != 200 || r.m["total"] != 2.0 {
			t.Fatalf("payouts = %d %s", r.status, r.body)
		}
		tot := r.m["totals"].(map[string]any)
		if tot["computed_fen"] != 330000.0 || tot["arrived_fen"] != 55000.0 || tot["on_the_way_fen"] != 275000.0 {
			t.Errorf("totals = %v", tot)
		}
		for _, it := range r.m["items"].([]any) {
			ids = append(ids, uint64(it.(map[string]any)["id"].(float64)))
		}
		if r := w.call(t, "GET", "/api/v1/payouts?year=2025&page=2&size=1", tok, ""); len(r.m["items"].([]any)) != 1 || r.m["page"] != 2.0 {
			t.Errorf("page 2 of size 1 = %s", r.body)
		}
		// Newest bill first: the inpatient line (2025-02-20), then the outpatient one.
		d := w.call(t, "GET", fmt.Sprintf("/api/v1/payouts/%d", ids[0]), tok, "")
		if d.status != 200 {
			t.Fatalf("detail = %d %s", d.status, d.body)
		}
		want := []string{"computed", "approved", "transferring", "failed", "reissued", "transferring", "arrived"}
		if got := timelineOf(d); !slices.Equal(got, want) {
			t.Errorf("timeline = %v, want %v", got, want)
		}
		acct := d.m["account"].(map[string]any)
		if acct["masked"] != "尾号1234" || acct["kind"] != "jingka" || d.m["amount_fen"] != 275000.0 || d.m["period"] != "2025-02" {
			t.Errorf("detail = %s", d.body)
		}
		if !hasStep(d.m, "ratio") || d.m["expected_by"] != nil {
			t.Errorf("detail lacks explanation, or promises a day already past: %s", d.body)
		}
		d = w.call(t, "GET", fmt.Sprintf("/api/v1/payouts/%d", ids[1]), tok, "")
		if got := timelineOf(d); !slices.Equal(got, []string{"computed", "approved", "transferring", "arrived"}) || d.m["arrived_at"] == nil {
			t.Errorf("arrived timeline = %v (%s)", got, d.body)
		}
	})

	t.Run("preferences", func(t *testing.T) {
		r := w.call(t, "PUT", "/api/v1/me/preferences", tok, `{"subscriptions":{"TPL_ARRIVED":"accept","TPL_APPROVED":"reject"},"sms_opt_out":true}`)
		if r.status != 200 || fmt.Sprint(r.m["subscriptions"]) != "[TPL_ARRIVED]" || r.m["sms_opt_out"] != true {
			t.Fatalf("preferences = %d %s", r.status, r.body)
		}
		r = w.call(t, "PUT", "/api/v1/me/preferences", tok, `{"subscriptions":{"TPL_ARRIVED":"ban"}}`)
		if fmt.Sprint(r.m["subscriptions"]) != "[]" || r.m["sms_opt_out"] != true {
			t.Errorf("after ban = %s", r.body)
		}
		if r := w.call(t, "PUT", "/api/v1/me/preferences", tok, `{"subscriptions":{"TPL_OTHER":"accept"}}`); r.status != 400 || r.str("field") != "subscriptions.TPL_OTHER" {
			t.Errorf("unknown template = %d %s", r.status, r.body)
		}
	})

	t.Run("refresh after expiry", func(t *testing.T) {
		w.advance(3 * time.Hour)
		defer w.advance(-3 * time.Hour)
		if r := w.call(t, "GET", "/api/v1/me", tok, ""); r.status != 401 || r.str("code") != "session.expired" {
			t.Fatalf("expired token = %d %s", r.status, r.body)
		}
		r := w.call(t, "POST", "/api/v1/session/refresh", tok, "")
		if r.status != 200 || r.m["bound"] != true {
			t.Fatalf("refresh = %d %s", r.status, r.body)
		}
		if r := w.call(t, "GET", "/api/v1/me", r.str("token"), ""); r.status != 200 {
			t.Errorf("refreshed token = %d %s", r.status, r.body)
		}
	})

	t.Run("unbind", func(t *testing.T) {
		if r := w.call(t, "DELETE", "/api/v1/binding", tok, ""); r.status != 200 || r.m["bound"] != false {
			t.Fatalf("unbind = %d %s", r.status, r.body)
		}
		// The same token no longer reaches the member's data.
		if r := w.call(t, "GET", fmt.Sprintf("/api/v1/payouts/%d", ids[0]), tok, ""); r.status != 403 {
			t.Errorf("payout after unbind = %d %s, want 403", r.status, r.body)
		}
		if r := w.call(t, "DELETE", "/api/v1/binding", tok, ""); r.status != 403 {
			t.Errorf("second unbind = %d %s", r.status, r.body)
		}
		var n int64
		w.db.Model(&model.AuditLog{}).Where("action = ? AND target = ?", "member.unbind", fmt.Sprintf("member:%d", a.ID)).Count(&n)
		if n != 1 {
			t.Errorf("unbind audit rows = %d, want 1", n)
		}
	})
}

func hasStep(line map[string]any, kind string) bool {
	steps, _ := line["steps"].([]any)
	for _, s := range steps {
		if s.(map[string]any)["kind"] == kind {
			return true
		}
	}
	return false
}

func timelineOf(r resp) []string {
	var out []string
	tl, _ := r.m["timeline"].([]any)
	for _, e := range tl {
		out = append(out, e.(map[string]any)["status"].(string))
	}
	return out
}

// TestOwnDataOnly: a worker reaches only their own member's data through every endpoint that
// returns member data; another member's payout id answers exactly like a missing one.
func TestOwnDataOnly(t *testing.T) {
	w := newWorld(t)
	a, b, _ := w.seed(t)
	tokA, tokB := w.loginBound(t, a), w.loginBound(t, b)

	var aIDs []uint64
	for _, it := range w.call(t, "GET", "/api/v1/payouts?year=2025", tokA, "").m["items"].([]any) {
		aIDs = append(aIDs, uint64(it.(map[string]any)["id"].(float64)))
	}
	if len(aIDs) != 2 {
		t.Fatalf("A's payouts = %v", aIDs)
	}
	missing := w.call(t, "GET", "/api/v1/payouts/999999", tokB, "")
	for _, id := range aIDs {
		r := w.call(t, "GET", fmt.Sprintf("/api/v1/payouts/%d", id), tokB, "")
		if r.status != 404 || r.str("code") != "payout.not_found" || r.str("message") != missing.str("message") {
			t.Errorf("B reading A's payout %d = %d %s, want the 404 of a missing one", id, r.status, r.body)
		}
	}
	list := w.call(t, "GET", "/api/v1/payouts?year=2025", tokB, "")
	for _, it := range list.m["items"].([]any) {
		if id := uint64(it.(map[string]any)["id"].(float64)); slices.Contains(aIDs, id) {
			t.Errorf("B's list holds A's payout %d", id)
		}
	}
	if list.m["total"] != 1.0 {
		t.Errorf("B's list = %s, want B's one line", list.body)
	}
	un := w.call(t, "GET", "/api/v1/estimates/unsettled", tokB, "")
	if lines := un.m["lines"].([]any); len(lines) != 1 || lines[0].(map[string]any)["hospital"] != "示例区医院" {
		t.Errorf("B's unsettled = %s, want only B's R5", un.body)
	}
	est := w.call(t, "POST", "/api/v1/estimates", tokB, `{"bills":[{"claim_type":"门诊","date":"2025-06-01","self_pay1_fen":10000}]}`)
	if y := est.m["years"].([]any)[0].(map[string]any); y["paid_fen"] != 25000.0 {
		t.Errorf("B's year-to-date = %v, want B's own 25000", y)
	}
	if me := w.call(t, "GET", "/api/v1/me", tokB, ""); me.str("name") != b.Name || me.m["member_id"] != float64(b.ID) {
		t.Errorf("B's profile = %s", me.body)
	}
	if e := w.call(t, "GET", "/api/v1/me/eligibility", tokB, ""); e.status != 200 {
		t.Errorf("B's eligibility = %d", e.status)
	}
	// B cannot take over A's member by binding A's data while A is bound.
	tokB2 := w.login(t, person{openID: "openid-b2"})
	if r := w.call(t, "POST", "/api/v1/binding", tokB2, w.bindBody(t, a)); r.status != 409 || r.str("code") != "binding.member_taken" {
		t.Errorf("binding A's member from another WeChat = %d %s, want 409 binding.member_taken", r.status, r.body)
	}
	// Unbinding B touches only B.
	w.call(t, "DELETE", "/api/v1/binding", tokB, "")
	if r := w.call(t, "GET", "/api/v1/me", tokA, ""); r.status != 200 {
		t.Errorf("A after B unbound = %d", r.status)
	}
}

// TestBindingNoOracle: every mismatch gets the same answer; failures lock the account out; every
// attempt leaves an audit row without the numbers.
func TestBindingNoOracle(t *testing.T) {
	w := newWorld(t, func(o *member.Options) { o.AccountAnyFailures = 5 })
	a, b, c := w.seed(t)
	tok := w.login(t, person{openID: "openid-guesser"})
	unknown := a
	unknown.IDNumber = idNumber("11010119700707111")
	variants := []struct {
		name string
		p    person
	}{
		{"wrong name", func() person { p := a; p.Name = "李某"; return p }()},
		{"wrong card", func() person { p := a; p.Jing = "6217990000009999"; return p }()},
		{"wrong phone", func() person { p := a; p.Phone = "13800009999"; return p }()},
		{"someone else's card", func() person { p := a; p.Jing = b.Jing; return p }()},
		{"not on the roster", unknown},
	}
	var first map[string]any
	for i, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			r := w.call(t, "POST", "/api/v1/binding", tok, w.bindBody(t, v.p))
			if i == len(variants)-1 {
				// The fifth failure of the account is still answered as a mismatch.
				if r.status != 404 {
					t.Fatalf("attempt %d = %d %s", i+1, r.status, r.body)
				}
			}
			if r.status != 404 || r.str("code") != "binding.no_match" {
				t.Fatalf("%s = %d %s, want 404 binding.no_match", v.name, r.status, r.body)
			}
			delete(r.m, "request_id")
			if first == nil {
				first = r.m
			} else if fmt.Sprint(first) != fmt.Sprint(r.m) {
				t.Errorf("%s answered %v, unlike the first mismatch %v", v.name, r.m, first)
			}
		})
	}
	r := w.call(t, "POST", "/api/v1/binding", tok, w.bindBody(t, a))
	if r.status != 429 || r.str("code") != "binding.locked" {
		t.Fatalf("correct data after 5 failures = %d %s, want 429 binding.locked", r.status, r.body)
	}
	var rows []model.AuditLog
	w.db.Where("action = ?", "binding.attempt").Order("id").Find(&rows)
	if len(rows) != 6 {
		t.Errorf("audit rows = %d, want 6 (5 failed, 1 denied)", len(rows))
	}
	for _, row := range rows {
		blob, _ := json.Marshal(row)
		for _, secret := range []string{a.IDNumber, a.Jing, a.Phone, b.Jing, unknown.IDNumber, "李某"} {
			if strings.Contains(string(blob), secret) {
				t.Errorf("audit row holds a typed value in clear: %s", blob)
			}
		}
	}
	if rows[0].Outcome != "failed" || rows[5].Outcome != "denied" || rows[0].Actor == "" || rows[0].IP == "" {
		t.Errorf("audit rows = %+v … %+v", rows[0], rows[5])
	}

	// C has no 京卡: the social-security card binds C; a 京卡 holder cannot bind by social card.
	tokC := w.login(t, c)
	if r := w.call(t, "POST", "/api/v1/binding", tokC, w.bindBody(t, c)); r.status != 201 || r.m["bank_account"] == nil {
		t.Errorf("bind C by social card = %d %s", r.status, r.body)
	}
	bySocial := b
	bySocial.Jing = ""
	tokB := w.login(t, b)
	if r := w.call(t, "POST", "/api/v1/binding", tokB, w.bindBody(t, bySocial)); r.status != 404 {
		t.Errorf("bind 京卡 holder B by social card = %d %s, want 404", r.status, r.body)
	}
}

// TestBindingWithSMS: in sms mode the code sent to the roster phone is needed.
func TestBindingWithSMS(t *testing.T) {
	w := newWorld(t, func(o *member.Options) { o.Proof = member.ProofSMS })
	a, _, _ := w.seed(t)
	tok := w.login(t, a)
	if r := w.call(t, "POST", "/api/v1/binding", tok, a.bindBody()); r.status != 400 || r.str("field") != "sms_code" {
		t.Fatalf("bind without code = %d %s", r.status, r.body)
	}
	r := w.call(t, "POST", "/api/v1/binding/sms-code", tok, a.bindBody())
	if r.status != 200 || r.str("phone") != "尾号1234" {
		t.Fatalf("sms-code = %d %s", r.status, r.body)
	}
	sent := w.sms.last()
	phone, text, _ := strings.Cut(sent, "|")
	if phone != a.Phone {
		t.Errorf("code went to %q, want the roster phone", phone)
	}
	code := text[strings.Index(text, "验证码")+len("验证码"):][:6]
	var body map[string]string
	_ = json.Unmarshal([]byte(a.bindBody()), &body)
	body["sms_code"] = "000000"
	if code == "000000" {
		body["sms_code"] = "111111"
	}
	wrong, _ := json.Marshal(body)
	if r := w.call(t, "POST", "/api/v1/binding", tok, string(wrong)); r.status != 400 || r.str("code") != "binding.sms_wrong" {
		t.Errorf("wrong code = %d %s", r.status, r.body)
	}
	body["sms_code"] = code
	right, _ := json.Marshal(body)
	if r := w.call(t, "POST", "/api/v1/binding", tok, string(right)); r.status != 201 {
		t.Errorf("right code = %d %s", r.status, r.body)
	}
}

// TestBadInput: malformed or absurd input is a clear 4xx naming the field, never a 500.
func TestBadInput(t *testing.T) {
	w := newWorld(t)
	a, _, _ := w.seed(t)
	tok := w.loginBound(t, a)
	fresh := w.login(t, person{openID: "openid-new"})
	bill := func(s string) string { return `{"bills":[` + s + `]}` }
	many := strings.TrimSuffix(strings.Repeat(`{"claim_type":"门诊","date":"2025-01-02","self_pay1_fen":100},`, 21), ",")
	forged := tok[:len(tok)-4] + "AAAA"
	tests := []struct {
		name, method, path, token, body string
		status                          int
		code, field                     string
	}{
		{"malformed json", "POST", "/api/v1/estimates", tok, `{"bills":[`, 400, "invalid.body", "body"},
		{"not json", "POST", "/api/v1/session", "", `code=1`, 400, "invalid.body", "body"},
		{"empty body", "POST", "/api/v1/binding", fresh, ``, 400, "invalid.body", "body"},
		{"unknown field", "POST", "/api/v1/estimates", tok, `{"bill":[]}`, 400, "invalid.bill", "bill"},
		{"wrong type", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"门诊","date":"2025-01-02","self_pay1_fen":"100"}`), 400, "invalid.bills.self_pay1_fen", "bills.self_pay1_fen"},
		{"fractional fen", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"门诊","date":"2025-01-02","self_pay1_fen":1.5}`), 400, "invalid.bills.self_pay1_fen", "bills.self_pay1_fen"},
		{"no bills", "POST", "/api/v1/estimates", tok, `{"bills":[]}`, 400, "invalid.bills", "bills"},
		{"too many bills", "POST", "/api/v1/estimates", tok, bill(many), 400, "invalid.bills", "bills"},
		{"negative amount", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"门诊","date":"2025-01-02","self_pay1_fen":-1}`), 400, "invalid.bills[0].self_pay1", "bills[0].self_pay1"},
		{"absurd amount", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"门诊","date":"2025-01-02","self_pay1_yuan":"99999999999"}`), 400, "invalid.bills[0].self_pay1", "bills[0].self_pay1"},
		{"huge number", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"门诊","date":"2025-01-02","self_pay1_fen":99999999999999999999}`), 400, "invalid.bills.self_pay1_fen", "bills.self_pay1_fen"},
		{"bad yuan", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"门诊","date":"2025-01-02","self_pay1_yuan":"12.345"}`), 400, "invalid.bills[0].self_pay1_yuan", "bills[0].self_pay1_yuan"},
		{"both units", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"门诊","date":"2025-01-02","self_pay1_yuan":"1","self_pay1_fen":100}`), 400, "invalid.bills[0].self_pay1_yuan", "bills[0].self_pay1_yuan"},
		{"no amount", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"门诊","date":"2025-01-02"}`), 400, "invalid.bills[0].self_pay1", "bills[0].self_pay1"},
		{"future date", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"门诊","date":"2025-06-16","self_pay1_fen":100}`), 400, "invalid.bills[0].date", "bills[0].date"},
		{"before the plan", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"门诊","date":"2001-01-01","self_pay1_fen":100}`), 400, "invalid.bills[0].date", "bills[0].date"},
		{"unreadable date", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"门诊","date":"yesterday","self_pay1_fen":100}`), 400, "invalid.bills[0].date", "bills[0].date"},
		{"unknown claim type", "POST", "/api/v1/estimates", tok, bill(`{"claim_type":"牙科","date":"2025-01-02","self_pay1_fen":100}`), 400, "invalid.bills[0].claim_type", "bills[0].claim_type"},
		{"wrong id check digit", "POST", "/api/v1/binding", fresh, `{"name":"李示例","id_number":"` + a.IDNumber[:17] + otherDigit(a.IDNumber[17]) + `","jing_card":"6217990000001234","phone":"13800001234"}`, 400, "invalid.id_number", "id_number"},
		{"short phone", "POST", "/api/v1/binding", fresh, `{"name":"李示例","id_number":"` + a.IDNumber + `","jing_card":"6217990000001234","phone":"1380000"}`, 400, "invalid.phone", "phone"},
		{"no card", "POST", "/api/v1/binding", fresh, `{"name":"李示例","id_number":"` + a.IDNumber + `","phone":"13800001234"}`, 400, "invalid.jing_card", "jing_card"},
		{"letters in card", "POST", "/api/v1/binding", fresh, `{"name":"李示例","id_number":"` + a.IDNumber + `","jing_card":"6217abc","phone":"13800001234"}`, 400, "invalid.jing_card", "jing_card"},
		{"no token", "GET", "/api/v1/me", "", "", 401, "session.missing", ""},
		{"forged token", "GET", "/api/v1/me", forged, "", 401, "session.invalid", ""},
		{"garbage token", "GET", "/api/v1/payouts", "abc.def", "", 401, "session.invalid", ""},
		{"empty login code", "POST", "/api/v1/session", "", `{"code":""}`, 400, "invalid.code", "code"},
		{"unknown login code", "POST", "/api/v1/session", "", `{"code":"never-issued"}`, 401, "login.code_invalid", ""},
		{"year in the future", "GET", "/api/v1/payouts?year=2026", tok, "", 400, "invalid.year", "year"},
		{"year before the plan", "GET", "/api/v1/payouts?year=1999", tok, "", 400, "invalid.year", "year"},
		{"year not a number", "GET", "/api/v1/payouts?year=abc", tok, "", 400, "invalid.year", "year"},
		{"page zero", "GET", "/api/v1/payouts?page=-1", tok, "", 400, "invalid.page", "page"},
		{"page size too big", "GET", "/api/v1/payouts?size=500", tok, "", 400, "invalid.size", "size"},
		{"payout id not a number", "GET", "/api/v1/payouts/abc", tok, "", 404, "payout.not_found", ""},
		{"bad tri-state", "POST", "/api/v1/eligibility/check", "", `{"insured_beijing":"maybe"}`, 400, "invalid.insured_beijing", "insured_beijing"},
		{"bad employment", "POST", "/api/v1/eligibility/check", "", `{"employment":"boss"}`, 400, "invalid.employment", "employment"},
		{"bad subscribe result", "PUT", "/api/v1/me/preferences", tok, `{"subscriptions":{"TPL_ARRIVED":"yes"}}`, 400, "invalid.subscriptions.TPL_ARRIVED", "subscriptions.TPL_ARRIVED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := w.call(t, tc.method, tc.path, tc.token, tc.body)
			if r.status != tc.status || r.str("code") != tc.code || r.str("field") != tc.field {
				t.Errorf("%s %s = %d %s, want %d %s field %q", tc.method, tc.path, r.status, r.body, tc.status, tc.code, tc.field)
			}
			if r.str("message") == "" || r.str("request_id") == "" {
				t.Errorf("error without message or request_id: %s", r.body)
			}
		})
	}
}

func otherDigit(c byte) string {
	if c == '1' {
		return "2"
	}
	return "1"
}

// TestAnonymousEligibility answers people who are not bound from tri-state answers.
func TestAnonymousEligibility(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name, body, status string
		missing            []string
	}{
		{"nothing known", `{}`, "unknown", []string{"insured_beijing", "employment", "kind", "union_member", "employer_pays_dues", "has_jing_card"}},
		{"retired", `{"employment":"retired"}`, "not_eligible", nil},
		{"covered member with card", `{"insured_beijing":"yes","employment":"in_service","kind":"urban","union_member":"yes","employer_pays_dues":"yes","has_jing_card":"yes"}`, "eligible", nil},
		{"no card yet", `{"insured_beijing":"yes","employment":"in_service","kind":"urban","union_member":"yes","employer_pays_dues":"yes","has_jing_card":"no","joined_on":"2025-05-01"}`, "needs_action", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := w.call(t, "POST", "/api/v1/eligibility/check", "", tc.body)
			if r.status != 200 || r.str("status") != tc.status {
				t.Fatalf("check %s = %d %s, want %s", tc.body, r.status, r.body, tc.status)
			}
			if tc.missing != nil && fmt.Sprint(r.m["missing"]) != fmt.Sprint(toAny(tc.missing)) {
				t.Errorf("missing = %v, want %v", r.m["missing"], tc.missing)
			}
			if rs := r.m["reasons"].([]any); len(rs) == 0 || rs[0].(map[string]any)["message"] == "" {
				t.Errorf("reasons = %v", rs)
			}
		})
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}
