package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPayCommands drives the payment cycle from the command line on the demo written as of a
// settlement day, 2026-10-21, when the 2026-Q3 outpatient run is approved and not yet exported:
// export it, answer 成功 for every transfer, reconcile.
func TestPayCommands(t *testing.T) {
	env := testEnv(t, nil)
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), args, env, strings.NewReader(""), &out, io.Discard)
		return out.String(), err
	}
	if out, err := cli("demo", "--as-of", "2026-10-21"); err != nil || !strings.Contains(out, "240 members") || !strings.Contains(out, "demo-operator") {
		t.Fatalf("demo: %q, %v", out, err)
	}
	list, err := cli("settle", "list")
	if err != nil {
		t.Fatal(err)
	}
	// The newest outpatient run of the demo is approved and unpaid.
	m := regexp.MustCompile(`(?m)^(\d+)\s+\d{4}-Q\d\s+门诊\s+已审核`).FindStringSubmatch(list)
	if m == nil {
		t.Fatalf("settle list shows no approved outpatient run:\n%s", list)
	}
	id := m[1]
	out, err := cli("--as", "demo-operator", "settle", "approve", id)
	if err == nil || !strings.Contains(err.Error(), "只有核算完成的草稿可以审核") {
		t.Errorf("approving an approved run: %q, %v", out, err)
	}
	dir := t.TempDir()
	out, err = cli("--as", "demo-operator", "pay", "export", id, "--out", dir)
	if err != nil || !strings.Contains(out, "北京银行") {
		t.Fatalf("pay export: %q, %v", out, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	// A lost file is written again as it was exported, while the bank has not answered.
	bm := regexp.MustCompile(`→ (\S+)（批次 (\d+)）`).FindStringSubmatch(out)
	if bm == nil {
		t.Fatalf("pay export names no batch: %q", out)
	}
	again := t.TempDir()
	if out, err := cli("--as", "demo-operator", "pay", "rebuild", bm[2], "--out", again); err != nil || !strings.Contains(out, "重新生成") {
		t.Fatalf("pay rebuild: %q, %v", out, err)
	}
	first, _ := os.ReadFile(bm[1])
	rebuilt, _ := os.ReadFile(filepath.Join(again, filepath.Base(bm[1])))
	if len(first) == 0 || !bytes.Equal(first, rebuilt) {
		t.Errorf("rebuilt file (%d bytes) differs from the exported one (%d bytes)", len(rebuilt), len(first))
	}
	var result strings.Builder
	result.WriteString("转账编号,结果\n")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows[1:] {
			result.WriteString(r[0] + ",成功\n")
		}
	}
	resultFile := filepath.Join(dir, "result.csv")
	if err := os.WriteFile(resultFile, []byte(result.String()+"NOPE,成功\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = cli("--as", "demo-operator", "pay", "import-result", resultFile)
	if err != nil || !regexp.MustCompile(`到账 [1-9]\d*，失败 0，此前已处理 0，有问题 1`).MatchString(out) || !strings.Contains(out, "NOPE") {
		t.Fatalf("pay import-result: %q, %v", out, err)
	}
	if _, err := cli("--as", "demo-operator", "pay", "rebuild", bm[2], "--out", again); err == nil || !strings.Contains(err.Error(), "已有银行回单") {
		t.Errorf("pay rebuild after the bank's answer = %v, want it refused", err)
	}
	out, err = cli("pay", "reconcile", id)
	if err != nil || !strings.Contains(out, "账目相符") || !strings.Contains(out, "转账中 0.00") {
		t.Errorf("pay reconcile: %q, %v", out, err)
	}
	out, err = cli("pay", "reconcile", "--year", "2025")
	if err != nil || !strings.Contains(out, "合计") || !strings.Contains(out, "账目相符") {
		t.Errorf("pay reconcile --year: %q, %v", out, err)
	}
	for _, args := range [][]string{{"pay", "reconcile", "1", "--year", "2025"}, {"pay", "export", "x"}, {"pay", "reconcile", "999"}, {"pay", "reissue", "999"}, {"pay", "import-result", "/nonexistent.csv"}} {
		if _, err := cli(args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
