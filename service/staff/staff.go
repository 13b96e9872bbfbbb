package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
	"huzhu/service/kv"
	"huzhu/service/pii"
)

// Options tunes logins and sessions; zero fields take the defaults in parentheses.
type Options struct {
	SessionTTL  time.Duration // idle time after which a session ends (8h)
	LoginsPerIP int64         // login attempts per IP per LoginWindow, whatever the names (20)
	LoginWindow time.Duration // (10m)
	// FreeFailures is how many wrong passwords (or codes) in a row one (username, IP) pair may
	// make before each further attempt waits: 1s after the next failure, then 2s, 4s… up to
	// MaxDelay (5). Nobody else's attempts count, so nobody can lock another person out.
	FreeFailures int
	MaxDelay     time.Duration // (15m)
	BcryptCost   int           // (bcrypt.DefaultCost)
	// RequireTOTP makes admins and operators enrol a second factor (TOTP) before they may do
	// anything else in the console: production sets it.
	RequireTOTP bool
	// Cipher seals TOTP secrets at rest. Without it enrolment answers Unavailable.
	Cipher *pii.Cipher
}

func (o *Options) defaults() {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 8 * time.Hour
	}
	if o.LoginsPerIP <= 0 {
		o.LoginsPerIP = 20
	}
	if o.LoginWindow <= 0 {
		o.LoginWindow = 10 * time.Minute
	}
	if o.FreeFailures <= 0 {
		o.FreeFailures = 5
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 15 * time.Minute
	}
	if o.BcryptCost == 0 {
		o.BcryptCost = bcrypt.DefaultCost
	}
}

// Service manages staff accounts and their sessions.
type Service struct {
	db  *gorm.DB
	kv  kv.Store
	o   Options
	now func() time.Time
	log *slog.Logger
	// dummy is a hash compared against for unknown usernames.
	dummy []byte
}

// New returns a Service over db (accounts, audit log) and kvs (sessions, rate limits).
func New(db *gorm.DB, kvs kv.Store, o Options, now func() time.Time, log *slog.Logger) *Service {
	o.defaults()
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dummy, _ := bcrypt.GenerateFromPassword([]byte(randomToken()), o.BcryptCost)
	return &Service{db: db, kv: kvs, o: o, now: now, log: log, dummy: dummy}
}

// Staff is the signed-in person a request acts for.
type Staff struct {
	ID          uint64
	Username    string
	DisplayName string
	Role        model.Role
	UnionID     uint64 // RoleUnion only
	UnionCode   string
	UnionName   string
	CSRF        string // the session's CSRF token, to put in every form
	// MustChangePassword: an admin set the password; the console allows nothing but choosing
	// a new one (ChangePassword) and logging out.
	MustChangePassword bool
	// MustEnrolTOTP: the role needs a second factor (Options.RequireTOTP) and the account has
	// none yet; the console allows nothing but enrolling (BeginTOTP, ConfirmTOTP) and logging out.
	MustEnrolTOTP bool
	// HasTOTP: the account has a second factor.
	HasTOTP bool
}

// Restricted reports whether st may only fix their account (password, second factor) before
// anything else.
func (st Staff) Restricted() bool { return st.MustChangePassword || st.MustEnrolTOTP }

// NewUser is an account to create.
type NewUser struct {
	Username    string
	DisplayName string
	Role        model.Role
	UnionCode   string // required for RoleUnion, refused for the others
	Password    string
}

