package wechat

import (
	"testing"
	"time"
	"unicode/utf8"

	"huzhu/model"
)

func TestThing(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"住院互助金", "住院互助金"},
		{"  门诊\n互助金\t", "门诊 互助金"},
		{"一二三四五六七八九十一二三四五六七八九十", "一二三四五六七八九十一二三四五六七八九十"}, // exactly 20
		{"一二三四五六七八九十一二三四五六七八九十一", "一二三四五六七八九十一二三四五六七八九…"},
		{"abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrs…"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := Thing(tc.in)
			if got != tc.want {
				t.Errorf("Thing(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > ThingMax {
				t.Errorf("Thing(%q) has %d runes, want ≤ %d", tc.in, n, ThingMax)
			}
		})
	}
}

func TestAmount(t *testing.T) {
	tests := []struct {
		in   model.Fen
		want string
	}{
		{20065300, "200653.00元"},
		{1, "0.01元"},
		{0, "0.00元"},
		{123456, "1234.56元"},
	}
	for _, tc := range tests {
		if got := Amount(tc.in); got != tc.want {
			t.Errorf("Amount(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCharacterString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"****1234", "****1234"},
		{"尾号 1234", "1234"},
		{"2025-Q1/line-42", "2025-Q1/line-42"},
		{"0123456789012345678901234567890123456789", "01234567890123456789012345678901"},
	}
	for _, tc := range tests {
		if got := CharacterString(tc.in); got != tc.want {
			t.Errorf("CharacterString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTimeAndDate(t *testing.T) {
	at := time.Date(2025, 4, 30, 7, 5, 0, 0, time.UTC) // 15:05 in Shanghai
	if got, want := Time(at), "2025-04-30 15:05"; got != want {
		t.Errorf("Time(%v) = %q, want %q", at, got, want)
	}
	if got, want := Date(model.Date("2025-04-30")), "2025-04-30"; got != want {
		t.Errorf("Date = %q, want %q", got, want)
	}
}

func TestPhrase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"已到账", "已到账"},
		{"结算中!", "结算中"},
		{"已经打入您的京卡", "已经打入您"},
		{"OK", ""},
	}
	for _, tc := range tests {
		if got := Phrase(tc.in); got != tc.want {
			t.Errorf("Phrase(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
