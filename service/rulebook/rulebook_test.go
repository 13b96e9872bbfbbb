package rulebook_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/bot"
	"huzhu/service/errs"
	"huzhu/service/policy"
	"huzhu/service/rulebook"
	"huzhu/service/store/storetest"
)

// now is the pinned clock: Tuesday 22 July 2025, Asia/Shanghai.
var now = time.Date(2025, 7, 22, 10, 0, 0, 0, model.Shanghai)

var (
	admin    = model.Actor{Username: "admin", Role: model.RoleAdmin, IP: "ip", Via: model.ViaConsole}
	operator = model.Actor{Username: "op", Role: model.RoleOperator, IP: "ip", Via: model.ViaConsole}
	shipped  = rulebook.Shipped{Policy: config.PolicyYAML, FAQ: config.FAQYAML}
)

// start builds the rules of one process over db, as `huzhu serve` does at start.
func start(t *testing.T, db *gorm.DB) *rulebook.Service {
	t.Helper()
	ctx := context.Background()
	engine, err := rulebook.LoadEngine(ctx, db, config.PolicyYAML)
	if err != nil {
		t.Fatalf("LoadEngine: %v", err)
	}
	kb, err := rulebook.LoadKB(ctx, db, config.FAQYAML, engine.Versions(), bot.Links{}, bot.Thresholds{})
	if err != nil {
		t.Fatalf("LoadKB: %v", err)
	}
	return rulebook.New(db, engine, kb, shipped, func() time.Time { return now }, nil)
}

func entry(t *testing.T, s *rulebook.Service, id string) rulebook.EntryRow {
	t.Helper()
	r, err := s.Entry(context.Background(), id)
	if err != nil {
		t.Fatalf("Entry(%s): %v", id, err)
	}
	return r
}

func render(s *rulebook.Service, id string) string {
	out, _ := s.KB().Render(id, model.DateOf(now))
	return out
}

