package staff

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
)

// The second factor: TOTP (RFC 6238, 6 digits, 30 s, as every authenticator app reads it) with
// ten one-time recovery codes, stored as bcrypt hashes and shown once.

const (
	pendingTTL    = 5 * time.Minute // between the password and the code
	pendingTries  = 5               // wrong codes on one pending login before the password is asked again
	recoveryCodes = 10
	totpIssuer    = "职工医疗互助"
)

// pendingData is a login whose password was right, waiting for its code.
type pendingData struct {
	UserID   uint64 `json:"uid"`
	Username string `json:"name"` // as typed, for the (username, IP) throttle
	Password string `json:"pw"`   // credentialPrint when the password was checked
	Tries    int    `json:"tries"`
}

func pendingKey(token string) string { return "admin:2fa:" + sessionKey(token) }

func errBadCode() error {
	return errs.New(errs.KindUnauthenticated, "staff.bad_code", "验证码不对").
		WithFix("请输入身份验证器里当前显示的 6 位数字，或一个未用过的恢复码（形如 abcd-efgh）")
}

func errCodeExpired() error {
	return errs.New(errs.KindUnauthenticated, "staff.code_expired", "验证已过期，请重新登录").WithFix("输入密码后请在 5 分钟内输入验证码")
}

// SecondFactor finishes a login that Login answered with NeedsCode: code is the authenticator's
// current 6 digits or one unused recovery code (which is then used up). A code is accepted once
// only. Wrong codes count towards the (username, IP) throttle as wrong passwords do; after five
// on one pending login, or five minutes, the password must be given again (Unauthenticated
// staff.code_expired). A wrong code is Unauthenticated staff.bad_code. Audited.
func (s *Service) SecondFactor(ctx context.Context, pending, code, ip string) (Session, error) {
	b, ok, err := s.kv.Get(ctx, pendingKey(pending))
	if err != nil {
		return Session{}, fmt.Errorf("second factor: %w", err)
	}
	var pd pendingData
	if !ok || pending == "" || json.Unmarshal(b, &pd) != nil {
		return Session{}, errCodeExpired()
	}
	if err := s.slowDown(ctx, pd.Username, ip); err != nil {
		return Session{}, err
	}
	var u model.AdminUser
	if err := s.db.WithContext(ctx).Take(&u, pd.UserID).Error; err != nil || u.Disabled || credentialPrint(u) != pd.Password {
		_ = s.kv.Del(ctx, pendingKey(pending))
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return Session{}, fmt.Errorf("second factor: %w", err)
		}
		return Session{}, errCodeExpired()
	}
	entry := audit.Entry{Actor: u.Username, Role: string(u.Role), Action: "staff.login", Target: fmt.Sprintf("staff:%d", u.ID), IP: ip,
		UnionID: u.UnionID, Via: model.ViaConsole}
	method, err := s.checkCode(ctx, &u, code)
	if err != nil {
		return Session{}, err
	}
	if method == "" {
		s.fail(ctx, pd.Username, ip)
		pd.Tries++
		if pd.Tries >= pendingTries {
			_ = s.kv.Del(ctx, pendingKey(pending))
		} else if b, err := json.Marshal(pd); err == nil {
			_ = s.kv.Set(ctx, pendingKey(pending), b, pendingTTL)
		}
		entry.Outcome, entry.Detail = "denied", map[string]string{"reason": "bad_code"}
		if err := audit.Write(ctx, s.db, s.now(), entry); err != nil {
			return Session{}, fmt.Errorf("second factor: %w", err)
		}
		return Session{}, errBadCode()
	}
	_ = s.kv.Del(ctx, pendingKey(pending))
	s.forgive(ctx, pd.Username, ip)
	entry.Detail = map[string]string{"step": method}
	if err := audit.Write(ctx, s.db, s.now(), entry); err != nil {
		return Session{}, fmt.Errorf("second factor: %w", err)
	}
	return s.open(ctx, u)
}

