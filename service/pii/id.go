package pii

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// IDNumber is a validated 18-character resident ID number (GB 11643-1999). Its String method
// shows only 尾号 last 4, so it is safe in logs and errors.
type IDNumber struct{ v string }

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheckChars = "10X98765432"

// ParseIDNumber validates length, digits, birth date and the GB 11643 check digit. Errors are in
// Chinese, for the person who typed it, and never repeat the number.
func ParseIDNumber(s string) (IDNumber, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len([]rune(s)) != 18 {
		return IDNumber{}, fmt.Errorf("身份证号应为18位，现在是%d位", len([]rune(s)))
	}
	for i, r := range s[:17] {
		if !unicode.IsDigit(r) || r > '9' {
			return IDNumber{}, fmt.Errorf("身份证号第%d位不是数字", i+1)
		}
	}
	last := s[17]
	if !(last >= '0' && last <= '9') && last != 'X' {
		return IDNumber{}, fmt.Errorf("身份证号最后一位应为数字或X")
	}
	if _, err := time.Parse("20060102", s[6:14]); err != nil {
		return IDNumber{}, fmt.Errorf("身份证号中的出生日期不对")
	}
	if CheckDigit(s[:17]) != last {
		return IDNumber{}, fmt.Errorf("身份证号校验位不对，请核对最后一位")
	}
	return IDNumber{v: s}, nil
}

// CheckDigit returns the GB 11643 check character for the first 17 digits.
func CheckDigit(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// Value returns the full number, for encryption and hashing only.
func (id IDNumber) Value() string { return id.v }

// String shows only the last four characters.
func (id IDNumber) String() string { return Mask(id.v) }

// BirthDate returns the date of birth as 2006-01-02.
func (id IDNumber) BirthDate() string {
	if id.v == "" {
		return ""
	}
	return id.v[6:10] + "-" + id.v[10:12] + "-" + id.v[12:14]
}

// Gender returns "M" or "F" from the 17th digit.
func (id IDNumber) Gender() string {
	if id.v == "" {
		return ""
	}
	if (id.v[16]-'0')%2 == 1 {
		return "M"
	}
	return "F"
}

// NormalizeDigits strips spaces and dashes from a card or account number and checks that what is
// left is digits of a plausible length.
func NormalizeDigits(s string, minLen, maxLen int) (string, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u00a0' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("只能包含数字")
		}
	}
	if len(s) < minLen || len(s) > maxLen {
		if minLen == maxLen {
			return "", fmt.Errorf("应为%d位数字", minLen)
		}
		return "", fmt.Errorf("应为%d到%d位数字", minLen, maxLen)
	}
	return s, nil
}

// NormalizePhone accepts an 11-digit mainland mobile number, with an optional +86.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "+86"), "86-")
	p, err := NormalizeDigits(s, 11, 11)
	if err != nil {
		return "", fmt.Errorf("手机号%s", err.Error())
	}
	if p[0] != '1' {
		return "", fmt.Errorf("手机号应以1开头")
	}
	return p, nil
}

// NormalizeSocialCard strips spaces and dashes and upper-cases letters: social-security card
// numbers are digits, sometimes with letters, 8 to 20 characters. Every place that hashes one
// (roster and 医保 imports, binding) must normalize it here, or the hashes never match.
func NormalizeSocialCard(s string) (string, error) {
	s = strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u00a0' {
			return -1
		}
		return r
	}, strings.TrimSpace(s)))
	for _, r := range s {
		if !(r >= '0' && r <= '9') && !(r >= 'A' && r <= 'Z') {
			return "", fmt.Errorf("只能包含数字和字母")
		}
	}
	if len(s) < 8 || len(s) > 20 {
		return "", fmt.Errorf("应为8到20位")
	}
	return s, nil
}
