package member

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/kv"
	"huzhu/service/pii"
	"huzhu/service/session"
	"huzhu/service/wechat"
)

// WeChat exchanges a wx.login code for the user's identity and a phone-number button code for
// the user's verified phone (service/wechat.Client does both).
type WeChat interface {
	Code2Session(ctx context.Context, code string) (wechat.Session, error)
	PhoneNumber(ctx context.Context, code string) (wechat.Phone, error)
}

// Sender sends one text message to a mobile phone (notify.LogSMS and notify.HTTPSMS do).
type Sender interface {
	Send(ctx context.Context, phone, text string) error
}

// Options tune a Service. Zero values take the defaults in brackets.
type Options struct {
	// Proof is how a worker proves that the roster phone is theirs when binding
	// [ProofWeChatPhone].
	Proof Proof
	// AccountFailures is how many failed binding attempts one WeChat account may make for one
	// ID number per FailureWindow before that pair is locked out until the window ends [5].
	// Failures are never counted against the ID number alone, so nobody can lock a worker out
	// by typing their ID number.
	AccountFailures int64
	// AccountAnyFailures is the same limit per WeChat account whatever the ID number, so one
	// account cannot try many people [20].
	AccountAnyFailures int64
	// IPFailures is the same limit per client IP [20].
	IPFailures int64
	// FailureWindow is the window of the failure limits and so the lock-out time [24h].
	FailureWindow time.Duration
	// IPAttemptsPerHour bounds all binding attempts and SMS code requests from one IP [60].
	IPAttemptsPerHour int64
	// LoginsPerMinute bounds logins from one client IP [300].
	LoginsPerMinute int64
	// SMSCodeTTL is how long a binding code is valid [5m].
	SMSCodeTTL time.Duration
	// SMSPerHour bounds the codes sent for one account [5].
	SMSPerHour int64
	// DeskCodeTTL is how long the code a worker shows at the union desk is valid [30m].
	DeskCodeTTL time.Duration
	// NoticeTTL is how long the notice to an account whose binding was taken back waits for
	// the account's next login [30 days].
	NoticeTTL time.Duration
	// Templates are the mini-program subscribe-message template ids the worker may accept; empty
	// accepts any well-formed id.
	Templates []string
	// BindingCacheTTL is how long this process trusts a bound account's member without reading
	// the database again [2s]; negative turns the cache off. Every authenticated request needs
	// the binding, and reading it was a quarter of the API's database round trips. Unbinding
	// through this Service (by the worker or by staff, UnbindMember) takes effect at once; an
	// unbinding in another process takes effect within the TTL. Unbound accounts are never cached, so a fresh binding is
	// seen at once everywhere.
	BindingCacheTTL time.Duration
}

// bindingCacheSize bounds the cached bindings: enough for every worker active in a few seconds
// (at 10 bytes of key and value each, about 4 MB at most).
const bindingCacheSize = 100_000

// Service implements the worker's account operations. It is safe for concurrent use.
type Service struct {
	db       *gorm.DB
	cipher   *pii.Cipher
	sessions *session.Issuer
	wx       WeChat
	kv       kv.Store
	sms      Sender
	o        Options
	now      func() time.Time
	log      *slog.Logger
	bound    *expirable.LRU[uint64, uint64] // account id → member id of bound accounts; nil: off
}

