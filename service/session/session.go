// Package session issues and checks the mini-program's own session tokens. A token names one
// WeChat account (model.WeChatAccount.ID), is signed with HMAC-SHA256 under the configured
// session secret, lives a short time (TTL) and can be exchanged for a fresh one while the login
// it descends from is younger than MaxAge. WeChat's session_key never goes into a token: tokens
// carry only the account id and times.
//
// A token is "v1.<payload>.<signature>", both parts base64url without padding. The payload is
// JSON {"a": account id, "iat": issued at, "exp": expires at, "auth": time of the wx.login the
// chain of refreshes started from}, all Unix seconds.
package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"huzhu/service/errs"
)

// MinSecretLen is the shortest signing secret accepted, in bytes.
const MinSecretLen = 32

// Options tune an Issuer. Zero values take the defaults in brackets.
type Options struct {
	TTL          time.Duration // how long one token is accepted [2h]
	RefreshGrace time.Duration // how long after expiry a token may still be refreshed [24h]
	MaxAge       time.Duration // how long after wx.login refreshes are allowed [30 days]
}

// Issuer signs and verifies tokens. It is immutable and safe for concurrent use.
type Issuer struct {
	key []byte
	o   Options
	now func() time.Time
}

// New returns an Issuer signing with secret (at least MinSecretLen bytes). now is the clock
// (nil: time.Now).
func New(secret []byte, o Options, now func() time.Time) (*Issuer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("session secret is %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	if o.TTL <= 0 {
		o.TTL = 2 * time.Hour
	}
	if o.RefreshGrace <= 0 {
		o.RefreshGrace = 24 * time.Hour
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 30 * 24 * time.Hour
	}
	if now == nil {
		now = time.Now
	}
	// A key derived for this one use, so that the configured secret could sign nothing else.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("huzhu mini-program session v1"))
	return &Issuer{key: m.Sum(nil), o: o, now: now}, nil
}

// Token is an issued token with its expiry.
type Token struct {
	Value     string
	AccountID uint64
	ExpiresAt time.Time
	// RefreshUntil is the last moment Refresh accepts this token.
	RefreshUntil time.Time
}

// Claims are what a verified token says.
type Claims struct {
	AccountID uint64
	IssuedAt  time.Time
	ExpiresAt time.Time
	AuthAt    time.Time // the wx.login this token descends from
}

type payload struct {
	A    uint64 `json:"a"`
	IAT  int64  `json:"iat"`
	EXP  int64  `json:"exp"`
	Auth int64  `json:"auth"`
}

const prefix = "v1."

var b64 = base64.RawURLEncoding

// Errors of Verify and Refresh, all KindUnauthenticated; the mini-program logs in again
// (wx.login) on any of them, or refreshes on session.expired.
var (
	ErrMissing = &errs.Error{Kind: errs.KindUnauthenticated, Code: "session.missing", Message: "请先登录",
		Fix: "请在请求头 Authorization 中带上登录返回的 token：Bearer <token>"}
	ErrInvalid = &errs.Error{Kind: errs.KindUnauthenticated, Code: "session.invalid", Message: "登录状态无效，请重新登录",
		Fix: "请重新进入小程序以登录"}
	ErrExpired = &errs.Error{Kind: errs.KindUnauthenticated, Code: "session.expired", Message: "登录已过期，请重新登录",
		Fix: "请调用刷新接口换取新的登录凭证，或重新进入小程序"}
)

// Issue returns a new token for the account, as after a wx.login now.
func (s *Issuer) Issue(accountID uint64) Token {
	now := s.now()
	return s.issue(accountID, now, now)
}

func (s *Issuer) issue(accountID uint64, now, auth time.Time) Token {
	exp := now.Add(s.o.TTL)
	if limit := auth.Add(s.o.MaxAge); exp.After(limit) {
		exp = limit
	}
	p, _ := json.Marshal(payload{A: accountID, IAT: now.Unix(), EXP: exp.Unix(), Auth: auth.Unix()})
	body := prefix + b64.EncodeToString(p)
	v := body + "." + b64.EncodeToString(s.sign(body))
	refresh := exp.Add(s.o.RefreshGrace)
	if limit := auth.Add(s.o.MaxAge); refresh.After(limit) {
		refresh = limit
	}
	return Token{Value: v, AccountID: accountID, ExpiresAt: time.Unix(exp.Unix(), 0), RefreshUntil: time.Unix(refresh.Unix(), 0)}
}

func (s *Issuer) sign(body string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// parse checks the signature and decodes the claims without looking at the times.
func (s *Issuer) parse(token string) (Claims, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Claims{}, ErrMissing
	}
	if len(token) > 512 || !strings.HasPrefix(token, prefix) {
		return Claims{}, ErrInvalid
	}
	body, sig, ok := strings.Cut(token[len(prefix):], ".")
	if !ok {
		return Claims{}, ErrInvalid
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.sign(prefix+body)) {
		return Claims{}, ErrInvalid
	}
	raw, err := b64.DecodeString(body)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil || p.A == 0 || p.EXP <= p.IAT || p.Auth > p.IAT {
		return Claims{}, ErrInvalid
	}
	return Claims{AccountID: p.A, IssuedAt: time.Unix(p.IAT, 0), ExpiresAt: time.Unix(p.EXP, 0), AuthAt: time.Unix(p.Auth, 0)}, nil
}

// Verify returns the claims of a token that is well signed and not expired. It returns
// ErrMissing for an empty token, ErrInvalid for a malformed or forged one and ErrExpired for one
// past its expiry; all are KindUnauthenticated.
func (s *Issuer) Verify(token string) (Claims, error) {
	c, err := s.parse(token)
	if err != nil {
		return Claims{}, err
	}
	if !s.now().Before(c.ExpiresAt) {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// Refresh exchanges a well-signed token, expired for at most RefreshGrace, for a new one of the
// same account and login. It returns ErrInvalid for a forged token and ErrExpired when the token
// is too old to refresh or the login is older than MaxAge (then the worker logs in again).
func (s *Issuer) Refresh(token string) (Token, error) {
	c, err := s.parse(token)
	if err != nil {
		return Token{}, err
	}
	now := s.now()
	if now.After(c.ExpiresAt.Add(s.o.RefreshGrace)) || !now.Before(c.AuthAt.Add(s.o.MaxAge)) {
		return Token{}, ErrExpired
	}
	return s.issue(c.AccountID, now, c.AuthAt), nil
}
