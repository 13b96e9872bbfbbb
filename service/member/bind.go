package member

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
	"huzhu/service/pii"
)

// BindRequest is what the worker types to bind: name, ID number, one card number (京卡, or
// the social-security card when paid to a bank card) and phone, plus the SMS code when one was
// sent.
type BindRequest struct {
	Name       string
	IDNumber   string
	JingCard   string
	SocialCard string
	Phone      string
	SMSCode    string
}

// ErrNoMatch is the one answer to every binding mismatch (KindNotFound): it never says which
// field differs or whether the person is on the roster.
var ErrNoMatch = &errs.Error{Kind: errs.KindNotFound, Code: "binding.no_match", Message: "填写的信息与工会登记的信息不一致",
	Fix: "请核对姓名、身份证号、卡号和手机号是否与在工会登记的一致；持有京卡的请填写京卡卡号；多次不一致会被暂时锁定，如有疑问请联系所在单位工会或拨打12351"}

// bindInput is a BindRequest that passed the format checks.
type bindInput struct {
	name, cardKind, idHash, cardHash, phoneHash, phone string
}

// parseBind checks the format of every field and normalizes it. Errors are Invalid and name the
// field; format is public knowledge (the ID check digit), so these reveal nothing about the
// roster.
func (s *Service) parseBind(r BindRequest) (bindInput, error) {
	name := strings.Map(func(c rune) rune {
		if unicode.IsSpace(c) {
			return -1
		}
		return c
	}, r.Name)
	if name == "" {
		return bindInput{}, errs.Invalid("name", "请填写姓名", "填写在工会登记的姓名")
	}
	if utf8.RuneCountInString(name) > 32 {
		return bindInput{}, errs.Invalid("name", "姓名太长了", "填写在工会登记的姓名")
	}
	id, err := pii.ParseIDNumber(r.IDNumber)
	if err != nil {
		return bindInput{}, errs.Invalid("id_number", err.Error(), "请填写18位居民身份证号，最后一位可能是X")
	}
	in := bindInput{name: name, idHash: s.cipher.Hash(pii.KindIDNumber, id.Value())}
	jing, social := strings.TrimSpace(r.JingCard), strings.TrimSpace(r.SocialCard)
	switch {
	case jing != "" && social != "":
		return bindInput{}, errs.Invalid("social_card", "京卡卡号和社保卡号只需填写一个", "持有京卡的请只填写京卡卡号")
	case jing != "":
		n, err := pii.NormalizeDigits(jing, 12, 19)
		if err != nil {
			return bindInput{}, errs.Invalid("jing_card", "京卡卡号"+err.Error(), "请填写京卡·互助服务卡正面的卡号")
		}
		in.cardKind, in.cardHash = pii.KindJingCard, s.cipher.Hash(pii.KindJingCard, n)
	case social != "":
		n, err := pii.NormalizeSocialCard(social)
		if err != nil {
			return bindInput{}, errs.Invalid("social_card", "社保卡号"+err.Error(), "请填写社会保障卡上的卡号")
		}
		in.cardKind, in.cardHash = pii.KindSocialCard, s.cipher.Hash(pii.KindSocialCard, n)
	default:
		return bindInput{}, errs.Invalid("jing_card", "请填写京卡卡号", "没有京卡、互助金发到银行卡的会员请改填社保卡号")
	}
	phone, err := pii.NormalizePhone(r.Phone)
	if err != nil {
		return bindInput{}, errs.Invalid("phone", err.Error(), "请填写在工会登记的11位手机号")
	}
	in.phone, in.phoneHash = phone, s.cipher.Hash(pii.KindPhone, phone)
	return in, nil
}

