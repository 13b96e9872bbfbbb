package model

import (
	"math"
	"testing"
)

func TestFenYuan(t *testing.T) {
	tests := []struct {
		f             Fen
		plain, groupd string
	}{
		{0, "0.00", "0.00"},
		{5, "0.05", "0.05"},
		{-5, "-0.05", "-0.05"},
		{123456, "1234.56", "1,234.56"},
		{20065300, "200653.00", "200,653.00"},
		{-100000000, "-1000000.00", "-1,000,000.00"},
		{99999, "999.99", "999.99"},
		{math.MinInt64, "-92233720368547758.08", "-92,233,720,368,547,758.08"},
	}
	for _, tc := range tests {
		if got := tc.f.Yuan(); got != tc.plain {
			t.Errorf("Fen(%d).Yuan() = %q, want %q", int64(tc.f), got, tc.plain)
		}
		if got := tc.f.YuanGrouped(); got != tc.groupd {
			t.Errorf("Fen(%d).YuanGrouped() = %q, want %q", int64(tc.f), got, tc.groupd)
		}
		if tc.f != math.MinInt64 {
			if back, err := ParseYuan(tc.plain); err != nil || back != tc.f {
				t.Errorf("ParseYuan(%q) = %d, %v, want %d", tc.plain, back, err, tc.f)
			}
		}
	}
}

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{{"账户状态异常", 4, "账户状态"}, {"short", 10, "short"}, {"abc", 3, "abc"}, {"", 2, ""}} {
		if got := Fit(tc.in, tc.n); got != tc.want {
			t.Errorf("Fit(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