// New returns a Service. wx may be nil when no mini-program is configured (Login and the
// phone-number proof then answer Unavailable); sms may be nil when no SMS provider is
// configured (SendBindCode then answers Unavailable).
func New(db *gorm.DB, cipher *pii.Cipher, sessions *session.Issuer, wx WeChat, kvs kv.Store, sms Sender, o Options,
	now func() time.Time, log *slog.Logger) *Service {
	if o.AccountFailures <= 0 {
		o.AccountFailures = 5
	}
	if o.AccountAnyFailures <= 0 {
		o.AccountAnyFailures = 20
	}
	if o.IPFailures <= 0 {
		o.IPFailures = 20
	}
	if o.Proof == "" {
		o.Proof = ProofWeChatPhone
	}
	if o.DeskCodeTTL <= 0 {
		o.DeskCodeTTL = 30 * time.Minute
	}
	if o.NoticeTTL <= 0 {
		o.NoticeTTL = 30 * 24 * time.Hour
	}
	if o.FailureWindow <= 0 {
		o.FailureWindow = 24 * time.Hour
	}
	if o.IPAttemptsPerHour <= 0 {
		o.IPAttemptsPerHour = 60
	}
	if o.LoginsPerMinute <= 0 {
		o.LoginsPerMinute = 300
	}
	if o.SMSCodeTTL <= 0 {
		o.SMSCodeTTL = 5 * time.Minute
	}
	if o.SMSPerHour <= 0 {
		o.SMSPerHour = 5
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.BindingCacheTTL == 0 {
		o.BindingCacheTTL = 2 * time.Second
	}
	s := &Service{db: db, cipher: cipher, sessions: sessions, wx: wx, kv: kvs, sms: sms, o: o, now: now, log: log}
	if o.BindingCacheTTL > 0 {
		s.bound = expirable.NewLRU[uint64, uint64](bindingCacheSize, nil, o.BindingCacheTTL)
	}
	return s
}

// Principal is the caller of a request: their WeChat account and, once bound, their member.
type Principal struct {
	AccountID uint64
	MemberID  uint64 // 0 until the account is bound
}

// ErrNotBound is the error of an operation that needs a bound member (KindForbidden): the
// mini-program shows the binding page.
var ErrNotBound = &errs.Error{Kind: errs.KindForbidden, Code: "member.not_bound", Message: "请先绑定工会会员信息",
	Fix: "请在“绑定会员卡”页面填写姓名、身份证号、京卡卡号和手机号"}

// Login is the outcome of a wx.login: the session token, whether the account is bound, and a
// notice the worker must read once (their binding was taken back by the member's verified
// owner, or moved by union staff), empty when there is none.
type Login struct {
	Token  session.Token
	Bound  bool
	Notice string
}

// Login exchanges a wx.login code with WeChat, records the account by its mini-program openid
// (and unionid, so the same person is recognised in the official account) and issues a session
// token. WeChat's session_key is dropped here. Errors: Invalid login.code for an empty or
// oversized code; Unauthenticated login.code_invalid when WeChat refuses the code (used or
// expired); TooMany login.too_many past the per-IP limit; Unavailable login.wechat_unavailable
// when WeChat cannot be reached or the mini-program is not configured.
func (s *Service) Login(ctx context.Context, code, ip string) (Login, error) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 128 {
		return Login{}, errs.Invalid("code", "缺少登录凭证", "请先调用 wx.login，把得到的 code 原样提交")
	}
	if err := s.allow(ctx, "login:ip:"+ip, s.o.LoginsPerMinute, time.Minute, "login.too_many", "登录太频繁，请稍后再试"); err != nil {
		return Login{}, err
	}
	if s.wx == nil {
		return Login{}, errNoMiniProgram
	}
	ws, err := s.wx.Code2Session(ctx, code)
	if err != nil {
		return Login{}, loginError(err)
	}
	var acct model.WeChatAccount
	for attempt := 0; ; attempt++ {
		acct, err = s.upsertAccount(ctx, ws.OpenID, ws.UnionID)
		// Two logins of a new user at once: the loser of the insert finds the winner's row.
		if errors.Is(err, gorm.ErrDuplicatedKey) && attempt == 0 {
			continue
		}
		break
	}
	if err != nil {
		return Login{}, fmt.Errorf("login: record account: %w", err)
	}
	return Login{Token: s.sessions.Issue(acct.ID), Bound: acct.MemberID != nil, Notice: s.takeNotice(ctx, acct.ID)}, nil
}

