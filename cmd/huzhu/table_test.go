package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"
)

// TestTableAlignsChinese: each column starts at the same display column on every line, whether
// the cells before it are 汉字 (two cells wide) or ASCII. text/tabwriter failed this.
func TestTableAlignsChinese(t *testing.T) {
	var tb table
	tb.row("批次", "核算期", "类别", "金额(元)")
	tb.row("12", "2025-Q1", "门诊", "1,234.56")
	tb.row("3", "2025-03", "特病住院", "0.00")
	var out bytes.Buffer
	if err := tb.write(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	starts := func(line string) []int { // display column where each cell begins
		var cols []int
		w, inCell := 0, false
		for _, r := range line {
			if r != ' ' && !inCell {
				cols = append(cols, w)
			}
			inCell = r != ' '
			w += runewidth.RuneWidth(r)
		}
		return cols
	}
	want := starts(lines[0])
	for _, l := range lines[1:] {
		if got := starts(l); len(got) != len(want) || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
			t.Errorf("columns of %q start at %v, want %v:\n%s", l, got, want, out.String())
		}
	}
}

func TestArityErrorsNameTheArgument(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"import", "template"}, "import template: give roster|medical"},
		{[]string{"settle"}, "settle: give PERIOD"},
		{[]string{"pay", "export", "1", "2"}, "pay export: give one RUN_ID, not 2 arguments"},
	}
	for _, tc := range tests {
		err := run(context.Background(), tc.args, testEnv(t, nil), strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("huzhu %s = %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestServeAddrFlag: --addr wins over HUZHU_HTTP_ADDR, as its help says.
func TestServeAddrFlag(t *testing.T) {
	startServe(t, testEnv(t, map[string]string{"HUZHU_HTTP_ADDR": "not-an-address"}), "--addr", "127.0.0.1:0")
}