func auditCount(t *testing.T, db *gorm.DB, action string) int {
	t.Helper()
	rows, _, err := audit.List(context.Background(), db, audit.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

func wantErr(t *testing.T, err error, kind errs.Kind, code, field string) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Kind != kind || e.Code != code || (field != "" && e.Field != field) || e.Message == "" {
		t.Fatalf("err = %#v, want kind %v code %s field %q with a message", err, kind, code, field)
	}
}

func TestSaveEntry(t *testing.T) {
	db := storetest.NewDB(t)
	s := start(t, db)
	ctx := context.Background()
	before := render(s, "cap")

	cur := entry(t, s, "cap")
	if cur.State != rulebook.StateShipped || cur.UpdatedBy != "" {
		t.Fatalf("shipped entry = %+v", cur)
	}
	e := cur.Entry
	e.Answer = "  每人每年最多{cap}，按政策自动计算。  "
	e.Phrasings = append(e.Phrasings, "  ", "一年封顶是多少钱")

	t.Run("operator may not", func(t *testing.T) {
		_, err := s.SaveEntry(ctx, operator, e, cur.Revision)
		wantErr(t, err, errs.KindForbidden, "rulebook.forbidden", "")
	})
	t.Run("too few phrasings is refused, naming the field", func(t *testing.T) {
		bad := e
		bad.Phrasings = []string{"封顶多少", " "}
		_, err := s.SaveEntry(ctx, admin, bad, cur.Revision)
		wantErr(t, err, errs.KindInvalid, "faq.invalid", "phrasings")
		if !strings.Contains(err.Error(), "至少要 3 条") {
			t.Errorf("message = %q, want the rule", err)
		}
	})
	t.Run("a phrasing of another entry is refused", func(t *testing.T) {
		bad := e
		bad.Phrasings = append([]string{"在职职工医疗互助保障计划是什么"}, e.Phrasings...)
		_, err := s.SaveEntry(ctx, admin, bad, cur.Revision)
		wantErr(t, err, errs.KindInvalid, "faq.invalid", "phrasings")
	})
	if render(s, "cap") != before || auditCount(t, db, "faq.") != 0 {
		t.Fatal("a refused edit changed the knowledge base or wrote the audit log")
	}

	row, err := s.SaveEntry(ctx, admin, e, cur.Revision)
	if err != nil {
		t.Fatalf("SaveEntry = %v", err)
	}
	if got := render(s, "cap"); got != "每人每年最多200653元，按政策自动计算。" {
		t.Errorf("the running knowledge base answers %q after the save", got)
	}
	if m := s.KB().Match("一年封顶是多少钱"); m.Best() != "cap" {
		t.Errorf("Match(new phrasing) = %q, want cap", m.Best())
	}
	if row.State != rulebook.StateEdited || row.UpdatedBy != "admin" || len(row.Phrasings) != len(cur.Phrasings)+1 || row.Revision == cur.Revision {
		t.Errorf("saved row = %+v", row)
	}
	if n := auditCount(t, db, "faq.edit"); n != 1 {
		t.Errorf("faq.edit audit rows = %d, want 1", n)
	}
	t.Run("an edit from the old revision is refused", func(t *testing.T) {
		_, err := s.SaveEntry(ctx, admin, e, cur.Revision)
		wantErr(t, err, errs.KindConflict, "faq.stale", "")
	})
	t.Run("a restarted process has the edit", func(t *testing.T) {
		if got := render(start(t, db), "cap"); got != "每人每年最多200653元，按政策自动计算。" {
			t.Errorf("after a restart the bot answers %q", got)
		}
	})

	added := bot.Entry{ID: "bike_injury", Kind: bot.KindPlan, Question: "骑自行车摔伤了能报吗？",
		Phrasings: []string{"骑车摔伤能不能二次报销", "自行车摔了看病能报吗", "骑单车受伤的医药费"},
		Answer:    "骑车摔伤去医院看病，医保结算后的自付一也能按比例报销。"}
	if _, err := s.SaveEntry(ctx, admin, added, ""); err != nil {
		t.Fatalf("SaveEntry(new) = %v", err)
	}
	if m := s.KB().Match("骑车摔伤了可以报销吗"); m.Band != bot.BandAnswer || m.Best() != "bike_injury" {
		t.Errorf("Match for the new entry = %v %q", m.Band, m.Best())
	}
	t.Run("a new entry may not take an id", func(t *testing.T) {
		_, err := s.SaveEntry(ctx, admin, added, "")
		wantErr(t, err, errs.KindConflict, "faq.id_taken", "")
	})
	rows, err := s.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := rows[len(rows)-1]; last.ID != "bike_injury" || last.State != rulebook.StateAdded {
		t.Errorf("last listed entry = %s %s, want the added one", last.ID, last.State)
	}
}

func TestRetireEnableRevert(t *testing.T) {
	db := storetest.NewDB(t)
	s := start(t, db)
	ctx := context.Background()

	h := entry(t, s, "hotline")
	if err := s.RetireEntry(ctx, admin, "hotline", h.Revision); err != nil {
		t.Fatalf("RetireEntry = %v", err)
	}
	if m := s.KB().Match("电话"); m.Best() == "hotline" {
		t.Error("the bot still answers with a retired entry")
	}
	h = entry(t, s, "hotline")
	if h.State != rulebook.StateRetired {
		t.Fatalf("state after retiring = %s", h.State)
	}
	rows, _ := s.Entries(ctx)
	if last := rows[len(rows)-1]; last.ID != "hotline" {
		t.Errorf("retired entries are listed last; last is %s", last.ID)
	}
	wantErr(t, s.RetireEntry(ctx, admin, "hotline", h.Revision), errs.KindConflict, "faq.unchanged", "")
	if _, err := s.SaveEntry(ctx, admin, h.Entry, h.Revision); errs.KindOf(err) != errs.KindConflict {
		t.Errorf("editing a retired entry = %v, want Conflict", err)
	}
	if err := s.EnableEntry(ctx, admin, "hotline", h.Revision); err != nil {
		t.Fatalf("EnableEntry = %v", err)
	}
	if m := s.KB().Match("电话"); m.Best() != "hotline" || !m.Pinned {
		t.Errorf("after enabling, Match(电话) = %+v; the entry's pinned texts should be back", m)
	}

	help := entry(t, s, "help")
	wantErr(t, s.RetireEntry(ctx, admin, "help", help.Revision), errs.KindConflict, "faq.required", "")
	wantErr(t, s.RetireEntry(ctx, operator, "cap", "x"), errs.KindForbidden, "rulebook.forbidden", "")
	wantErr(t, s.RetireEntry(ctx, admin, "nope", "x"), errs.KindNotFound, "faq.not_found", "")

	shippedAnswer := render(s, "hotline")
	h = entry(t, s, "hotline")
	h.Answer = "请拨打{hotline}。"
	if _, err := s.SaveEntry(ctx, admin, h.Entry, h.Revision); err != nil {
		t.Fatal(err)
	}
	h = entry(t, s, "hotline")
	if err := s.RevertEntry(ctx, admin, "hotline", h.Revision); err != nil {
		t.Fatalf("RevertEntry = %v", err)
	}
	if got := render(s, "hotline"); got != shippedAnswer {
		t.Errorf("after reverting the bot answers %q, want the shipped %q", got, shippedAnswer)
	}
	var n int64
	db.Model(&model.FAQEntry{}).Where(&model.FAQEntry{Key: "hotline"}).Count(&n)
	if n != 0 || entry(t, s, "hotline").State != rulebook.StateShipped {
		t.Errorf("after reverting: %d rows, state %s; want none, shipped", n, entry(t, s, "hotline").State)
	}
	for _, a := range []string{"faq.retire", "faq.enable", "faq.edit", "faq.revert"} {
		if auditCount(t, db, a) != 1 {
			t.Errorf("audit rows for %s = %d, want 1", a, auditCount(t, db, a))
		}
	}
}

// TestLoadRefusesBadRows: a saved row that no longer reads stops a process at start with an
// error naming it.
func TestLoadRefusesBadRows(t *testing.T) {
	ctx := context.Background()
	t.Run("faq", func(t *testing.T) {
		db := storetest.NewDB(t)
		db.Create(&model.FAQEntry{Key: "cap", Body: "id: cap\nanwser: x\n", UpdatedBy: "someone"})
		engine, _ := rulebook.LoadEngine(ctx, db, config.PolicyYAML)
		_, err := rulebook.LoadKB(ctx, db, config.FAQYAML, engine.Versions(), bot.Links{}, bot.Thresholds{})
		if err == nil || !strings.Contains(err.Error(), "FAQ entry cap saved by someone") {
			t.Errorf("LoadKB with a bad row = %v", err)
		}
	})
	t.Run("policy", func(t *testing.T) {
		db := storetest.NewDB(t)
		db.Create(&model.PolicyVersion{Code: "2030", EffectiveFrom: "2030-01-01", Body: "code: \"2030\"\n", CreatedBy: "someone"})
		if _, err := rulebook.LoadEngine(ctx, db, config.PolicyYAML); err == nil || !strings.Contains(err.Error(), "policy version 2030 saved by someone") {
			t.Errorf("LoadEngine with a bad row = %v", err)
		}
	})
}

func TestAddVersion(t *testing.T) {
	db := storetest.NewDB(t)
	s := start(t, db)
	ctx := context.Background()
	draft, err := s.DraftVersion()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(draft, `code: "2025-08"`) || !strings.Contains(draft, `value: "2025-08-01"`) {
		t.Fatalf("draft does not start next month:\n%s", draft)
	}
	capLine := `value: "200653.00"`
	body := strings.Replace(draft, capLine, `value: "300000.00"`, 1)
	body = strings.Replace(body, `code: "2025-08"`, `code: "2026"`, 1)
	body = strings.Replace(body, `value: "2025-08-01"`, `value: "2026-01-01"`, 1)

	tests := []struct {
		name, body, code, field string
		who                     model.Actor
		kind                    errs.Kind
	}{
		{"operator may not", body, "rulebook.forbidden", "", operator, errs.KindForbidden},
		{"empty", "  ", "invalid.body", "body", admin, errs.KindInvalid},
		{"not YAML", "code: [", "policy.bad_version", "body", admin, errs.KindInvalid},
		{"figure without a source", strings.Replace(body, "source: assumed", "", 1), "policy.bad_version", "body", admin, errs.KindInvalid},
		{"starts today", strings.Replace(body, `value: "2026-01-01"`, `value: "2025-07-22"`, 1), "policy.not_future", "effective_from", admin, errs.KindInvalid},
		{"rewrites the past", strings.Replace(body, `value: "2026-01-01"`, `value: "2024-01-01"`, 1), "policy.not_future", "effective_from", admin, errs.KindInvalid},
		{"code taken", strings.Replace(body, `code: "2026"`, `code: "2021"`, 1), "policy.code_taken", "code", admin, errs.KindInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AddVersion(ctx, tc.who, tc.body)
			wantErr(t, err, tc.kind, tc.code, tc.field)
		})
	}
	if len(s.Engine().Versions()) != 2 || auditCount(t, db, "policy.") != 0 {
		t.Fatal("a refused version changed the engine or wrote the audit log")
	}

	v, err := s.AddVersion(ctx, admin, body)
	if err != nil {
		t.Fatalf("AddVersion = %v", err)
	}
	if v.Code != "2026" || v.AnnualCapFen != 30_000_000 {
		t.Errorf("added version = %s cap %d", v.Code, v.AnnualCapFen)
	}
	if got, ok := s.Engine().At("2026-03-01"); !ok || got.Code != "2026" {
		t.Errorf("the running engine uses %s on 2026-03-01, want 2026", got.Code)
	}
	if got, _ := s.Engine().At("2025-07-22"); got.Code != "2021" {
		t.Errorf("the running engine uses %s today, want 2021: the past is not rewritten", got.Code)
	}
	if got, _ := s.KB().Render("cap", "2026-03-01"); !strings.Contains(got, "300000元") {
		t.Errorf("the bot's answer under the new version = %q, want the new cap", got)
	}
	if got := render(s, "cap"); !strings.Contains(got, "200653元") {
		t.Errorf("the bot's answer today = %q, want today's cap", got)
	}
	if auditCount(t, db, "policy.add") != 1 {
		t.Error("no policy.add audit row")
	}
	var row model.PolicyVersion
	if err := db.Take(&row).Error; err != nil || row.Code != "2026" || row.Body != body || row.CreatedBy != "admin" {
		t.Errorf("stored version = %+v, %v", row, err)
	}
	if got, _ := start(t, db).Engine().At("2026-03-01"); got.Code != "2026" {
		t.Errorf("a restarted process uses %s on 2026-03-01, want 2026", got.Code)
	}
	if _, err := s.AddVersion(ctx, admin, body); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("adding the same version twice = %v, want Invalid", err)
	}
	next, err := s.DraftVersion()
	if err != nil || !strings.Contains(next, `value: "2026-02-01"`) {
		t.Errorf("draft after a future version = %v\n%s\nwant it to start after that version", err, next)
	}
}

