package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"huzhu/model"
)

// A line's explanation is stored with every payout line, a million of them per settlement, so it
// is stored compactly: each step as the number of the sentence pattern it follows and the values
// that fill the pattern's holes. DecodeSteps writes the sentences again, byte for byte as the
// engine wrote them. A step whose sentence follows no known pattern (the engine's wording changed
// after this file) is stored as it is, so EncodeSteps never loses anything; a test keeps the
// patterns in step with the engine.
//
// The stored form is "E1" followed by ";step" for each step, where a step is
//
//	<pattern>,<RatioBP>,<AmountFen>[,<hole value>...]   a sentence that follows a pattern
//	-,<RatioBP>,<AmountFen>,<Kind>,<Text>               any other step
//
// Numbers are decimal; a string is its length in bytes, ':' and the bytes. A {P} or {Y} hole that
// holds the step's own RatioBP or AmountFen is left empty. Pattern numbers are
// stored, so patterns are only ever added at the end of stepPatterns, never changed or removed:
// lines computed years ago must still read back. Rows written before this form hold the steps as
// JSON; DecodeSteps reads those too.

const encodedPrefix = "E1"

// Holes of a pattern, written {x} in its sentence:
//
//	{s} any text           {Y} yuan with " 元"   {G} yuan alone ("1,234.56")
//	{P} "52.5%"            {p} "5" (percent without the sign)
//	{D} "2021年7月1日"      {L} a claim type's label   {K} bonus kinds joined by "、"
//	{d} an integer
type pattern struct {
	kind string
	text string
}

// stepPatterns are the sentences of engine.go's pay and ladder, in the order they were added.
// Read-only: the index of each is stored in payout lines.
var stepPatterns = [...]pattern{
	0:  {StepVersion, "适用政策：{s}（{D}起）"},
	1:  {StepDeductible, "{L}每年起付 {Y}，本年度此前已扣 {Y}，本次从自付一 {Y}中扣除 {Y}"},
	2:  {StepDeductible, "{L}每年起付 {Y}，本年度已扣满，本次不再扣除"},
	3:  {StepBonus, "{K}报销比例提高 {p} 个百分点：{P} + {P} = {P}"},
	4:  {StepBonus, "{K}报销比例提高 {p} 个百分点，多种身份只提高一次：{P} + {P} = {P}"},
	5:  {StepBonus, "{K}报销比例提高 {p} 个百分点：{P} + {P} = {P}，比例最高 100%"},
	6:  {StepBonus, "{K}报销比例提高 {p} 个百分点，多种身份只提高一次：{P} + {P} = {P}，比例最高 100%"},
	7:  {StepRatio, "{L}自付一 {Y} × {P} = {Y}"},
	8:  {StepRatio, "扣除起付后的{L}自付一 {Y} × {P} = {Y}"},
	9:  {StepLadder, "重大疾病超过基本医疗保险封顶线的自付一 {Y}，按本年度累计金额分段报销（本年度此前已累计 {Y}）"},
	10: {StepLadder, "第{d}段（累计 {G} 至 {Y}）：{Y} × {P} = {Y}"},
	11: {StepLadder, "第{d}段（累计 {G} 元以上）：{Y} × {P} = {Y}"},
	12: {StepAboveCapNotCovered, "超过基本医疗保险封顶线的自付一 {Y} 不予报销：只有重大疾病超过封顶线的费用才按金额分段报销"},
	13: {StepCap, "按上述计算为 {Y}；本年度累计已获互助金 {Y}，已达到年度最高 {Y}，本次不再支付"},
	14: {StepCap, "按上述计算为 {Y}；本年度累计已获互助金 {Y}，年度最高 {Y}，本次最多 {Y}"},
	15: {StepTotal, "本次互助金 {Y}"},
}

// Codes of {L} and {K} values. Stored: append only.
var (
	claimCodes = [...]model.ClaimType{model.ClaimOutpatient, model.ClaimInpatient, model.ClaimSpecialInpatient}
	bonusCodes = [...]BonusKind{BonusHardship, BonusModelWorker} // bit i of a {K} value; joined in this order
)

const maxHoles = 8

