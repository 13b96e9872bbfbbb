package model

import (
	"fmt"
	"strconv"
	"strings"
)

// Fen is an amount of money in 分 (1/100 yuan). Every amount in huzhu is a Fen; no float ever
// holds money.
type Fen int64

// BP is a ratio in basis points: 10000 BP = 100%.
type BP int64

// FullBP is 100% in basis points.
const FullBP BP = 10000

// Yuan returns f as a plain decimal string of yuan with two places, e.g. "200653.00".
func (f Fen) Yuan() string { return string(f.appendYuan(make([]byte, 0, 24), false)) }

// YuanGrouped returns f in yuan with thousands separators, e.g. "200,653.00", for people to read.
func (f Fen) YuanGrouped() string { return string(f.appendYuan(make([]byte, 0, 32), true)) }

// appendYuan formats without fmt: explanations format several amounts per bill, and settlement
// formats millions of bills.
func (f Fen) appendYuan(b []byte, grouped bool) []byte {
	v := uint64(f)
	if f < 0 {
		b = append(b, '-')
		v = -v // two's complement: correct for math.MinInt64 too
	}
	digits := strconv.AppendUint(nil, v/100, 10)
	for i, d := range digits {
		if grouped && i > 0 && (len(digits)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, d)
	}
	frac := v % 100
	return append(b, '.', byte('0'+frac/10), byte('0'+frac%10))
}

// String implements fmt.Stringer as "¥200653.00".
func (f Fen) String() string { return "¥" + f.Yuan() }

// ParseYuan reads a decimal yuan amount with at most two decimal places ("1234", "1234.5",
// "1,234.56") into Fen without going through a float.
func ParseYuan(s string) (Fen, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", ""))
	s = strings.TrimPrefix(strings.TrimPrefix(s, "¥"), "￥")
	if s == "" {
		return 0, fmt.Errorf("amount is empty")
	}
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if intPart == "" || (hasFrac && (frac == "" || len(frac) > 2)) {
		return 0, fmt.Errorf("amount %q: want yuan with at most two decimals, like 1234.56", s)
	}
	for _, r := range intPart + frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("amount %q: want yuan with at most two decimals, like 1234.56", s)
		}
	}
	if len(intPart) > 13 {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	v, err := strconv.ParseInt(intPart+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	if neg {
		v = -v
	}
	return Fen(v), nil
}

// MulBP returns f × bp / 10000 rounded half up to the fen (四舍五入 at 0.5 fen), for f ≥ 0.
// This is huzhu's one rounding rule: every ratio is applied to one amount and rounded once;
// sums are taken of rounded amounts, never rounded again. Negative amounts round half away
// from zero so that MulBP(-x) == -MulBP(x).
func MulBP(f Fen, bp BP) Fen {
	p := int64(f) * int64(bp)
	if p >= 0 {
		return Fen((p + 5000) / 10000)
	}
	return Fen(-((-p + 5000) / 10000))
}

// Percent formats a ratio as a percentage for people, e.g. 5500 → "55%", 5250 → "52.5%".
func (b BP) Percent() string {
	if b%100 == 0 {
		return fmt.Sprintf("%d%%", b/100)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%d.%02d", b/100, b%100), "0"), ".") + "%"
}