// Bootstrap creates the first admin account from the command line of the server, where nobody
// can yet be named with --as: it returns Conflict (staff.not_first) once an enabled admin
// exists, and otherwise checks u as CreateAccount does. The row is audited with Via cli and the
// operating-system user as the actor. The password was chosen by the person who will use it, so
// no change is forced.
func (s *Service) Bootstrap(ctx context.Context, u NewUser, osUser string) (model.AdminUser, error) {
	if u.Role != model.RoleAdmin {
		return model.AdminUser{}, errs.Invalid("role", "第一个账号必须是市总管理员", "请用 --role admin；其余账号由管理员在控制台或用 --as 创建")
	}
	first := func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&model.AdminUser{}).Where("role = ? AND disabled = ?", model.RoleAdmin, false).Count(&n).Error; err != nil {
			return fmt.Errorf("count admins: %w", err)
		}
		if n > 0 {
			return errs.New(errs.KindConflict, "staff.not_first", "已经有市总管理员了，不能再用初始化方式创建账号").
				WithFix("请加 --as 管理员用户名，以该管理员的身份创建")
		}
		return nil
	}
	return s.createUser(ctx, u, first, false, audit.Entry{Actor: clip("cli:" + osUser), Via: model.ViaCLI})
}

// createUser creates the account and writes entry (action, target and detail filled in) in the
// same transaction. check, when not nil, runs first inside the transaction. mustChange makes the
// account change its password at its first login.
func (s *Service) createUser(ctx context.Context, u NewUser, check func(tx *gorm.DB) error, mustChange bool, entry audit.Entry) (model.AdminUser, error) {
	u.Username = strings.TrimSpace(u.Username)
	u.UnionCode = strings.TrimSpace(u.UnionCode)
	if u.Username == "" || len(u.Username) > 64 || strings.ContainsAny(u.Username, " \t\r\n") {
		return model.AdminUser{}, errs.Invalid("username", "用户名不能为空、不能含空格，最长 64 个字符", "例如 zhangsan")
	}
	if err := checkDisplayName(u.DisplayName); err != nil {
		return model.AdminUser{}, err
	}
	if !u.Role.Valid() {
		return model.AdminUser{}, errs.Invalid("role", "角色不对", "可选 admin、operator、union、auditor")
	}
	if err := checkPassword(u.Password, u.Username); err != nil {
		return model.AdminUser{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), s.o.BcryptCost)
	if err != nil {
		return model.AdminUser{}, fmt.Errorf("create staff %s: hash: %w", u.Username, err)
	}
	row := model.AdminUser{Username: u.Username, DisplayName: strings.TrimSpace(u.DisplayName), PasswordHash: string(hash), Role: u.Role,
		MustChangePassword: mustChange}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		id, err := unionOf(tx, u.Role, u.UnionCode)
		if err != nil {
			return err
		}
		row.UnionID = id
		var n int64
		if err := tx.Model(&model.AdminUser{}).Where("username = ?", u.Username).Count(&n).Error; err != nil {
			return fmt.Errorf("check username: %w", err)
		}
		if n > 0 {
			return errs.New(errs.KindConflict, "staff.username_taken", "这个用户名已经有人用了")
		}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		entry.Action, entry.Target = "staff.create", fmt.Sprintf("staff:%d", row.ID)
		entry.Detail, entry.UnionID = map[string]any{"username": row.Username, "role": row.Role, "union_code": u.UnionCode}, row.UnionID
		return audit.Write(ctx, tx, s.now(), entry)
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return model.AdminUser{}, err
		}
		return model.AdminUser{}, fmt.Errorf("create staff %s: %w", u.Username, err)
	}
	return row, nil
}

// Session is a signed-in session: the token goes in an HttpOnly cookie. When NeedsCode is set the
// password was right but the account has a second factor: Token is then a short-lived pending
// token for SecondFactor, not a session, and Staff is empty.
type Session struct {
	Token     string
	Staff     Staff
	NeedsCode bool
}

type sessionData struct {
	UserID uint64 `json:"uid"`
	CSRF   string `json:"csrf"`
	// Password is a fingerprint of the account's credentials (password hash and second factor)
	// when the session opened: changing either ends every session of the account at once.
	Password string `json:"pw"`
}

