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
// the social-security card when paid to a bank card) and phone, plus the proof that the roster
// phone is theirs: the code of the mini-program's phone-number button (PhoneCode), or the SMS
// code sent to the roster phone (SMSCode). With PhoneCode the typed phone may be left out: the
// number WeChat verified stands in for it. TakeBack asks to take the member back from another
// WeChat account it is bound to, which needs one of the two proofs.
type BindRequest struct {
	Name       string
	IDNumber   string
	JingCard   string
	SocialCard string
	Phone      string
	PhoneCode  string
	SMSCode    string
	TakeBack   bool
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
// roster. The phone may be empty only when a phone-number code comes with the request.
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
	if strings.TrimSpace(r.Phone) == "" && strings.TrimSpace(r.PhoneCode) != "" {
		return in, nil
	}
	phone, err := pii.NormalizePhone(r.Phone)
	if err != nil {
		return bindInput{}, errs.Invalid("phone", err.Error(), "请填写在工会登记的11位手机号")
	}
	in.phone, in.phoneHash = phone, s.cipher.Hash(pii.KindPhone, phone)
	return in, nil
}

// Bind links the caller's WeChat account to the member whose roster entry matches r, once the
// worker proved that the roster phone is theirs (Options.Proof), and returns the member's
// profile. With r.TakeBack and a proof, a member bound to another account is taken back: that
// account is unbound and told at its next login (Login.Notice). Errors: Invalid with the field
// for a malformed field, a missing proof (phone_code or sms_code) and binding.sms_* or
// binding.phone_code_invalid for a bad code; NotFound binding.no_match for any mismatch of the
// typed facts, the same whatever differs; Forbidden binding.phone_mismatch when the phone
// WeChat verified is not the roster phone and binding.no_roster_phone when the roster has
// none (both tell the worker to see their union); TooMany binding.locked after too many
// failures of the account (for this ID number or in all) or the IP, and binding.too_many past
// the per-IP attempt rate; Conflict binding.already_bound when the account is bound (unbind
// first), binding.member_taken when the member is bound to another account and TakeBack is not
// set, binding.take_back_needs_proof for TakeBack without a proof; Unavailable
// binding.phone_unavailable when WeChat cannot check the phone. Every call writes an audit row.
func (s *Service) Bind(ctx context.Context, p Principal, r BindRequest, ip string) (Profile, error) {
	m, in, err := s.match(ctx, p, r, ip, "binding.attempt")
	if err != nil {
		return Profile{}, err
	}
	proof, err := s.prove(ctx, p, m, r)
	if err != nil {
		// A phone that is not the roster phone is not counted as a failure: it comes only after
		// the typed facts matched, so it tells a guesser nothing, and counting it would lock the
		// worker out of the SMS fallback it points to.
		outcome := "invalid"
		if e, ok := errs.As(err); ok && e.Code == errPhoneMismatch.Code {
			outcome = "failed"
		}
		s.auditAttempt(ctx, p, "binding.attempt", outcome, ip, map[string]any{"result": errCode(err), "card_kind": in.cardKind, "proof": proof, "member_id": m.ID})
		return Profile{}, err
	}
	now := s.now()
	var tookFrom uint64
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var holder []uint64
		if err := tx.Model(&model.WeChatAccount{}).Where("member_id = ?", m.ID).Pluck("id", &holder).Error; err != nil {
			return err
		}
		if len(holder) > 0 && holder[0] != p.AccountID {
			switch {
			case !r.TakeBack:
				return errMemberTaken
			case proof == ProofNone:
				return errTakeBackNeedsProof
			}
			if err := unbindAccount(tx, holder[0], m.ID); err != nil {
				return err
			}
			tookFrom = holder[0]
		}
		if err := bindAccount(tx, p.AccountID, m.ID, now); err != nil {
			return err
		}
		result := "bound"
		detail := map[string]any{"card_kind": in.cardKind, "proof": proof}
		if tookFrom != 0 {
			result, detail["from_account"] = "taken_back", tookFrom
			if err := audit.Write(ctx, tx, now, audit.Entry{Actor: actorOf(p), Action: "binding.take_back", Target: memberTarget(m.ID),
				Outcome: "ok", IP: ip, UnionID: m.UnionID, Detail: map[string]any{"from_account": tookFrom, "proof": proof}}); err != nil {
				return err
			}
		}
		detail["result"] = result
		return audit.Write(ctx, tx, now, audit.Entry{Actor: actorOf(p), Action: "binding.attempt", Target: memberTarget(m.ID),
			Outcome: "ok", IP: ip, UnionID: m.UnionID, Detail: detail})
	})
	if e, ok := errs.As(err); ok {
		s.auditAttempt(ctx, p, "binding.attempt", "denied", ip, map[string]any{"result": e.Code, "card_kind": in.cardKind, "proof": proof, "member_id": m.ID})
		return Profile{}, err
	}
	if err != nil {
		return Profile{}, fmt.Errorf("bind account %d: %w", p.AccountID, err)
	}
	_ = s.kv.Del(ctx, codeKey(p.AccountID))
	if tookFrom != 0 {
		s.forget(tookFrom)
		s.leaveNotice(ctx, tookFrom, fmt.Sprintf("您的微信与工会会员信息的绑定已于%s解除：会员本人在另一个微信中验证了工会登记的手机号，收回了绑定。如果这不是您本人的操作，请联系所在单位工会或拨打12351。",
			now.In(model.Shanghai).Format("2006-01-02 15:04")))
	}
	p.MemberID = m.ID
	return s.Profile(ctx, p)
}