// Bind links the caller's WeChat account to the member whose roster entry matches every field
// of r, and returns the member's profile. Errors: Invalid with the field for a malformed field
// (and binding.sms_* for a missing, expired or wrong SMS code); NotFound binding.no_match for
// any mismatch, the same whatever differs; TooMany binding.locked after too many failures of
// the account, IP or ID number, and binding.too_many past the per-IP attempt rate; Conflict
// binding.already_bound when the account is bound (unbind first) and binding.member_taken when
// the member is bound to another account. Every call writes an audit row.
func (s *Service) Bind(ctx context.Context, p Principal, r BindRequest, ip string) (Profile, error) {
	m, in, err := s.match(ctx, p, r, ip, "binding.attempt")
	if err != nil {
		return Profile{}, err
	}
	if s.o.RequireSMS || strings.TrimSpace(r.SMSCode) != "" {
		if err := s.checkCode(ctx, p, m.ID, r.SMSCode); err != nil {
			s.auditAttempt(ctx, p, "binding.attempt", "invalid", ip, map[string]any{"result": errCode(err), "card_kind": in.cardKind})
			return Profile{}, err
		}
	}
	now := s.now()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var taken int64
		if err := tx.Model(&model.WeChatAccount{}).Where("member_id = ?", m.ID).Count(&taken).Error; err != nil {
			return err
		}
		if taken > 0 {
			return errMemberTaken
		}
		res := tx.Model(&model.WeChatAccount{}).Where("id = ? AND member_id IS NULL", p.AccountID).
			Updates(map[string]any{"member_id": m.ID, "bound_at": now})
		switch {
		case errors.Is(res.Error, gorm.ErrDuplicatedKey):
			return errMemberTaken
		case res.Error != nil:
			return res.Error
		case res.RowsAffected != 1:
			return errAlreadyBound
		}
		return audit.Write(ctx, tx, now, audit.Entry{Actor: actorOf(p), Action: "binding.attempt", Target: memberTarget(m.ID),
			Outcome: "ok", IP: ip, UnionID: m.UnionID, Detail: map[string]any{"result": "bound", "card_kind": in.cardKind}})
	})
	if e, ok := errs.As(err); ok {
		s.auditAttempt(ctx, p, "binding.attempt", "denied", ip, map[string]any{"result": e.Code, "card_kind": in.cardKind, "member_id": m.ID})
		return Profile{}, err
	}
	if err != nil {
		return Profile{}, fmt.Errorf("bind account %d: %w", p.AccountID, err)
	}
	_ = s.kv.Del(ctx, codeKey(p.AccountID))
	p.MemberID = m.ID
	return s.Profile(ctx, p)
}

var (
	errAlreadyBound = &errs.Error{Kind: errs.KindConflict, Code: "binding.already_bound", Message: "这个微信已经绑定了会员",
		Fix: "如需更换绑定，请先在“我的”页面解除绑定"}
	errMemberTaken = &errs.Error{Kind: errs.KindConflict, Code: "binding.member_taken", Message: "该会员已绑定其他微信",
		Fix: "请先在原来的微信中解除绑定；原微信无法使用的，请联系所在单位工会处理"}
)

// CodeSent says where a binding SMS code went.
type CodeSent struct {
	Phone     string // masked: 尾号1234
	ExpiresIn time.Duration
}

// SendBindCode checks r as Bind does (same errors, counted and audited the same way) and, when
// it matches, sends a six-digit code to the roster phone for the next Bind. It also returns
// TooMany binding.sms_too_many past SMSPerHour codes for the account and Unavailable
// binding.sms_unavailable when no SMS provider is configured or it fails.
func (s *Service) SendBindCode(ctx context.Context, p Principal, r BindRequest, ip string) (CodeSent, error) {
	if s.sms == nil {
		return CodeSent{}, errs.New(errs.KindUnavailable, "binding.sms_unavailable", "暂时无法发送短信验证码，请稍后再试")
	}
	m, in, err := s.match(ctx, p, r, ip, "binding.sms")
	if err != nil {
		return CodeSent{}, err
	}
	if err := s.allow(ctx, fmt.Sprintf("bind:sms:acct:%d", p.AccountID), s.o.SMSPerHour, time.Hour,
		"binding.sms_too_many", "验证码发送太频繁，请稍后再试"); err != nil {
		return CodeSent{}, err
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return CodeSent{}, fmt.Errorf("binding code: %w", err)
	}
	code := fmt.Sprintf("%06d", n.Int64())
	val := strconv.FormatUint(m.ID, 10) + ":" + s.codeMAC(p.AccountID, code)
	if err := s.kv.Set(ctx, codeKey(p.AccountID), []byte(val), s.o.SMSCodeTTL); err != nil {
		return CodeSent{}, fmt.Errorf("store binding code: %w", err)
	}
	_ = s.kv.Del(ctx, codeFailKey(p.AccountID))
	text := fmt.Sprintf("【职工互助】您正在绑定工会会员信息，验证码%s，%d分钟内有效。如非本人操作请忽略。", code, int(s.o.SMSCodeTTL.Minutes()))
	if err := s.sms.Send(ctx, in.phone, text); err != nil {
		return CodeSent{}, errs.Wrap(errs.KindUnavailable, "binding.sms_unavailable", "短信验证码发送失败，请稍后再试", err)
	}
	s.auditAttempt(ctx, p, "binding.sms", "ok", ip, map[string]any{"result": "code_sent", "card_kind": in.cardKind, "member_id": m.ID})
	return CodeSent{Phone: pii.Mask(in.phone), ExpiresIn: s.o.SMSCodeTTL}, nil
}