// TestRefresh: a second process follows the changes the first one saves.
func TestRefresh(t *testing.T) {
	db := storetest.NewDB(t)
	a, b := start(t, db), start(t, db)
	ctx := context.Background()
	cur := entry(t, a, "cap")
	e := cur.Entry
	e.Answer = "由另一台服务器修改：最多{cap}。"
	if _, err := a.SaveEntry(ctx, admin, e, cur.Revision); err != nil {
		t.Fatal(err)
	}
	draft, _ := a.DraftVersion()
	if _, err := a.AddVersion(ctx, admin, draft); err != nil {
		t.Fatal(err)
	}
	if render(b, "cap") == render(a, "cap") {
		t.Fatal("the second process changed before it refreshed")
	}
	if changed, err := b.Refresh(ctx); err != nil || !changed {
		t.Fatalf("Refresh = %v, %v; want a change", changed, err)
	}
	if render(b, "cap") != render(a, "cap") || len(b.Engine().Versions()) != 3 {
		t.Errorf("after Refresh the second process answers %q with %d versions", render(b, "cap"), len(b.Engine().Versions()))
	}
	if changed, err := b.Refresh(ctx); err != nil || changed {
		t.Errorf("a second Refresh = %v, %v; want no change", changed, err)
	}
}

// TestReadsDuringSaves answers, renders and computes continuously while entries and a version
// are saved: under -race this is the check that the swaps are safe, and every answer must come
// from a whole knowledge base.
func TestReadsDuringSaves(t *testing.T) {
	db := storetest.NewDB(t)
	s := start(t, db)
	ctx := context.Background()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	errc := make(chan string, 8)
	in := policy.Input{Bills: []policy.Bill{{RecordID: 1, ClaimType: model.ClaimOutpatient, Date: "2025-03-01", SelfPay1Fen: 10_000}}}
	for range 3 {
		wg.Go(func() {
			for !stop.Load() {
				kb := s.KB().Snapshot()
				m := kb.Match("最多能报多少钱")
				if _, ok := kb.Render(m.Best(), model.DateOf(now)); !ok {
					errc <- "matched entry " + m.Best() + " is not in the same knowledge base"
					return
				}
				if r, err := s.Engine().Compute(in); err != nil || r.TotalFen != 5_000 {
					errc <- "compute during a save: " + r.TotalFen.Yuan()
					return
				}
				reads.Add(1)
			}
		})
	}
	for i := range 6 {
		cur := entry(t, s, "cap")
		e := cur.Entry
		e.Answer = strings.Repeat("改", i+1) + "：每人每年最多{cap}。"
		if _, err := s.SaveEntry(ctx, admin, e, cur.Revision); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			draft, _ := s.DraftVersion()
			if _, err := s.AddVersion(ctx, admin, draft); err != nil {
				t.Fatal(err)
			}
		}
	}
	for reads.Load() < 50 && len(errc) == 0 {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for msg := range errc {
		t.Error(msg)
	}
	if got := render(s, "cap"); !strings.HasPrefix(got, "改改改改改改：") {
		t.Errorf("final answer = %q, want the last save", got)
	}
}
