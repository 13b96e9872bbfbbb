package model

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Fit cuts s to the first n characters (runes), which is what a column of size:n holds on MySQL
// (utf8mb4 VARCHAR counts characters), so that a long file name or bank reason never fails an
// insert and never splits a character.
func Fit(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// Errors of CheckText. Their text is plain Chinese, for the row problem shown to staff.
var (
	ErrTextEncoding = errors.New("含有无法识别的字节（乱码），文件的编码可能有误")
	ErrTextControl  = errors.New("含有换行、制表符、空字符等看不见的控制字符")
)

// CheckText reports whether s is text that may be stored as it is: valid UTF-8, no U+FFFD (the
// mark a decoder leaves where it met bytes it could not read, so GBK and UTF-8 input are held to
// the same rule), no control characters (C0, DEL, C1, including NUL, tab and line breaks), no
// bidirectional overrides and no noncharacters. It never repairs: a caller reports the error.
func CheckText(s string) error {
	for i := 0; i < len(s); {
		if c := s[i]; c >= 0x20 && c < 0x7f { // printable ASCII: most cells are nothing else
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError: // invalid bytes decode to it with size 1, a real U+FFFD with size 3
			return ErrTextEncoding
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0): // C0, DEL, C1
			return ErrTextControl
		case r >= 0x061c && (unicode.Is(unicode.Bidi_Control, r) || unicode.Is(unicode.Noncharacter_Code_Point, r) || r == '\ufeff'):
			return ErrTextControl
		}
		i += size
	}
	return nil
}

// MiddleDot is the separator of minority and foreign names in Chinese (阿依古丽·买买提), as
// identity cards and banks write it.
const MiddleDot = '·'

// isDot reports whether r is a dot people type for MiddleDot: the katakana middle dot of Chinese
// input methods, bullets, the hyphenation point, Greek ano teleia and full stops.
func isDot(r rune) bool {
	switch r {
	case '\u00b7', '\u0387', '\u2022', '\u2027', '\u2219', '\u22c5', '\u30fb', '\uff65', '.', '．':
		return true
	}
	return false
}

// PersonName validates a person's name as identity cards and banks write it and returns it in
// one form: letters of any script (汉字 of every extension, Latin, Uyghur, Tibetan…) with their
// combining marks, MiddleDot between parts and single spaces between words. Dot variants become
// MiddleDot, U+3000 becomes a space, the text is NFC. Anything else, such as digits, brackets,
// = + - @ < and control characters, is an error in plain Chinese that names the character, so a
// name can never carry a spreadsheet formula or markup into a bank file.
func PersonName(s string) (string, error) {
	if err := CheckText(s); err != nil {
		return "", err
	}
	s = norm.NFC.String(strings.TrimSpace(strings.ReplaceAll(s, "\u3000", " ")))
	if s == "" {
		return "", errors.New("是空的")
	}
	out := make([]rune, 0, len(s))
	last := func() rune {
		if len(out) == 0 {
			return 0
		}
		return out[len(out)-1]
	}
	for i, r := range []rune(s) {
		switch {
		case unicode.IsLetter(r):
		case unicode.In(r, unicode.Mn, unicode.Mc) && (unicode.IsLetter(last()) || unicode.In(last(), unicode.Mn, unicode.Mc)):
		case isDot(r):
			if last() == ' ' {
				out = out[:len(out)-1] // "阿依古丽 · 买买提": spaces around the dot go
			}
			if !unicode.IsLetter(last()) && !unicode.In(last(), unicode.Mn, unicode.Mc) {
				return "", fmt.Errorf("第 %d 个字符：间隔号“·”只能写在两个字之间", i+1)
			}
			r = MiddleDot
		case r == ' ':
			if last() == ' ' || last() == MiddleDot {
				continue
			}
		default:
			return "", fmt.Errorf("第 %d 个字符“%s”不能用在姓名中：姓名只能包含汉字、字母、间隔号“·”和空格", i+1, visible(r))
		}
		out = append(out, r)
	}
	if last() == MiddleDot {
		return "", errors.New("间隔号“·”只能写在两个字之间")
	}
	return string(out), nil
}

// visible shows r in a message: itself when it prints, else its code point.
func visible(r rune) string {
	if unicode.IsPrint(r) && r != ' ' {
		return string(r)
	}
	return fmt.Sprintf("U+%04X", r)
}