func codeKey(accountID uint64) string     { return fmt.Sprintf("bind:code:%d", accountID) }
func codeFailKey(accountID uint64) string { return fmt.Sprintf("bind:codefail:%d", accountID) }

// codeMAC keeps the code out of kv in clear.
func (s *Service) codeMAC(accountID uint64, code string) string {
	return s.cipher.Hash("bind_code", strconv.FormatUint(accountID, 10)+":"+code)
}

// checkCode verifies the SMS code for member memberID; five wrong codes void it.
func (s *Service) checkCode(ctx context.Context, p Principal, memberID uint64, code string) error {
	code = strings.TrimSpace(code)
	if code == "" {
		return errs.Invalid("sms_code", "请填写短信验证码", "先获取验证码，再把收到的6位数字填进来")
	}
	v, ok, err := s.kv.Get(ctx, codeKey(p.AccountID))
	if err != nil {
		return fmt.Errorf("load binding code: %w", err)
	}
	if !ok {
		e := errs.New(errs.KindInvalid, "binding.sms_expired", "验证码已过期，请重新获取")
		e.Field = "sms_code"
		return e
	}
	idPart, mac, _ := strings.Cut(string(v), ":")
	if idPart == strconv.FormatUint(memberID, 10) && hmac.Equal([]byte(mac), []byte(s.codeMAC(p.AccountID, code))) {
		return nil
	}
	if n, err := s.kv.Incr(ctx, codeFailKey(p.AccountID), s.o.SMSCodeTTL); err == nil && n >= 5 {
		_ = s.kv.Del(ctx, codeKey(p.AccountID), codeFailKey(p.AccountID))
	}
	e := errs.New(errs.KindInvalid, "binding.sms_wrong", "验证码不正确")
	e.Field, e.Fix = "sms_code", "请核对短信中的6位数字；输错5次需要重新获取"
	return e
}