// checkCode returns "totp" or "recovery" when code is right for u (using up a recovery code or
// the TOTP time step), "" when it is not.
func (s *Service) checkCode(ctx context.Context, u *model.AdminUser, code string) (string, error) {
	code = strings.ToLower(strings.Join(strings.Fields(code), ""))
	if len(code) == 6 && strings.Trim(code, "0123456789") == "" {
		secret, err := s.secret(u.TOTPSecretEnc)
		if err != nil {
			return "", err
		}
		step, ok := s.matchTOTP(secret, code)
		if !ok {
			return "", nil
		}
		// A code works once: whoever watched it typed cannot use it within its 90 seconds.
		fresh, err := s.kv.SetNX(ctx, fmt.Sprintf("admin:totp-used:%d:%d", u.ID, step), []byte("1"), 3*time.Minute)
		if err != nil {
			return "", fmt.Errorf("second factor: %w", err)
		}
		if !fresh {
			return "", nil
		}
		return "totp", nil
	}
	var hashes []string
	if u.RecoveryCodes != "" {
		if err := json.Unmarshal([]byte(u.RecoveryCodes), &hashes); err != nil {
			return "", fmt.Errorf("staff %d recovery codes: %w", u.ID, err)
		}
	}
	code = strings.ReplaceAll(code, "-", "")
	for i, h := range hashes {
		if bcrypt.CompareHashAndPassword([]byte(h), []byte(code)) != nil {
			continue
		}
		rest, _ := json.Marshal(append(hashes[:i:i], hashes[i+1:]...))
		res := s.db.WithContext(ctx).Model(&model.AdminUser{}).Where("id = ? AND recovery_codes = ?", u.ID, u.RecoveryCodes).
			Update("recovery_codes", string(rest))
		if res.Error != nil {
			return "", fmt.Errorf("use recovery code: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return "", nil // used at the same moment by another request
		}
		return "recovery", nil
	}
	return "", nil
}

// matchTOTP checks code against the time steps around now (one step of clock drift either way)
// and returns the step it matched.
func (s *Service) matchTOTP(secret, code string) (int64, bool) {
	now := s.now()
	for _, d := range []int64{0, -1, 1} {
		at := now.Add(time.Duration(d) * 30 * time.Second)
		want, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return at.Unix() / 30, true
		}
	}
	return 0, false
}

func (s *Service) secret(sealed []byte) (string, error) {
	if s.o.Cipher == nil {
		return "", errNoCipher()
	}
	secret, err := s.o.Cipher.Decrypt(sealed)
	if err != nil {
		return "", fmt.Errorf("TOTP secret: %w", err)
	}
	return secret, nil
}

func errNoCipher() error {
	return errs.New(errs.KindUnavailable, "staff.totp_unavailable", "二次验证暂不可用").WithFix("请联系系统管理员检查 security.pii_key 配置")
}

// Enrolment is what the enrolment page shows: the secret as a QR code (PNG) for the
// authenticator app to scan, and as text and an otpauth:// URL for typing in.
type Enrolment struct {
	Secret string
	URL    string
	QR     []byte
}

// BeginTOTP makes a TOTP secret for st and keeps it, sealed, until ConfirmTOTP proves the app
// has it. Until then every call shows the same secret, so a reload or a mistyped code does not
// make the person scan again. It returns Unavailable without Options.Cipher.
func (s *Service) BeginTOTP(ctx context.Context, st Staff) (Enrolment, error) {
	if s.o.Cipher == nil {
		return Enrolment{}, errNoCipher()
	}
	var u model.AdminUser
	if err := s.db.WithContext(ctx).Select("id", "totp_pending_enc").Take(&u, st.ID).Error; err != nil {
		return Enrolment{}, fmt.Errorf("begin TOTP: %w", err)
	}
	opts := totp.GenerateOpts{Issuer: totpIssuer, AccountName: st.Username}
	if len(u.TOTPPendingEnc) > 0 {
		secret, err := s.secret(u.TOTPPendingEnc)
		if err != nil {
			return Enrolment{}, err
		}
		if opts.Secret, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret); err != nil {
			return Enrolment{}, fmt.Errorf("begin TOTP: pending secret: %w", err)
		}
	}
	key, err := totp.Generate(opts)
	if err != nil {
		return Enrolment{}, fmt.Errorf("begin TOTP: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return Enrolment{}, fmt.Errorf("begin TOTP: QR: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return Enrolment{}, fmt.Errorf("begin TOTP: QR: %w", err)
	}
	if err := s.db.WithContext(ctx).Model(&model.AdminUser{}).Where("id = ?", st.ID).
		Update("totp_pending_enc", s.o.Cipher.Encrypt(key.Secret())).Error; err != nil {
		return Enrolment{}, fmt.Errorf("begin TOTP: %w", err)
	}
	return Enrolment{Secret: key.Secret(), URL: key.URL(), QR: qr.Bytes()}, nil
}

