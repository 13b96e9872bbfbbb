package admin_test

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"huzhu/config"
	"huzhu/handler"
	"huzhu/handler/admin"
	"huzhu/model"
	"huzhu/service/bot"
	"huzhu/service/rulebook"
)

// newManageWorld is newWorld with the console's editing on: its FAQ and policy engine are the
// rule book's, over the same database, as `huzhu serve` builds them.
func newManageWorld(t *testing.T) (*world, *rulebook.Service) {
	t.Helper()
	var deps admin.Deps
	w := newWorld(t, func(d *admin.Deps) { deps = *d })
	ctx := context.Background()
	engine, err := rulebook.LoadEngine(ctx, w.db, config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := rulebook.LoadKB(ctx, w.db, config.FAQYAML, engine.Versions(), bot.Links{}, bot.Thresholds{})
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return w.now }
	rules := rulebook.New(w.db, engine, kb, rulebook.Shipped{Policy: config.PolicyYAML, FAQ: config.FAQYAML}, clock, nil)
	deps.FAQ, deps.Policy, deps.Rules = kb, engine, rules
	a, err := admin.New(deps)
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	app := handler.New(handler.Options{BodyLimit: 64 << 10, UploadLimit: 8 << 20, Log: slog.New(slog.DiscardHandler)})
	a.Mount(app)
	w.app = app
	return w, rules
}

var (
	revisionRe = regexp.MustCompile(`name="revision" value="([^"]*)"`)
	bodyRe     = regexp.MustCompile(`(?s)<textarea name="body"[^>]*>(.*?)</textarea>`)
)

func revisionIn(t *testing.T, page string) string {
	t.Helper()
	m := revisionRe.FindStringSubmatch(page)
	if m == nil || m[1] == "" {
		t.Fatalf("no revision in the page: %.800s", page)
	}
	return m[1]
}

// entryForm is the form of entry e as the edit page sends it.
func entryForm(e bot.Entry, revision string) url.Values {
	return url.Values{"kind": {e.Kind}, "question": {e.Question}, "phrasings": {strings.Join(e.Phrasings, "\r\n")},
		"answer": {e.Answer}, "action": {e.Action}, "dialogue": {e.Dialogue}, "revision": {revision}}
}