// match runs the common part of Bind and SendBindCode: format checks, lock-outs, the rate
// limit and the comparison with the roster, counting failures and auditing every outcome but
// success (the caller audits that with its change).
func (s *Service) match(ctx context.Context, p Principal, r BindRequest, ip, action string) (model.Member, bindInput, error) {
	if p.MemberID != 0 {
		s.auditAttempt(ctx, p, action, "denied", ip, map[string]any{"result": errAlreadyBound.Code})
		return model.Member{}, bindInput{}, errAlreadyBound
	}
	in, err := s.parseBind(r)
	if err != nil {
		s.auditAttempt(ctx, p, action, "invalid", ip, map[string]any{"result": errCode(err)})
		return model.Member{}, in, err
	}
	keys := s.failureKeys(p, ip, in.idHash)
	if err := s.checkLocks(ctx, keys); err != nil {
		s.auditAttempt(ctx, p, action, "denied", ip, map[string]any{"result": errCode(err), "card_kind": in.cardKind})
		return model.Member{}, in, err
	}
	if err := s.allow(ctx, "bind:ip:"+ip, s.o.IPAttemptsPerHour, time.Hour, "binding.too_many", "尝试次数太多，请稍后再试"); err != nil {
		s.auditAttempt(ctx, p, action, "denied", ip, map[string]any{"result": errCode(err), "card_kind": in.cardKind})
		return model.Member{}, in, err
	}
	var m model.Member
	err = s.db.WithContext(ctx).Where("id_number_hash = ?", in.idHash).Take(&m).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return model.Member{}, in, fmt.Errorf("bind: find member: %w", err)
	}
	// Every comparison runs whatever the earlier ones gave, on hashes of equal length.
	ok := hashEqual(m.IDNumberHash, in.idHash)
	ok = (m.Name == in.name) && ok
	card := m.JingCardHash
	if in.cardKind == pii.KindSocialCard {
		// The social-security card identifies only members without a 京卡 (paid to a bank card).
		card = m.SocialCardHash
		ok = m.JingCardHash == "" && ok
	}
	ok = hashEqual(card, in.cardHash) && ok
	ok = hashEqual(m.PhoneHash, in.phoneHash) && ok
	if !ok {
		s.countFailure(ctx, keys)
		s.auditAttempt(ctx, p, action, "failed", ip, map[string]any{"result": ErrNoMatch.Code, "card_kind": in.cardKind})
		return model.Member{}, in, ErrNoMatch
	}
	return m, in, nil
}

func hashEqual(stored, typed string) bool {
	return stored != "" && hmac.Equal([]byte(stored), []byte(typed))
}

type failureKey struct {
	key   string
	limit int64
}

func (s *Service) failureKeys(p Principal, ip, idHash string) []failureKey {
	// A prefix of the lookup hash is enough to count per person and keeps the kv key short.
	sum := sha256.Sum256([]byte(idHash))
	return []failureKey{
		{fmt.Sprintf("bind:fail:acct:%d", p.AccountID), s.o.AccountFailures},
		{"bind:fail:ip:" + ip, s.o.IPFailures},
		{"bind:fail:id:" + hex.EncodeToString(sum[:12]), s.o.PersonFailures},
	}
}

// checkLocks refuses an attempt while any failure counter is at its limit.
func (s *Service) checkLocks(ctx context.Context, keys []failureKey) error {
	for _, k := range keys {
		v, ok, err := s.kv.Get(ctx, k.key)
		if err != nil {
			return fmt.Errorf("binding lock-out: %w", err)
		}
		if !ok {
			continue
		}
		if n, _ := strconv.ParseInt(string(v), 10, 64); n >= k.limit {
			left, err := s.kv.TTL(ctx, k.key)
			if err != nil || left <= 0 {
				left = s.o.FailureWindow
			}
			e := errs.TooMany("binding.locked", "核对失败次数太多，绑定已暂时锁定", left)
			e.Fix = "请稍后再试；如确认信息无误仍无法绑定，请联系所在单位工会或拨打12351"
			return e
		}
	}
	return nil
}

func (s *Service) countFailure(ctx context.Context, keys []failureKey) {
	for _, k := range keys {
		if _, err := s.kv.Incr(ctx, k.key, s.o.FailureWindow); err != nil {
			s.log.Warn("count binding failure", "err", err)
		}
	}
}

// auditAttempt records an attempt that changed nothing. A failure to write it is logged: the
// worker's answer does not depend on it.
func (s *Service) auditAttempt(ctx context.Context, p Principal, action, outcome, ip string, detail map[string]any) {
	target := ""
	if id, ok := detail["member_id"].(uint64); ok {
		target = memberTarget(id)
		delete(detail, "member_id")
	}
	err := audit.Write(ctx, s.db, s.now(), audit.Entry{Actor: actorOf(p), Action: action, Target: target, Outcome: outcome, IP: ip, Detail: detail})
	if err != nil {
		s.log.Error("audit binding attempt", "account_id", p.AccountID, "err", err)
	}
}

func actorOf(p Principal) string    { return fmt.Sprintf("wx:%d", p.AccountID) }
func memberTarget(id uint64) string { return fmt.Sprintf("member:%d", id) }
func errCode(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Code
	}
	return "internal"
}
