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
)

// Options tunes logins and sessions; zero fields take the defaults in parentheses.
type Options struct {
	SessionTTL  time.Duration // idle time after which a session ends (8h)
	MaxFailures int           // failed passwords in a row before the account locks (5)
	LockFor     time.Duration // how long a locked account stays locked (15m)
	LoginsPerIP int64         // login attempts per IP per LoginWindow (20)
	LoginWindow time.Duration // (10m)
	BcryptCost  int           // (bcrypt.DefaultCost)
	// Unbound is told the WeChat account whose member Unbind unlinked, once that has committed:
	// the mini-program API of the same process drops its cached binding (member.Service.Forget),
	// so the unbinding takes effect at once rather than within the cache's lifetime. Optional.
	Unbound func(accountID uint64)
}

func (o *Options) defaults() {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 8 * time.Hour
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 5
	}
	if o.LockFor <= 0 {
		o.LockFor = 15 * time.Minute
	}
	if o.LoginsPerIP <= 0 {
		o.LoginsPerIP = 20
	}
	if o.LoginWindow <= 0 {
		o.LoginWindow = 10 * time.Minute
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
}

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

// Session is a signed-in session: the token goes in an HttpOnly cookie.
type Session struct {
	Token string
	Staff Staff
}

type sessionData struct {
	UserID uint64 `json:"uid"`
	CSRF   string `json:"csrf"`
	// Password is a fingerprint of the account's password hash when the session opened: a
	// password reset changes the hash and so ends every session of the account at once.
	Password string `json:"pw"`
}

// passwordPrint is the fingerprint of a password hash kept in sessions. It is a hash of the
// bcrypt hash, so a session store that leaks gives nothing to try passwords against.
func passwordPrint(hash string) string {
	h := sha256.Sum256([]byte("huzhu-session:" + hash))
	return hex.EncodeToString(h[:12])
}

// errBadLogin is the one answer for an unknown user, a wrong password and a disabled account, so
// that nobody can probe which usernames exist.
func errBadLogin() error {
	return errs.New(errs.KindUnauthenticated, "staff.bad_login", "用户名或密码不对").WithFix("请检查后重试；连续输错多次账号会被临时锁定")
}

// Login checks the password and opens a session. Wrong passwords count towards a lock-out; a
// locked account is refused (TooMany) even with the right password until the lock ends. Too
// many attempts from one IP are refused with TooMany. Every attempt is audited.
func (s *Service) Login(ctx context.Context, username, password, ip string) (Session, error) {
	ok, wait, err := kv.Allow(ctx, s.kv, "admin-login:"+ip, s.o.LoginsPerIP, s.o.LoginWindow)
	if err != nil {
		return Session{}, fmt.Errorf("login: rate limit: %w", err)
	}
	if !ok {
		return Session{}, errs.TooMany("staff.too_many_logins", "登录尝试太频繁，请稍后再试", wait)
	}
	now := s.now()
	var u model.AdminUser
	var out error
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Where("username = ?", strings.TrimSpace(username)).Take(&u).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			// Spend the time of a hash so an unknown name answers as slowly as a known one.
			_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
			out = errBadLogin()
			return audit.Write(ctx, tx, now, audit.Entry{Actor: clip(username), Action: "staff.login", Outcome: "denied", IP: ip,
				Detail: map[string]string{"reason": "unknown_user"}})
		}
		if err != nil {
			return fmt.Errorf("find user: %w", err)
		}
		entry := audit.Entry{Actor: u.Username, Role: string(u.Role), Action: "staff.login", Target: fmt.Sprintf("staff:%d", u.ID), IP: ip, UnionID: u.UnionID}
		if u.LockedUntil != nil && now.Before(*u.LockedUntil) {
			out = errs.TooMany("staff.locked", "密码输错次数太多，账号已临时锁定", u.LockedUntil.Sub(now)).
				WithFix("请在 " + u.LockedUntil.In(model.Shanghai).Format("15:04") + " 后再试，或请管理员处理")
			entry.Outcome, entry.Detail = "denied", map[string]string{"reason": "locked"}
			return audit.Write(ctx, tx, now, entry)
		}
		if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil || u.Disabled {
			out = errBadLogin()
			reason := "bad_password"
			updates := map[string]any{"failed_logins": gorm.Expr("failed_logins + 1")}
			if u.Disabled {
				reason = "disabled"
			} else if u.FailedLogins+1 >= s.o.MaxFailures {
				until := now.Add(s.o.LockFor)
				updates = map[string]any{"failed_logins": 0, "locked_until": until}
				reason = "locked_now"
			}
			if err := tx.Model(&model.AdminUser{}).Where("id = ?", u.ID).Updates(updates).Error; err != nil {
				return fmt.Errorf("count failure: %w", err)
			}
			entry.Outcome, entry.Detail = "denied", map[string]string{"reason": reason}
			return audit.Write(ctx, tx, now, entry)
		}
		if err := tx.Model(&model.AdminUser{}).Where("id = ?", u.ID).
			Updates(map[string]any{"failed_logins": 0, "locked_until": nil}).Error; err != nil {
			return fmt.Errorf("reset failures: %w", err)
		}
		return audit.Write(ctx, tx, now, entry)
	})
	if err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	if out != nil {
		return Session{}, out
	}
	token, csrf := randomToken(), randomToken()
	b, _ := json.Marshal(sessionData{UserID: u.ID, CSRF: csrf, Password: passwordPrint(u.PasswordHash)})
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
// password since the session opened (the session is then deleted). The role and union are read
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
	if u.Disabled || subtle.ConstantTimeCompare([]byte(d.Password), []byte(passwordPrint(u.PasswordHash))) != 1 {
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
	st := Staff{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, UnionID: u.UnionID}
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
