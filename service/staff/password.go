package staff

import (
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/frequency"

	"huzhu/service/errs"
)

// Password rules, after OWASP ASVS level 2 (V2.1): length rather than composition, and no
// password that attackers try first.
const (
	minPasswordRunes = 12 // ASVS 2.1.1
	maxPasswordBytes = 72 // bcrypt reads no further
	// minPasswordScore is zxcvbn's score a password must reach: 3 is "safely unguessable:
	// moderate protection from an offline slow-hash scenario" (about 10^8 guesses and more).
	minPasswordScore = 3
)

func passwordError(code, message, fix string) error {
	return &errs.Error{Kind: errs.KindInvalid, Code: code, Field: "password", Message: message, Fix: fix}
}

// checkPassword enforces the rules of a new password for the account username. Each rule has its
// own code: staff.password_short, staff.password_long, staff.password_username,
// staff.password_common (in the 30,000 most common passwords that zxcvbn ships, from leaked
// password lists) and staff.password_guessable (keyboard runs, repeats, dates, words: zxcvbn
// estimates fewer than 10^8 guesses). The password is never logged.
func checkPassword(pw, username string) error {
	const fix = "建议用三四个不相关的词或一句话，12 个字以上，例如“春天骑车去颐和园看荷花吧”"
	if utf8.RuneCountInString(pw) < minPasswordRunes {
		return passwordError("staff.password_short", "密码至少 12 个字", fix)
	}
	if len(pw) > maxPasswordBytes {
		return passwordError("staff.password_long", "密码最长 72 个字节（汉字每个占 3 个字节）", "请换一个短一些的密码")
	}
	lower := strings.ToLower(pw)
	if u := strings.ToLower(strings.TrimSpace(username)); len(u) >= 3 && strings.Contains(lower, u) {
		return passwordError("staff.password_username", "密码不能包含用户名", fix)
	}
	for _, common := range frequency.FrequencyLists["passwords"] {
		if lower == common {
			return passwordError("staff.password_common", "这是最常见的密码之一，很容易被猜到", fix)
		}
	}
	if zxcvbn.PasswordStrength(pw, []string{username, "huzhu", "admin"}).Score < minPasswordScore {
		return passwordError("staff.password_guessable", "密码太容易被猜到（键盘顺序、重复字符、常见词或日期）", fix)
	}
	return nil
}