// errNoMiniProgram is the answer to a login when the server has no mini-program configured; the
// fix is for whoever runs the server, so it names the setting.
var errNoMiniProgram = errs.New(errs.KindUnavailable, "login.wechat_unavailable", "暂时无法登录，请稍后再试").
	WithFix("服务器没有配置小程序：运维人员需设置 wechat.mp.app_id 和 wechat.mp.app_secret（环境变量 HUZHU_WECHAT_MP_APP_ID、HUZHU_WECHAT_MP_APP_SECRET）；只想试用可运行 huzhu serve --demo")

func loginError(err error) error {
	if errors.Is(err, wechat.ErrNotConfigured) {
		return errs.Wrap(errs.KindUnavailable, "login.wechat_unavailable", "暂时无法登录，请稍后再试", err)
	}
	switch wechat.Classify(err) {
	case wechat.BadRequest, wechat.UserPermanent:
		e := errs.Wrap(errs.KindUnauthenticated, "login.code_invalid", "登录凭证无效或已使用", err)
		e.Fix = "请重新调用 wx.login 获取新的 code 再登录"
		return e
	case wechat.RateLimited:
		e := errs.Wrap(errs.KindTooMany, "login.too_many", "登录的人太多了，请稍后再试", err)
		e.RetryAfter = 10 * time.Second
		return e
	case wechat.Misconfigured:
		return fmt.Errorf("login: wechat misconfigured: %w", err)
	}
	return errs.Wrap(errs.KindUnavailable, "login.wechat_unavailable", "微信服务暂时不可用，请稍后再试", err)
}

// Refresh exchanges a current or recently expired token for a new one, after checking that the
// account still exists. Errors are session's (KindUnauthenticated).
func (s *Service) Refresh(ctx context.Context, token string) (Login, error) {
	t, err := s.sessions.Refresh(token)
	if err != nil {
		return Login{}, err
	}
	p, err := s.principalOf(ctx, t.AccountID)
	if err != nil {
		return Login{}, err
	}
	return Login{Token: t, Bound: p.MemberID != 0, Notice: s.takeNotice(ctx, t.AccountID)}, nil
}

// Authenticate verifies a session token and returns the caller with their member as bound now
// (within Options.BindingCacheTTL for an unbinding made elsewhere). Errors are session's
// (KindUnauthenticated), also for a token of an account that no longer exists.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	c, err := s.sessions.Verify(token)
	if err != nil {
		return Principal{}, err
	}
	return s.principalOf(ctx, c.AccountID)
}

func (s *Service) principalOf(ctx context.Context, accountID uint64) (Principal, error) {
	if s.bound != nil {
		if m, ok := s.bound.Get(accountID); ok {
			return Principal{AccountID: accountID, MemberID: m}, nil
		}
	}
	var row struct {
		ID       uint64
		MemberID *uint64
	}
	err := s.db.WithContext(ctx).Model(&model.WeChatAccount{}).Select("id, member_id").Where("id = ?", accountID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Principal{}, session.ErrInvalid
	}
	if err != nil {
		return Principal{}, fmt.Errorf("load account %d: %w", accountID, err)
	}
	p := Principal{AccountID: row.ID}
	if row.MemberID != nil {
		p.MemberID = *row.MemberID
		if s.bound != nil {
			s.bound.Add(accountID, p.MemberID)
		}
	}
	return p, nil
}

// forget drops the cached binding of an account whose binding this process changed.
func (s *Service) forget(accountID uint64) {
	if s.bound != nil {
		s.bound.Remove(accountID)
	}
}

// allow applies a fixed-window rate limit and turns a refusal into TooMany with code and msg.
func (s *Service) allow(ctx context.Context, key string, limit int64, window time.Duration, code, msg string) error {
	ok, retry, err := kv.Allow(ctx, s.kv, key, limit, window)
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if !ok {
		return errs.TooMany(code, msg, retry)
	}
	return nil
}