// credentialPrint is the fingerprint of an account's credentials kept in sessions. It is a hash
// of the bcrypt hash and the sealed TOTP secret, so a session store that leaks gives nothing to
// try passwords against.
func credentialPrint(u model.AdminUser) string {
	h := sha256.New()
	h.Write([]byte("huzhu-session:" + u.PasswordHash + "\x00"))
	h.Write(u.TOTPSecretEnc)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// errBadLogin is the one answer for an unknown user, a wrong password and a disabled account, so
// that nobody can probe which usernames exist.
func errBadLogin() error {
	return errs.New(errs.KindUnauthenticated, "staff.bad_login", "用户名或密码不对").WithFix("请检查后重试；连续输错时每次重试需要多等一会儿")
}

// throttleKey names the failure counter of one (username, IP) pair: the name as typed (trimmed,
// lower-cased) and hashed, so unknown and known names are throttled alike and the store holds no
// names. The counter is key+":n"; key+":until" holds when the pair may try again.
func throttleKey(username, ip string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(username)) + "\x00" + ip))
	return "admin-login:fail:" + hex.EncodeToString(h[:16])
}

// slowDown returns TooMany while the pair must still wait after its last failure.
func (s *Service) slowDown(ctx context.Context, username, ip string) error {
	b, ok, err := s.kv.Get(ctx, throttleKey(username, ip)+":until")
	if err != nil {
		return fmt.Errorf("login: throttle: %w", err)
	}
	var until time.Time
	if !ok || until.UnmarshalText(b) != nil {
		return nil
	}
	if now := s.now(); now.Before(until) {
		wait := until.Sub(now)
		return errs.TooMany("staff.slow_down", "尝试太频繁，请稍等再试", wait).
			WithFix(fmt.Sprintf("请在 %d 秒后再试；如忘记密码请联系管理员重设", int(wait.Seconds()+0.999)))
	}
	return nil
}

// fail counts a failure of the pair (atomically, so parallel guesses are all counted): after
// Options.FreeFailures, each failure makes the next attempt wait twice as long as the last (1s,
// 2s, 4s…), up to Options.MaxDelay. The count is forgotten a day after the pair's first failure.
func (s *Service) fail(ctx context.Context, username, ip string) {
	key := throttleKey(username, ip)
	n, err := s.kv.Incr(ctx, key+":n", 24*time.Hour)
	if err != nil {
		s.log.Warn("staff login: count failure", "err", err)
		return
	}
	over := n - int64(s.o.FreeFailures)
	if over <= 0 {
		return
	}
	delay := s.o.MaxDelay
	if over <= 20 {
		delay = min(time.Duration(1<<(over-1))*time.Second, s.o.MaxDelay)
	}
	b, _ := s.now().Add(delay).MarshalText()
	if err := s.kv.Set(ctx, key+":until", b, 24*time.Hour); err != nil {
		s.log.Warn("staff login: count failure", "err", err)
	}
}

// forgive clears the pair's failures after a successful login.
func (s *Service) forgive(ctx context.Context, username, ip string) {
	key := throttleKey(username, ip)
	_ = s.kv.Del(ctx, key+":n", key+":until")
}