func TestManageRoleBoundaries(t *testing.T) {
	w, rules := newManageWorld(t)
	clients := map[string]*client{}
	for _, u := range []string{"admin", "op1", "u1", "aud"} {
		clients[u] = w.login(u)
	}
	var adminID uint64
	w.db.Model(&model.AdminUser{}).Where("username = ?", "admin").Pluck("id", &adminID)
	capEntry, _ := rules.KB().Entry("cap")
	newEntry := url.Values{"id": {"bike_injury"}, "kind": {"plan"}, "question": {"骑自行车摔伤了能报吗？"},
		"phrasings": {"骑车摔伤能不能二次报销\n自行车摔了看病能报吗\n骑单车受伤的医药费"}, "answer": {"可以按比例报销自付一。"}}
	staffPath := fmt.Sprintf("/admin/staff/%d", adminID)
	edits := []struct {
		name, path string
		form       url.Values
	}{
		{"add an entry", "/admin/faq", newEntry},
		{"edit an entry", "/admin/faq/cap", entryForm(capEntry, "x")},
		{"retire an entry", "/admin/faq/hotline/retire", url.Values{"revision": {"x"}}},
		{"enable an entry", "/admin/faq/hotline/enable", url.Values{"revision": {"x"}}},
		{"revert an entry", "/admin/faq/hotline/revert", url.Values{"revision": {"x"}}},
		{"add a policy version", "/admin/policy", url.Values{"body": {"code: x"}}},
		{"create an account", "/admin/staff", url.Values{"username": {"x1"}, "role": {"admin"}, "password": {password}}},
		{"change an account", staffPath, url.Values{"role": {"auditor"}}},
		{"disable an account", staffPath + "/disable", nil},
		{"enable an account", staffPath + "/enable", nil},
		{"reset a password", staffPath + "/password", url.Values{"password": {"a new long password"}}},
	}
	for _, who := range []string{"op1", "aud", "u1"} {
		for _, e := range edits {
			t.Run(who+" may not "+e.name, func(t *testing.T) {
				form := url.Values{}
				for k, v := range e.form {
					form[k] = v
				}
				res, body := clients[who].post(e.path, form)
				if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "您的角色不能进行这项操作") {
					t.Errorf("%s POST %s = %d, want 403", who, e.path, res.StatusCode)
				}
			})
		}
	}
	for _, e := range edits {
		t.Run("admin needs the CSRF token to "+e.name, func(t *testing.T) {
			form := url.Values{"_csrf": {""}}
			for k, v := range e.form {
				form[k] = v
			}
			if res, _ := clients["admin"].post(e.path, form); res.StatusCode != http.StatusForbidden {
				t.Errorf("admin POST %s without a token = %d, want 403", e.path, res.StatusCode)
			}
		})
	}
	var changed int64
	w.db.Model(&model.AuditLog{}).Where("action LIKE ? OR action LIKE ? OR (action LIKE ? AND action <> ?)", "faq.%", "policy.%", "staff.%", "staff.login").
		Where("actor <> ?", "test").Count(&changed)
	if changed != 0 || len(rules.Engine().Versions()) != 2 {
		t.Fatalf("refused requests changed something: %d audit rows", changed)
	}

	pages := []struct {
		name, user, path string
		want             int
		has, hasNot      string
	}{
		{"admin sees the editor's links", "admin", "/admin/faq", 200, `id="new-entry"`, ""},
		{"operator views the entries without editing", "op1", "/admin/faq", 200, `href="/admin/faq/cap"`, `id="new-entry"`},
		{"auditor asks the bot", "aud", "/admin/faq?q=" + url.QueryEscape("最多能报多少钱"), 200, `id="chosen"`, `id="new-entry"`},
		{"union staff ask the bot", "u1", "/admin/faq?q=" + url.QueryEscape("最多能报多少钱"), 200, "得分", ""},
		{"operator reads an entry, read-only", "op1", "/admin/faq/cap", 200, "<fieldset disabled>", "/admin/faq/cap/retire"},
		{"admin edits an entry", "admin", "/admin/faq/cap", 200, "/admin/faq/cap/retire", "<fieldset disabled>"},
		{"operator may not open the new-entry form", "op1", "/admin/faq/new", 403, "", ""},
		{"auditor may not open the new-entry form", "aud", "/admin/faq/new", 403, "", ""},
		{"admin sees the new-version form", "admin", "/admin/policy", 200, `id="version-form"`, ""},
		{"operator reads the versions without the form", "op1", "/admin/policy", 200, "假定", `id="version-form"`},
		{"auditor reads the versions without the form", "aud", "/admin/policy", 200, "假定", `id="version-form"`},
		{"union staff do not read the versions", "u1", "/admin/policy", 403, "", ""},
		{"admin lists the accounts", "admin", "/admin/staff", 200, "op1", ""},
		{"operator may not list the accounts", "op1", "/admin/staff", 403, "", ""},
		{"auditor may not list the accounts", "aud", "/admin/staff", 403, "", ""},
		{"union staff may not list the accounts", "u1", "/admin/staff", 403, "", ""},
		{"auditor may not open an account", "aud", staffPath, 403, "", ""},
		{"unknown entry", "admin", "/admin/faq/nope", 404, "没有这个问答条目", ""},
		{"unknown account", "admin", "/admin/staff/999", 404, "没有这个账号", ""},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			res, body := clients[p.user].get(p.path)
			if res.StatusCode != p.want || !strings.Contains(body, p.has) || (p.hasNot != "" && strings.Contains(body, p.hasNot)) {
				t.Errorf("%s GET %s = %d (has %q: %v, has not %q: %v), want %d",
					p.user, p.path, res.StatusCode, p.has, strings.Contains(body, p.has), p.hasNot, !strings.Contains(body, p.hasNot), p.want)
			}
		})
	}
}

