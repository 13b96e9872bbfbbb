package bot

import (
	"strings"
	"unicode"
)

// normalize folds full-width ASCII to half-width, upper case to lower case, and the ideographic
// space to a space, so that "ＡＢＣ１２" and "abc12" tokenize alike.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// isHan reports whether r is a CJK ideograph (one token each).
func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// isWord reports whether r belongs to a run kept whole: ASCII letters and digits.
func isWord(r rune) bool { return r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }

// stopChars are particles that carry no topic. Dropping them keeps a chatty query from being
// diluted ("请问一下我的钱到了吗" scores like "钱到").
const stopChars = "的了吗呢啊吧呀嘛哦哈么请问一下个嗯呗啥咋什怎啦样"

// tokens splits text into retrieval terms: each CJK character is a term, runs of ASCII letters
// and digits are one term, everything else separates. Stop characters are dropped.
func tokens(s string) []string {
	s = normalize(s)
	out := make([]string, 0, len(s)/3+1)
	start := -1
	for i, r := range s {
		if isWord(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, s[start:i])
			start = -1
		}
		if isHan(r) && !strings.ContainsRune(stopChars, r) {
			out = append(out, string(r))
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// compact returns s normalized with spaces and punctuation removed, the key of the pinned table
// and of the "no two phrasings alike" check.
func compact(s string) string {
	s = normalize(s)
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
