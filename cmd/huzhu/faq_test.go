package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"huzhu/model"
	"huzhu/service/store"
)

// TestFAQRevert: a saved change that no longer builds (as after a release) is listed by
// `faq edits` with the problem, dropped by `faq revert` with an audit row, and the knowledge base
// builds again.
func TestFAQRevert(t *testing.T) {
	getenv := testEnv(t, nil)
	cli := func(args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := run(context.Background(), args, getenv, strings.NewReader(""), &out, io.Discard)
		return out.String(), err
	}
	if _, err := cli("migrate"); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), store.Options{SQLitePath: getenv("HUZHU_DATABASE_SQLITE_PATH")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(db) })
	now := time.Now()
	bad := model.FAQEntry{Key: "what_is", Body: "id: what_is\nquestion: \"\"\nanswer: \"\"\n", UpdatedBy: "op1", CreatedAt: now, UpdatedAt: now}
	if err := db.Create(&bad).Error; err != nil {
		t.Fatal(err)
	}

	out, err := cli("faq", "edits")
	if err != nil || !strings.Contains(out, "what_is\tchanged by op1") || !strings.Contains(out, "does not build") {
		t.Fatalf("faq edits = %q, %v; want what_is listed and the build failing", out, err)
	}
	if _, err := cli("faq", "revert", "what_is"); err == nil || !strings.Contains(err.Error(), "--as") {
		t.Errorf("faq revert without naming anyone = %v, want a request for --as", err)
	}
	if _, err := cli("--break-glass", " ", "faq", "revert", "what_is"); err == nil || !strings.Contains(err.Error(), "原因") {
		t.Errorf("faq revert with an empty break-glass reason = %v, want refused", err)
	}
	// Nobody can log in to the console while serve does not start: break glass, with a reason.
	if out, err := cli("--break-glass", "serve refuses to start", "faq", "revert", "what_is"); err != nil || !strings.Contains(out, "dropped the saved change of what_is") {
		t.Fatalf("faq revert = %q, %v", out, err)
	}
	out, err = cli("faq", "edits")
	if err != nil || !strings.Contains(out, "no entry was changed") || !strings.Contains(out, "builds with these changes") {
		t.Errorf("faq edits after the revert = %q, %v; want none and a knowledge base that builds", out, err)
	}
	if _, err := cli("--break-glass", "again", "faq", "revert", "what_is"); err == nil || !strings.Contains(err.Error(), "没有在后台改过") {
		t.Errorf("second revert = %v, want faq.not_saved", err)
	}
	var logs []model.AuditLog
	db.Where("action = ?", "faq.drop_saved").Find(&logs)
	if len(logs) != 1 || logs[0].Target != "faq:what_is" || !strings.HasPrefix(logs[0].Actor, "cli:") || logs[0].Via != "break_glass" || logs[0].Role != "admin" {
		t.Errorf("audit rows = %+v, want one faq.drop_saved of faq:what_is by the CLI, marked break glass", logs)
	}
	var glass []model.AuditLog
	db.Where("action = ?", "staff.break_glass").Order("id").Find(&glass)
	if len(glass) != 2 || !strings.Contains(glass[0].Detail, "serve refuses to start") || !strings.Contains(glass[0].Detail, "faq revert") {
		t.Errorf("break-glass audit rows = %+v, want one per use with the reason and the command", glass)
	}
}
