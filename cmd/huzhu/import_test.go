package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportCommands(t *testing.T) {
	env := testEnv(t, nil)
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), args, env, strings.NewReader(""), &out, io.Discard)
		return out.String(), err
	}
	mustStaff(t, env, "op1", "operator")
	tpl, err := cli("import", "template", "medical")
	if err != nil || !strings.HasPrefix(tpl, "PK") {
		t.Fatalf("template: %v (starts %q)", err, tpl[:min(4, len(tpl))])
	}
	dir := t.TempDir()
	rosterFile := filepath.Join(dir, "roster.csv")
	os.WriteFile(rosterFile, []byte("工会编码,工会名称,姓名,身份证号,社保卡号\nU1,示例工会,张一,110199199001010010,900000000001\nU1,,坏,110199199001010011,\n"), 0o600)
	report := filepath.Join(dir, "problems.csv")
	out, err := cli("--as", "op1", "import", "roster", rosterFile, "--report", report)
	if err != nil || !strings.Contains(out, "新增 1") || !strings.Contains(out, "第 3 行 身份证号：身份证号校验位不对") {
		t.Fatalf("import roster: %q, %v", out, err)
	}
	if b, _ := os.ReadFile(report); !strings.Contains(string(b), "校验位") {
		t.Errorf("report file = %q", b)
	}
	medFile := filepath.Join(dir, "yb.csv")
	os.WriteFile(medFile, []byte("结算单号,社保卡号,类别,就诊日期,医疗费总额,自付一\nJS1,900000000001,门诊,2025-03-14,100,40\n"), 0o600)
	if out, err := cli("--as", "op1", "import", "medical", medFile); err != nil || !strings.Contains(out, "新增 1") {
		t.Errorf("import medical: %q, %v", out, err)
	}
	if out, err := cli("--as", "op1", "settle", "2025-Q1"); err != nil || !strings.Contains(out, "1 笔互助金共 20.00 元") {
		t.Errorf("settle after import: %q, %v", out, err)
	}
	if out, err := cli("stats", "--year", "2025"); err != nil || !strings.Contains(out, "花名册 1 人，今天在保 1 人") || !strings.Contains(out, "2025年") {
		t.Errorf("stats: %q, %v", out, err)
	}
	for _, args := range [][]string{{"import", "template", "nope"}, {"import", "roster", filepath.Join(dir, "missing.csv")}} {
		if _, err := cli(args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