// Login checks the password and opens a session, or, for an account with a second factor,
// returns a pending token for SecondFactor (Session.NeedsCode). Every attempt is audited.
//
// An unknown user, a wrong password and a disabled account get the same error (staff.bad_login)
// after the same work (a bcrypt comparison against a dummy hash for unknown users). Failures are
// counted per (username as typed, IP): after Options.FreeFailures each retry of that pair must
// wait longer (TooMany staff.slow_down), the same for names that exist and names that do not,
// and nobody else's attempts lock an account. Too many attempts from one IP, whatever the
// names, are refused with TooMany staff.too_many_logins.
func (s *Service) Login(ctx context.Context, username, password, ip string) (Session, error) {
	ok, wait, err := kv.Allow(ctx, s.kv, "admin-login:"+ip, s.o.LoginsPerIP, s.o.LoginWindow)
	if err != nil {
		return Session{}, fmt.Errorf("login: rate limit: %w", err)
	}
	if !ok {
		return Session{}, errs.TooMany("staff.too_many_logins", "登录尝试太频繁，请稍后再试", wait)
	}
	if err := s.slowDown(ctx, username, ip); err != nil {
		return Session{}, err
	}
	now := s.now()
	var u model.AdminUser
	err = s.db.WithContext(ctx).Where("username = ?", strings.TrimSpace(username)).Take(&u).Error
	known := err == nil
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return Session{}, fmt.Errorf("login: find user: %w", err)
	}
	hash := s.dummy
	if known {
		hash = []byte(u.PasswordHash)
	}
	// The comparison runs for unknown users too, against a dummy hash of the same cost, so an
	// unknown name answers as slowly as a known one.
	right := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil && known
	entry := audit.Entry{Actor: clip(username), Action: "staff.login", Outcome: "denied", IP: ip, Via: model.ViaConsole}
	if known {
		entry.Actor, entry.Role, entry.Target, entry.UnionID = u.Username, string(u.Role), fmt.Sprintf("staff:%d", u.ID), u.UnionID
	}
	if !right || u.Disabled {
		s.fail(ctx, username, ip)
		reason := "bad_password"
		switch {
		case !known:
			reason = "unknown_user"
		case u.Disabled:
			reason = "disabled"
		}
		entry.Detail = map[string]string{"reason": reason}
		if err := audit.Write(ctx, s.db, now, entry); err != nil {
			return Session{}, fmt.Errorf("login: %w", err)
		}
		return Session{}, errBadLogin()
	}
	if len(u.TOTPSecretEnc) > 0 {
		entry.Outcome, entry.Detail = "ok", map[string]string{"step": "password"}
		if err := audit.Write(ctx, s.db, now, entry); err != nil {
			return Session{}, fmt.Errorf("login: %w", err)
		}
		token := randomToken()
		b, _ := json.Marshal(pendingData{UserID: u.ID, Username: username, Password: credentialPrint(u)})
		if err := s.kv.Set(ctx, pendingKey(token), b, pendingTTL); err != nil {
			return Session{}, fmt.Errorf("login: save pending: %w", err)
		}
		return Session{Token: token, NeedsCode: true}, nil
	}
	s.forgive(ctx, username, ip)
	entry.Outcome = "ok"
	if err := audit.Write(ctx, s.db, now, entry); err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	return s.open(ctx, u)
}

// open starts a session of u.
func (s *Service) open(ctx context.Context, u model.AdminUser) (Session, error) {
	token, csrf := randomToken(), randomToken()
	b, _ := json.Marshal(sessionData{UserID: u.ID, CSRF: csrf, Password: credentialPrint(u)})
	if err := s.kv.Set(ctx, sessionKey(token), b, s.o.SessionTTL); err != nil {
		return Session{}, fmt.Errorf("login: save session: %w", err)
	}
	st, err := s.staff(ctx, u)
	if err != nil {
		return Session{}, err
	}
	st.CSRF = csrf
	return Session{Token: token, Staff: st}, nil
}