// hole is one filled hole: its text in the sentence and the value stored for it.
type hole struct {
	kind byte
	text string
	num  int64
}

// EncodeSteps returns the compact form of steps that DecodeSteps reads back.
func EncodeSteps(steps []Step) string {
	return string(AppendSteps(make([]byte, 0, 24*len(steps)+8), steps))
}

// AppendSteps appends the compact form of steps to b, for callers that encode many lines.
func AppendSteps(b []byte, steps []Step) []byte {
	b = append(b, encodedPrefix...)
	var holes [maxHoles]hole
	for _, s := range steps {
		b = append(b, ';')
		id, n := -1, 0
		for i := range stepPatterns {
			if stepPatterns[i].kind != s.Kind {
				continue
			}
			if n = matchPattern(stepPatterns[i].text, s.Text, &holes); n >= 0 {
				id = i
				break
			}
		}
		if id < 0 {
			b = append(b, '-', ',')
			b = strconv.AppendInt(b, int64(s.RatioBP), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(s.AmountFen), 10)
			b = append(b, ',')
			b = appendString(b, s.Kind)
			b = append(b, ',')
			b = appendString(b, s.Text)
			continue
		}
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(s.RatioBP), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(s.AmountFen), 10)
		for _, h := range holes[:n] {
			b = append(b, ',')
			switch {
			case h.kind == 's':
				b = appendString(b, h.text)
			case sameAsStep(h.kind, h.num, s):
				// left empty: the step's own figure
			default:
				b = strconv.AppendInt(b, h.num, 10)
			}
		}
	}
	return b
}

// sameAsStep reports whether a hole holds the step's own ratio or amount, which the stored
// form leaves empty rather than repeat.
func sameAsStep(kind byte, num int64, s Step) bool {
	switch kind {
	case 'P':
		return num == int64(s.RatioBP)
	case 'Y':
		return num == int64(s.AmountFen)
	}
	return false
}

func appendString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// matchPattern fills holes from text if text follows pattern p and returns how many it filled,
// or -1. It accepts only a text that its holes' values write back exactly, so that the pattern
// and the values always give text again.
func matchPattern(p, text string, holes *[maxHoles]hole) int {
	n := 0
	lit, rest := cutLiteral(p)
	if !strings.HasPrefix(text, lit) {
		return -1
	}
	text = text[len(lit):]
	for rest != "" {
		// rest is "{x}" then a literal up to the next hole.
		if len(rest) < 3 || rest[0] != '{' || rest[2] != '}' || n == maxHoles {
			return -1
		}
		kind := rest[1]
		lit, rest = cutLiteral(rest[3:])
		var v string
		switch {
		case lit == "" && rest == "":
			v, text = text, ""
		case lit == "":
			return -1 // two holes in a row: patterns do not have them
		default:
			i := strings.Index(text, lit)
			if kind == 's' {
				i = strings.LastIndex(text, lit) // free text may hold the literal itself
			}
			if i < 0 {
				return -1
			}
			v, text = text[:i], text[i+len(lit):]
		}
		num, ok := parseHole(kind, v)
		if !ok {
			return -1
		}
		holes[n] = hole{kind: kind, text: v, num: num}
		n++
	}
	if text != "" {
		return -1
	}
	return n
}