func TestEditFAQ(t *testing.T) {
	w, rules := newManageWorld(t)
	adm := w.login("admin")
	_, page := adm.get("/admin/faq/cap")
	rev := revisionIn(t, page)
	e, _ := rules.KB().Entry("cap")

	bad := entryForm(e, rev)
	bad.Set("phrasings", "封顶是多少\n\n")
	res, body := adm.post("/admin/faq/cap", bad)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "至少要 3 条") ||
		!strings.Contains(body, `<textarea name="phrasings" rows="8" class="bad">封顶是多少`) {
		t.Fatalf("an edit with one phrasing = %d, want 400 with the rule, the field marked and the text kept: %.3000s", res.StatusCode, body)
	}

	e.Answer = "后台修改过的回答：每人每年最多{cap}。"
	e.Phrasings = append(e.Phrasings, "一年到顶能拿多少")
	res, body = adm.post("/admin/faq/cap", entryForm(e, rev))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save = %d: %s", res.StatusCode, body)
	}
	_, body = adm.get(res.Header.Get("Location"))
	if !strings.Contains(body, "已保存") || !strings.Contains(body, "后台修改过的回答：每人每年最多200653元。") || !strings.Contains(body, "已修改") {
		t.Errorf("entry page after the save lacks the flash, the new preview or the state: %.2000s", body)
	}
	_, body = adm.get("/admin/faq?q=" + url.QueryEscape("一年到顶能拿多少"))
	if !strings.Contains(body, `id="chosen" href="/admin/faq/cap"`) || !strings.Contains(body, "后台修改过的回答") {
		t.Errorf("the ask box does not choose the edited entry with its new answer: %.2000s", body)
	}
	if res, body := adm.post("/admin/faq/cap", entryForm(e, rev)); res.StatusCode != http.StatusConflict || !strings.Contains(body, "刚被admin改过") {
		t.Errorf("a second save from the old revision = %d, want 409 naming who changed it", res.StatusCode)
	}

	res, _ = adm.post("/admin/faq", url.Values{"id": {"bike_injury"}, "kind": {"plan"}, "question": {"骑自行车摔伤了能报吗？"},
		"phrasings": {"骑车摔伤能不能二次报销\n自行车摔了看病能报吗\n骑单车受伤的医药费"}, "answer": {"可以，按比例报销自付一。"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/faq/bike_injury?flash="+url.QueryEscape("已新增：公众号机器人和本后台已开始使用新内容") {
		t.Fatalf("add = %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	_, page = adm.get("/admin/faq/hotline")
	if res, _ := adm.post("/admin/faq/hotline/retire", url.Values{"revision": {revisionIn(t, page)}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("retire = %d", res.StatusCode)
	}
	if _, body := adm.get("/admin/faq?q=" + url.QueryEscape("电话")); strings.Contains(body, `id="chosen" href="/admin/faq/hotline"`) {
		t.Error("the bot still chooses the retired entry")
	}
	_, page = adm.get("/admin/faq/help")
	if strings.Contains(page, "/admin/faq/help/retire") {
		t.Error("the page offers to retire an entry the bot needs")
	}
	if res, body := adm.post("/admin/faq/help/retire", url.Values{"revision": {revisionIn(t, page)}}); res.StatusCode != http.StatusConflict || !strings.Contains(body, "不能停用") {
		t.Errorf("retiring help = %d, want 409", res.StatusCode)
	}
	var rows []model.AuditLog
	w.db.Where("action LIKE ?", "faq.%").Order("id").Find(&rows)
	var got []string
	for _, r := range rows {
		got = append(got, r.Action+" "+r.Target+" "+r.Actor)
	}
	if want := "faq.edit faq:cap admin|faq.add faq:bike_injury admin|faq.retire faq:hotline admin"; strings.Join(got, "|") != want {
		t.Errorf("audit = %q, want %q", strings.Join(got, "|"), want)
	}
}

func TestAddPolicyVersion(t *testing.T) {
	w, rules := newManageWorld(t)
	adm := w.login("admin")
	_, page := adm.get("/admin/policy")
	m := bodyRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no draft on the policy page: %.2000s", page)
	}
	draft := html.UnescapeString(m[1])
	body := strings.Replace(draft, `value: "2025-08-01"`, `value: "2025-07-01"`, 1)
	res, out := adm.post("/admin/policy", url.Values{"body": {body}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(out, "不晚于今天") || !strings.Contains(out, "2025-07-01") {
		t.Fatalf("a version starting in the past = %d, want 400 with the rule and the text kept: %.2000s", res.StatusCode, out)
	}
	body = strings.Replace(draft, `value: "200653.00"`, `value: "250000.00"`, 1)
	res, out = adm.post("/admin/policy", url.Values{"body": {body}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add = %d: %.2000s", res.StatusCode, out)
	}
	_, out = adm.get(res.Header.Get("Location"))
	if !strings.Contains(out, "已添加政策版本 2025-08") || !strings.Contains(out, `id="version-2025-08"`) || !strings.Contains(out, "250,000.00") {
		t.Errorf("policy page after the add lacks the flash or the version: %.2000s", out)
	}
	if v, _ := rules.Engine().At("2025-09-01"); v.Code != "2025-08" {
		t.Errorf("the console's engine uses %s on 2025-09-01", v.Code)
	}
	var n int64
	w.db.Model(&model.AuditLog{}).Where("action = ? AND actor = ? AND target = ?", "policy.add", "admin", "policy:2025-08").Count(&n)
	if n != 1 {
		t.Errorf("policy.add audit rows = %d, want 1", n)
	}
}

func TestManageStaff(t *testing.T) {
	w, _ := newManageWorld(t)
	adm := w.login("admin")
	res, body := adm.post("/admin/staff", url.Values{"username": {"zhang"}, "display_name": {"张经办"}, "role": {"union"},
		"union_code": {"U1"}, "password": {"short"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "密码至少 12 个字") || !strings.Contains(body, `value="zhang"`) ||
		strings.Contains(body, `value="short"`) {
		t.Fatalf("create with a short password = %d, want 400 keeping the name but not the password: %.2000s", res.StatusCode, body)
	}
	res, _ = adm.post("/admin/staff", url.Values{"username": {"zhang"}, "display_name": {"张经办"}, "role": {"union"},
		"union_code": {"U1"}, "password": {"a long first password"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create = %d", res.StatusCode)
	}
	if _, body := adm.get("/admin/staff"); !strings.Contains(body, "张经办") || !strings.Contains(body, "U1 第一工会") {
		t.Errorf("the list lacks the new account")
	}
	var id uint64
	w.db.Model(&model.AdminUser{}).Where("username = ?", "zhang").Pluck("id", &id)
	path := fmt.Sprintf("/admin/staff/%d", id)

	// The new account works; disabling it ends its session at once.
	// An account an admin made must first choose its own password: every page leads there.
	zhang := loginAs(t, w, "zhang", "a long first password")
	if res, _ := zhang.get("/admin/members"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/account/password" {
		t.Fatalf("the new account's members page = %d to %q, want 303 to the password page", res.StatusCode, res.Header.Get("Location"))
	}
	if res, body := zhang.post("/admin/runs", url.Values{"period": {"2025-Q1"}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/account/password" {
		t.Fatalf("a form before the password change = %d: %.300s", res.StatusCode, body)
	}
	own := func(pw string) url.Values {
		return url.Values{"current_password": {"a long first password"}, "password": {pw}, "password2": {pw}}
	}
	if res, body := zhang.post("/admin/account/password", own("zhang keeps bees in spring")); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "不能包含用户名") {
		t.Errorf("a new password with the username = %d, want 400: %.300s", res.StatusCode, body)
	}
	if res, body := zhang.post("/admin/account/password", own("a long first password")); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "不能与当前密码相同") {
		t.Errorf("the same password again = %d, want 400: %.300s", res.StatusCode, body)
	}
	if res, body := zhang.post("/admin/account/password", own("bees hum over the quiet lake")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("own password = %d: %.300s", res.StatusCode, body)
	}
	if res, _ := zhang.get("/admin/members"); res.StatusCode != http.StatusOK {
		t.Fatalf("the members page after the change = %d", res.StatusCode)
	}
	if res, _ := adm.post(path+"/disable", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable = %d", res.StatusCode)
	}
	if res, _ := zhang.get("/admin/members"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a disabled account's session = %d, want a redirect to the login", res.StatusCode)
	}
	if res, _ := adm.post(path+"/enable", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable = %d", res.StatusCode)
	}
	zhang = loginAs(t, w, "zhang", "bees hum over the quiet lake")
	if res, _ := adm.post(path+"/password", url.Values{"password": {"a long second password"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset = %d", res.StatusCode)
	}
	if res, _ := zhang.get("/admin/members"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a session after a password reset = %d, want a redirect to the login", res.StatusCode)
	}
	loginAs(t, w, "zhang", "a long second password")
	if res, body := adm.post(path, url.Values{"display_name": {"张经办"}, "role": {"auditor"}, "union_code": {"U1"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("change to auditor = %d: %.1000s", res.StatusCode, body)
	}
	if _, body := adm.get(path); !strings.Contains(body, `<option value="auditor" selected>`) {
		t.Errorf("the account page does not show the new role")
	}

	var adminID uint64
	w.db.Model(&model.AdminUser{}).Where("username = ?", "admin").Pluck("id", &adminID)
	self := fmt.Sprintf("/admin/staff/%d", adminID)
	if _, body := adm.get(self); strings.Contains(body, `id="disable-account"`) {
		t.Error("the admin's own page offers to disable the account")
	}
	if res, body := adm.post(self+"/disable", nil); res.StatusCode != http.StatusConflict || !strings.Contains(body, "不能停用自己的账号") {
		t.Errorf("disable self = %d, want 409", res.StatusCode)
	}
	if res, body := adm.post(self, url.Values{"role": {"operator"}}); res.StatusCode != http.StatusConflict || !strings.Contains(body, "不能取消自己的管理员角色") {
		t.Errorf("demote self = %d, want 409", res.StatusCode)
	}
	var n int64
	w.db.Model(&model.AuditLog{}).Where("actor = ? AND action IN ?", "admin",
		[]string{"staff.create", "staff.disable", "staff.enable", "staff.password_reset", "staff.update"}).Count(&n)
	if n != 5 {
		t.Errorf("audit rows of the admin's account changes = %d, want 5", n)
	}
}

// loginAs signs in with a password other than the shared test one.
func loginAs(t *testing.T, w *world, username, pw string) *client {
	t.Helper()
	c := w.anon()
	c.get("/admin/login")
	if res, body := c.post("/admin/login", url.Values{"username": {username}, "password": {pw}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s = %d: %.500s", username, res.StatusCode, body)
	}
	if res, _ := c.get("/admin/"); res.StatusCode == http.StatusSeeOther {
		c.get(res.Header.Get("Location")) // the page the account must finish first, for its CSRF token
	}
	return c
}