// Authenticate returns the staff member of a session token and renews the session. It returns
// Unauthenticated for an unknown or expired token, and for an account disabled or given a new
// password or second factor since the session opened (the session is then deleted). The role and union are read
// afresh on every call, so a change by an admin applies to the next request.
func (s *Service) Authenticate(ctx context.Context, token string) (Staff, error) {
	none := errs.New(errs.KindUnauthenticated, "staff.no_session", "请先登录")
	if token == "" {
		return Staff{}, none
	}
	b, ok, err := s.kv.Get(ctx, sessionKey(token))
	if err != nil {
		return Staff{}, fmt.Errorf("authenticate: %w", err)
	}
	if !ok {
		return Staff{}, none
	}
	var d sessionData
	if err := json.Unmarshal(b, &d); err != nil {
		return Staff{}, none
	}
	var u model.AdminUser
	if err := s.db.WithContext(ctx).Take(&u, d.UserID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return Staff{}, none
	} else if err != nil {
		return Staff{}, fmt.Errorf("authenticate: load user: %w", err)
	}
	if u.Disabled || subtle.ConstantTimeCompare([]byte(d.Password), []byte(credentialPrint(u))) != 1 {
		_ = s.kv.Del(ctx, sessionKey(token))
		return Staff{}, none
	}
	if err := s.kv.Set(ctx, sessionKey(token), b, s.o.SessionTTL); err != nil {
		return Staff{}, fmt.Errorf("authenticate: renew: %w", err)
	}
	st, err := s.staff(ctx, u)
	if err != nil {
		return Staff{}, err
	}
	st.CSRF = d.CSRF
	return st, nil
}

// Logout ends the session; an unknown token is not an error.
func (s *Service) Logout(ctx context.Context, token string, st Staff, ip string) error {
	if err := s.kv.Del(ctx, sessionKey(token)); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return audit.Write(ctx, tx, s.now(), audit.Entry{Actor: st.Username, Role: string(st.Role), Action: "staff.logout", IP: ip, UnionID: st.UnionID})
	})
}

func (s *Service) staff(ctx context.Context, u model.AdminUser) (Staff, error) {
	st := Staff{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, UnionID: u.UnionID,
		MustChangePassword: u.MustChangePassword, HasTOTP: len(u.TOTPSecretEnc) > 0}
	st.MustEnrolTOTP = s.o.RequireTOTP && !st.HasTOTP && (u.Role == model.RoleAdmin || u.Role == model.RoleOperator)
	if st.DisplayName == "" {
		st.DisplayName = u.Username
	}
	if u.Role == model.RoleUnion {
		var un model.Union
		if err := s.db.WithContext(ctx).Take(&un, u.UnionID).Error; err != nil {
			return Staff{}, fmt.Errorf("staff %d: load union: %w", u.ID, err)
		}
		st.UnionCode, st.UnionName = un.Code, un.Name
	}
	return st, nil
}

// CheckCSRF reports whether token is the session's CSRF token, in constant time.
func (st Staff) CheckCSRF(token string) bool {
	return st.CSRF != "" && subtle.ConstantTimeCompare([]byte(st.CSRF), []byte(token)) == 1
}

func sessionKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return "admin:sess:" + hex.EncodeToString(h[:])
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewToken returns a random URL-safe token, for the CSRF cookie of the login form.
func NewToken() string { return randomToken() }

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

func checkDisplayName(name string) error {
	if utf8.RuneCountInString(strings.TrimSpace(name)) > 64 || strings.ContainsAny(name, "\r\n") {
		return errs.Invalid("display_name", "显示名最长 64 个字，不能换行", "例如 张三（办事处）")
	}
	return nil
}

// unionOf returns the union id an account of role has: the union with code for RoleUnion, which
// needs one, and 0 for the other roles, which may not have one.
func unionOf(tx *gorm.DB, role model.Role, code string) (uint64, error) {
	switch {
	case role == model.RoleUnion && code == "":
		return 0, errs.Invalid("union_code", "基层工会账号必须指定工会编码", "请填写花名册里的工会编码，例如 U0001")
	case role != model.RoleUnion && code != "":
		return 0, errs.Invalid("union_code", "只有基层工会账号才有工会编码", "请清空工会编码，或把角色改为基层工会")
	case code == "":
		return 0, nil
	}
	var un model.Union
	if err := tx.Where("code = ?", code).Take(&un).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, errs.Invalid("union_code", "没有这个工会编码", "请先导入花名册，再用其中的工会编码")
	} else if err != nil {
		return 0, fmt.Errorf("find union: %w", err)
	}
	return un.ID, nil
}