// cutLiteral splits p at its first hole.
func cutLiteral(p string) (lit, rest string) {
	if i := strings.IndexByte(p, '{'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

// parseHole returns the stored value of hole text v, accepting v only if formatHole writes it
// back exactly.
func parseHole(kind byte, v string) (int64, bool) {
	var n int64
	switch kind {
	case 's':
		return 0, true
	case 'Y', 'G':
		s := v
		if kind == 'Y' {
			var ok bool
			if s, ok = strings.CutSuffix(v, " 元"); !ok {
				return 0, false
			}
		}
		var ok bool
		if n, ok = parseYuan(s); !ok {
			return 0, false
		}
	case 'P', 'p':
		s := v
		if kind == 'P' {
			var ok bool
			if s, ok = strings.CutSuffix(v, "%"); !ok {
				return 0, false
			}
		}
		whole, frac, _ := strings.Cut(s, ".")
		if len(frac) > 2 {
			return 0, false
		}
		frac += "00"[len(frac):]
		w, err1 := strconv.ParseInt(whole, 10, 32)
		f, err2 := strconv.ParseInt(frac, 10, 32)
		if err1 != nil || err2 != nil || w < 0 {
			return 0, false
		}
		n = w*100 + f
	case 'd':
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil {
			return 0, false
		}
	case 'D':
		y, r, ok1 := strings.Cut(v, "年")
		m, r, ok2 := strings.Cut(r, "月")
		d, r, ok3 := strings.Cut(r, "日")
		if !ok1 || !ok2 || !ok3 || r != "" {
			return 0, false
		}
		yi, err1 := strconv.Atoi(y)
		mi, err2 := strconv.Atoi(m)
		di, err3 := strconv.Atoi(d)
		if err1 != nil || err2 != nil || err3 != nil || yi < 1 || yi > 9999 || mi < 1 || mi > 12 || di < 1 || di > 31 {
			return 0, false
		}
		n = int64(yi*10000 + mi*100 + di)
	case 'L':
		n = -1
		for i, c := range claimCodes {
			if c.Label() == v {
				n = int64(i)
			}
		}
		if n < 0 {
			return 0, false
		}
	case 'K':
		for part := range strings.SplitSeq(v, "、") {
			i := 0
			for i < len(bonusCodes) && bonusCodes[i].Label() != part {
				i++
			}
			if i == len(bonusCodes) {
				return 0, false
			}
			n |= 1 << i
		}
	default:
		return 0, false
	}
	var buf [64]byte
	w, ok := formatHole(buf[:0], kind, n, "")
	return n, ok && string(w) == v
}

// parseYuan reads an amount written as appendYuan writes it, except that it does not check the
// grouping (the caller writes the amount back and compares).
func parseYuan(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if len(s) < 4 || len(s) > 24 || s[len(s)-3] != '.' {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			n = n*10 + int64(c-'0')
		case c == ',' && i < len(s)-3, i == len(s)-3:
		default:
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

// appendYuan writes fen as yuan with thousands separators and two decimals ("200,653.00"), as
// model.Fen.YuanGrouped does. The explanation keeps its own copy so that stored lines read back
// as they were written.
func appendYuan(b []byte, fen int64) []byte {
	v := uint64(fen)
	if fen < 0 {
		b = append(b, '-')
		v = -v
	}
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], v/100, 10)
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	frac := v % 100
	return append(b, '.', byte('0'+frac/10), byte('0'+frac%10))
}

// appendPercent writes basis points as a percentage without trailing zeros ("55", "52.5"), as
// model.BP.Percent does, without the sign.
func appendPercent(b []byte, bp int64) []byte {
	if bp < 0 {
		b = append(b, '-')
		bp = -bp
	}
	b = strconv.AppendInt(b, bp/100, 10)
	if f := bp % 100; f != 0 {
		b = append(b, '.', byte('0'+f/10))
		if f%10 != 0 {
			b = append(b, byte('0'+f%10))
		}
	}
	return b
}

// formatHole appends the text of a hole of kind holding num (or s, for {s}).
func formatHole(b []byte, kind byte, num int64, s string) ([]byte, bool) {
	switch kind {
	case 's':
		return append(b, s...), true
	case 'Y':
		return append(appendYuan(b, num), " 元"...), true
	case 'G':
		return appendYuan(b, num), true
	case 'P':
		return append(appendPercent(b, num), '%'), true
	case 'p':
		return appendPercent(b, num), true
	case 'd':
		return strconv.AppendInt(b, num, 10), true
	case 'D':
		if num < 10101 || num > 99991231 {
			return b, false
		}
		b = strconv.AppendInt(b, num/10000, 10)
		b = append(b, "年"...)
		b = strconv.AppendInt(b, num/100%100, 10)
		b = append(b, "月"...)
		b = strconv.AppendInt(b, num%100, 10)
		return append(b, "日"...), true
	case 'L':
		if num < 0 || num >= int64(len(claimCodes)) {
			return b, false
		}
		return append(b, claimCodes[num].Label()...), true
	case 'K':
		if num <= 0 || num >= 1<<len(bonusCodes) {
			return b, false
		}
		first := true
		for i, k := range bonusCodes {
			if num&(1<<i) != 0 {
				if !first {
					b = append(b, "、"...)
				}
				b = append(b, k.Label()...)
				first = false
			}
		}
		return b, true
	}
	return b, false
}

// DecodeSteps returns the steps of a stored explanation: the compact form EncodeSteps writes, or
// the JSON array of steps older rows hold. An empty explanation (a line that pays nothing for a
// reason) has no steps. The error says what is wrong with s; it means the row is corrupt.
func DecodeSteps(s string) ([]Step, error) {
	switch {
	case s == "":
		return nil, nil
	case strings.HasPrefix(s, "["):
		steps := []Step{}
		if err := json.Unmarshal([]byte(s), &steps); err != nil {
			return nil, fmt.Errorf("explanation: %w", err)
		}
		return steps, nil
	case !strings.HasPrefix(s, encodedPrefix):
		return nil, errors.New("explanation: unknown format")
	}
	d := decoder{s: s[len(encodedPrefix):]}
	steps := []Step{}
	var text []byte
	for d.s != "" {
		if !d.take(';') {
			return nil, d.fail("want ';'")
		}
		if d.take('-') {
			var st Step
			st.RatioBP, st.AmountFen = model.BP(d.comma().int()), model.Fen(d.comma().int())
			st.Kind, st.Text = d.comma().str(), d.comma().str()
			if d.err != nil {
				return nil, d.err
			}
			steps = append(steps, st)
			continue
		}
		id := d.int()
		if d.err == nil && (id < 0 || id >= int64(len(stepPatterns))) {
			return nil, d.fail(fmt.Sprintf("unknown pattern %d", id))
		}
		st := Step{RatioBP: model.BP(d.comma().int()), AmountFen: model.Fen(d.comma().int())}
		if d.err != nil {
			return nil, d.err
		}
		p := stepPatterns[id]
		st.Kind = p.kind
		text = text[:0]
		lit, rest := cutLiteral(p.text)
		text = append(text, lit...)
		for rest != "" {
			kind := rest[1]
			lit, rest = cutLiteral(rest[3:])
			var (
				num int64
				str string
			)
			switch d.comma(); {
			case kind == 's':
				str = d.str()
			case d.err == nil && (d.s == "" || d.s[0] == ',' || d.s[0] == ';') && (kind == 'P' || kind == 'Y'):
				num = int64(st.RatioBP)
				if kind == 'Y' {
					num = int64(st.AmountFen)
				}
			default:
				num = d.int()
			}
			if d.err != nil {
				return nil, d.err
			}
			var ok bool
			if text, ok = formatHole(text, kind, num, str); !ok {
				return nil, d.fail(fmt.Sprintf("bad value %d for {%c} of pattern %d", num, kind, id))
			}
			text = append(text, lit...)
		}
		st.Text = string(text)
		steps = append(steps, st)
	}
	return steps, nil
}

// decoder reads the compact form; the first error sticks and makes later reads return zero.
type decoder struct {
	s   string
	err error
}

func (d *decoder) fail(msg string) error {
	if d.err == nil {
		d.err = fmt.Errorf("explanation: %s at %q", msg, d.s[:min(len(d.s), 20)])
	}
	return d.err
}

func (d *decoder) take(c byte) bool {
	if d.err == nil && d.s != "" && d.s[0] == c {
		d.s = d.s[1:]
		return true
	}
	return false
}

func (d *decoder) comma() *decoder {
	if d.err == nil && !d.take(',') {
		d.fail("want ','")
	}
	return d
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	i := 0
	if i < len(d.s) && d.s[i] == '-' {
		i++
	}
	for i < len(d.s) && d.s[i] >= '0' && d.s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(d.s[:i], 10, 64)
	if err != nil {
		d.fail("want a number")
		return 0
	}
	d.s = d.s[i:]
	return n
}

func (d *decoder) str() string {
	n := d.int()
	if d.err != nil {
		return ""
	}
	if !d.take(':') || n < 0 || n > int64(len(d.s)) {
		d.fail("bad string")
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}