// ConfirmTOTP turns on the second factor BeginTOTP made once code shows the app has it, makes
// ten recovery codes and returns them (the only time they are shown), ends every session of the
// account, including token's, and returns a new session for this browser. A wrong code is
// Invalid (field code) and counts as a failed login; Conflict staff.totp_not_started without
// BeginTOTP. Audited as staff.totp_enrol.
func (s *Service) ConfirmTOTP(ctx context.Context, st Staff, token, code, ip string) (Session, []string, error) {
	var u model.AdminUser
	if err := s.db.WithContext(ctx).Take(&u, st.ID).Error; err != nil {
		return Session{}, nil, fmt.Errorf("confirm TOTP: %w", err)
	}
	if len(u.TOTPPendingEnc) == 0 {
		return Session{}, nil, errs.New(errs.KindConflict, "staff.totp_not_started", "请先扫描二维码").WithFix("刷新页面，用身份验证器扫描新的二维码")
	}
	secret, err := s.secret(u.TOTPPendingEnc)
	if err != nil {
		return Session{}, nil, err
	}
	step, ok := s.matchTOTP(secret, strings.Join(strings.Fields(code), ""))
	if !ok {
		s.fail(ctx, u.Username, ip)
		return Session{}, nil, errs.Invalid("code", "验证码不对", "请输入身份验证器里这个账号当前显示的 6 位数字；如果一直不对，请检查手机时间是否准确")
	}
	// The code that proved the app is used up, like a login's.
	if _, err := s.kv.SetNX(ctx, fmt.Sprintf("admin:totp-used:%d:%d", u.ID, step), []byte("1"), 3*time.Minute); err != nil {
		return Session{}, nil, fmt.Errorf("confirm TOTP: %w", err)
	}
	codes := make([]string, recoveryCodes)
	hashes := make([]string, recoveryCodes)
	for i := range codes {
		b := make([]byte, 5)
		_, _ = rand.Read(b)
		c := strings.ToLower(base32.StdEncoding.EncodeToString(b)) // 8 characters, 40 bits
		h, err := bcrypt.GenerateFromPassword([]byte(c), s.o.BcryptCost)
		if err != nil {
			return Session{}, nil, fmt.Errorf("confirm TOTP: %w", err)
		}
		codes[i], hashes[i] = c[:4]+"-"+c[4:], string(h)
	}
	hj, _ := json.Marshal(hashes)
	now := s.now()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&model.AdminUser{}).Where("id = ?", u.ID).Updates(map[string]any{"totp_secret_enc": u.TOTPPendingEnc,
			"totp_pending_enc": nil, "totp_enabled_at": now, "recovery_codes": string(hj), "updated_at": now}).Error; err != nil {
			return err
		}
		e := audit.By(st.Actor(ip, model.ViaConsole))
		e.Action, e.Target = "staff.totp_enrol", fmt.Sprintf("staff:%d", u.ID)
		return audit.Write(ctx, tx, now, e)
	})
	if err != nil {
		return Session{}, nil, fmt.Errorf("confirm TOTP: %w", err)
	}
	_ = s.kv.Del(ctx, sessionKey(token))
	u.TOTPSecretEnc, u.TOTPPendingEnc = u.TOTPPendingEnc, nil
	sess, err := s.open(ctx, u)
	return sess, codes, err
}

// ResetTOTP removes account id's second factor and recovery codes, for a lost phone: every
// session of the account ends, and an account whose role needs one enrols again at its next
// login. Forbidden unless a may ManageStaff. Audited as staff.totp_reset.
func (s *Service) ResetTOTP(ctx context.Context, a model.Actor, id uint64) error {
	if !a.Can(ManageStaff) {
		return forbidden()
	}
	return s.change(ctx, a, id, func(tx *gorm.DB, u model.AdminUser, e *audit.Entry) error {
		err := tx.Model(&model.AdminUser{}).Where("id = ?", u.ID).Updates(map[string]any{"totp_secret_enc": nil, "totp_pending_enc": nil,
			"totp_enabled_at": nil, "recovery_codes": "", "updated_at": s.now()}).Error
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		e.Action, e.Detail = "staff.totp_reset", map[string]any{"username": u.Username}
		return nil
	})
}

// ChangePassword sets st's own password after checking the current one: what an account whose
// password an admin set must do first (it clears MustChangePassword). The new password is
// checked as CreateAccount checks it and may not be the current one. Every session of the
// account ends, including token's; the returned session is this browser's new one. A wrong
// current password is Invalid (field current_password) and counts as a failed login. Audited
// as staff.password_change; the passwords are never logged.
func (s *Service) ChangePassword(ctx context.Context, st Staff, token, current, next, ip string) (Session, error) {
	if err := s.slowDown(ctx, st.Username, ip); err != nil {
		return Session{}, err
	}
	var u model.AdminUser
	if err := s.db.WithContext(ctx).Take(&u, st.ID).Error; err != nil {
		return Session{}, fmt.Errorf("change password: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(current)) != nil {
		s.fail(ctx, st.Username, ip)
		return Session{}, errs.Invalid("current_password", "当前密码不对", "请输入登录时用的密码")
	}
	if next == current {
		return Session{}, passwordError("staff.password_same", "新密码不能与当前密码相同", "请换一个新密码")
	}
	if err := checkPassword(next, u.Username); err != nil {
		return Session{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), s.o.BcryptCost)
	if err != nil {
		return Session{}, fmt.Errorf("change password: hash: %w", err)
	}
	now := s.now()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&model.AdminUser{}).Where("id = ?", u.ID).Updates(map[string]any{"password_hash": string(hash),
			"must_change_password": false, "updated_at": now}).Error; err != nil {
			return err
		}
		e := audit.By(st.Actor(ip, model.ViaConsole))
		e.Action, e.Target = "staff.password_change", fmt.Sprintf("staff:%d", u.ID)
		return audit.Write(ctx, tx, now, e)
	})
	if err != nil {
		return Session{}, fmt.Errorf("change password: %w", err)
	}
	_ = s.kv.Del(ctx, sessionKey(token))
	u.PasswordHash, u.MustChangePassword = string(hash), false
	return s.open(ctx, u)
}
