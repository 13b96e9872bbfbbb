package wechat

import (
	"strings"
	"time"
	"unicode"

	"huzhu/model"
)

// WeChat rejects a subscribe or template message (47003) when a value breaks its field type's
// rule. The helpers below turn huzhu's values into valid ones. The rules, from WeChat's
// subscribe-message documentation (the official account's new template messages follow them):
//
//	thing.DATA             at most 20 characters (Chinese, digits, letters, symbols)
//	amount.DATA            a number of at most 10 digits, decimals allowed, "元" allowed at the end
//	character_string.DATA  at most 32 digits, letters or symbols (no Chinese)
//	time.DATA              24-hour time, optionally with the date: "2025-04-30 15:04"
//	date.DATA              a date, optionally with the time: "2025-04-30"
//	phrase.DATA            at most 5 Chinese characters, nothing else

// Field limits, in characters (runes).
const (
	ThingMax           = 20
	CharacterStringMax = 32
	PhraseMax          = 5
)

// Thing makes s a valid thing value: line breaks and tabs become spaces, surrounding space is
// trimmed and a value longer than 20 characters is cut to 19 followed by "…".
func Thing(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s))
	r := []rune(s)
	if len(r) <= ThingMax {
		return s
	}
	return string(r[:ThingMax-1]) + "…"
}

// Amount formats f as an amount value in yuan with two decimals and "元", e.g. 20065300 fen →
// "200653.00元". Amounts in notices are never negative; a negative f keeps its sign, which
// WeChat would reject.
func Amount(f model.Fen) string {
	return f.Yuan() + "元"
}

// CharacterString makes s a valid character_string value: it keeps printable ASCII only (no
// spaces, no Chinese) and at most the first 32 characters. Use it for codes and masked numbers
// such as "****1234".
func CharacterString(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			continue
		}
		if n == CharacterStringMax {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// Time formats t in Asia/Shanghai as a time value, "2006-01-02 15:04".
func Time(t time.Time) string {
	return t.In(model.Shanghai).Format("2006-01-02 15:04")
}

// Date formats the civil date d as a date value, "2006-01-02" (d is already a Shanghai date).
func Date(d model.Date) string {
	return string(d)
}

// Phrase makes s a valid phrase value: Chinese characters only, at most 5 (e.g. "已到账",
// "结算中"); other characters are dropped.
func Phrase(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if !unicode.Is(unicode.Han, r) {
			continue
		}
		if n == PhraseMax {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