// bindAccount links account to member; the account must be unbound and the member free.
func bindAccount(tx *gorm.DB, accountID, memberID uint64, at time.Time) error {
	res := tx.Model(&model.WeChatAccount{}).Where("id = ? AND member_id IS NULL", accountID).
		Updates(map[string]any{"member_id": memberID, "bound_at": at})
	switch {
	case errors.Is(res.Error, gorm.ErrDuplicatedKey):
		return errMemberTaken
	case res.Error != nil:
		return res.Error
	case res.RowsAffected != 1:
		return errAlreadyBound
	}
	return nil
}

// unbindAccount unlinks account from member; errMemberTaken when it no longer holds it (a
// concurrent change), so the caller's transaction rolls back.
func unbindAccount(tx *gorm.DB, accountID, memberID uint64) error {
	res := tx.Model(&model.WeChatAccount{}).Where("id = ? AND member_id = ?", accountID, memberID).
		Updates(map[string]any{"member_id": nil, "bound_at": nil})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return errMemberTaken
	}
	return nil
}

var (
	errAlreadyBound = &errs.Error{Kind: errs.KindConflict, Code: "binding.already_bound", Message: "这个微信已经绑定了会员",
		Fix: "如需更换绑定，请先在“我的”页面解除绑定"}
	errMemberTaken = &errs.Error{Kind: errs.KindConflict, Code: "binding.member_taken", Message: "该会员已绑定其他微信",
		Fix: "如果这是您本人的会员信息，请验证工会登记的手机号后选择“收回绑定”，原来的微信会被解除绑定并收到提醒；手机号无法验证的，请到所在单位工会核对身份后办理"}
	errTakeBackNeedsProof = &errs.Error{Kind: errs.KindConflict, Code: "binding.take_back_needs_proof", Message: "收回绑定需要先验证手机号",
		Fix: "请用微信手机号快捷验证或短信验证码证明工会登记的手机号是您的；无法验证的，请到所在单位工会办理"}
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
	if err == nil && action == "binding.sms" && in.phoneHash == "" {
		err = errs.Invalid("phone", "请填写手机号", "验证码会发到您在工会登记的手机号，请填写这个号码")
	}
	if err != nil {
		s.auditAttempt(ctx, p, action, "invalid", ip, map[string]any{"result": errCode(err)})
		return model.Member{}, in, err
	}
	keys := s.failureKeys(p, ip, in.idHash)
	if err := s.checkLocks(ctx, p.AccountID, keys); err != nil {
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
	if ok && m.PhoneHash == "" {
		// The facts are right but no phone can prove them: only the union can help. Not counted,
		// as a phone mismatch is not (see Bind).
		s.auditAttempt(ctx, p, action, "failed", ip, map[string]any{"result": errNoRosterPhone.Code, "card_kind": in.cardKind, "member_id": m.ID})
		return model.Member{}, in, errNoRosterPhone
	}
	if in.phoneHash != "" {
		ok = hashEqual(m.PhoneHash, in.phoneHash) && ok
	}
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

// failureKeys are the counters a failed attempt adds to: the account with this ID number, the
// account whatever the ID number, and the IP. None counts the ID number alone, so a stranger's
// failures never lock out the worker's own account. A prefix of the lookup hash is enough to
// tell the ID numbers apart and keeps the kv key short.
func (s *Service) failureKeys(p Principal, ip, idHash string) []failureKey {
	return []failureKey{
		{pairKey(p.AccountID, idHash), s.o.AccountFailures},
		{accountFailKey(p.AccountID), s.o.AccountAnyFailures},
		{ipFailKey(ip), s.o.IPFailures},
	}
}

func pairKey(accountID uint64, idHash string) string {
	sum := sha256.Sum256([]byte(idHash))
	return fmt.Sprintf("bind:fail:acct:%d:id:%s", accountID, hex.EncodeToString(sum[:12]))
}
func accountFailKey(accountID uint64) string { return fmt.Sprintf("bind:fail:acct:%d", accountID) }
func ipFailKey(ip string) string             { return "bind:fail:ip:" + ip }

// checkLocks refuses an attempt while any failure counter is at its limit, saying how long to
// wait and the account number staff need to lift the lock.
func (s *Service) checkLocks(ctx context.Context, accountID uint64, keys []failureKey) error {
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
			e := errs.TooMany("binding.locked", "核对失败次数太多，绑定已暂时锁定，请"+waitText(left)+"后再试", left)
			e.Fix = fmt.Sprintf("请核对在工会登记的信息；如确认信息无误仍无法绑定，请联系所在单位工会为您解除锁定（请告诉工作人员您的微信账号编号：%d），或拨打12351", accountID)
			return e
		}
	}
	return nil
}

// waitText says how long d is in whole minutes (rounded up), with hours when it is long:
// "7分钟", "3小时5分钟".
func waitText(d time.Duration) string {
	mins := int64((d + time.Minute - 1) / time.Minute)
	if mins < 1 {
		mins = 1
	}
	if mins < 60 {
		return fmt.Sprintf("%d分钟", mins)
	}
	if mins%60 == 0 {
		return fmt.Sprintf("%d小时", mins/60)
	}
	return fmt.Sprintf("%d小时%d分钟", mins/60, mins%60)
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
