package member

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/pii"
	"huzhu/service/wechat"
)

// Proof is how a worker proves, when binding, that the phone on the roster is theirs. The four
// typed facts (name, ID number, card and phone) are printed in every roster and bank file, so
// they identify the member but prove nothing.
type Proof string

// Proofs of possession.
const (
	// ProofWeChatPhone asks for the code of the mini-program's phone-number button: WeChat
	// tells the server the phone the user verified, which must be the roster phone. The SMS
	// code stays accepted as the fallback (a worker whose WeChat has another number).
	ProofWeChatPhone Proof = "wechat_phone"
	// ProofSMS asks for the code sent by SMS to the roster phone; the phone-number code is
	// accepted as well when the mini-program sends one.
	ProofSMS Proof = "sms"
	// ProofNone binds on the typed facts alone. Only for development and tests: anyone with a
	// roster can bind anyone.
	ProofNone Proof = "none"
)

// ParseProof reads a proof mode as written in the configuration.
func ParseProof(s string) (Proof, error) {
	switch p := Proof(strings.TrimSpace(s)); p {
	case ProofWeChatPhone, ProofSMS, ProofNone:
		return p, nil
	}
	return "", fmt.Errorf("%q is not a proof mode (wechat_phone, sms or none)", s)
}

// Proof returns the proof mode in force, for the mini-program to show the right button.
func (s *Service) Proof() Proof { return s.o.Proof }

var (
	errPhoneMismatch = &errs.Error{Kind: errs.KindForbidden, Code: "binding.phone_mismatch", Message: "您微信验证的手机号与工会登记的手机号不一致",
		Fix: "请带身份证和京卡到所在单位工会，核对身份后由工作人员为您绑定或更新登记的手机号；如果登记的手机号仍在您手上，也可以改用短信验证码绑定"}
	errNoRosterPhone = &errs.Error{Kind: errs.KindForbidden, Code: "binding.no_roster_phone", Message: "工会登记的信息里没有您的手机号，无法在线验证",
		Fix: "请带身份证和京卡到所在单位工会，核对身份后由工作人员为您绑定，并登记您的手机号"}
	errPhoneUnavailable = &errs.Error{Kind: errs.KindUnavailable, Code: "binding.phone_unavailable", Message: "暂时无法验证手机号，请稍后再试",
		Fix: "也可以改用短信验证码绑定"}
)

// prove checks the proof that came with r for member m and returns which it was: the
// phone-number code first, then the SMS code; ProofNone only when the mode allows it.
func (s *Service) prove(ctx context.Context, p Principal, m model.Member, r BindRequest) (Proof, error) {
	phoneCode, smsCode := strings.TrimSpace(r.PhoneCode), strings.TrimSpace(r.SMSCode)
	switch {
	case phoneCode != "":
		return ProofWeChatPhone, s.checkPhone(ctx, m, phoneCode)
	case smsCode != "":
		return ProofSMS, s.checkCode(ctx, p, m.ID, smsCode)
	case s.o.Proof == ProofNone:
		return ProofNone, nil
	case s.o.Proof == ProofWeChatPhone:
		return "", errs.Invalid("phone_code", "请先验证手机号", "请点“微信手机号快捷验证”，把得到的 code 和绑定信息一起提交；微信里的手机号不是工会登记的号码的，可改用短信验证码")
	}
	return "", s.checkCode(ctx, p, m.ID, "")
}

// checkPhone asks WeChat for the phone behind the button's code and compares it with the roster
// phone by its lookup hash; the number itself goes nowhere else.
func (s *Service) checkPhone(ctx context.Context, m model.Member, code string) error {
	if len(code) > 128 {
		return errs.Invalid("phone_code", "手机号验证凭证太长了", "请原样提交手机号按钮返回的 code")
	}
	if s.wx == nil {
		return errPhoneUnavailable
	}
	ph, err := s.wx.PhoneNumber(ctx, code)
	if err != nil {
		return phoneError(err)
	}
	if ph.CountryCode != "" && ph.CountryCode != "86" {
		return errPhoneMismatch
	}
	n, err := pii.NormalizePhone(ph.Pure)
	if err != nil || !hashEqual(m.PhoneHash, s.cipher.Hash(pii.KindPhone, n)) {
		return errPhoneMismatch
	}
	return nil
}

func phoneError(err error) error {
	if errors.Is(err, wechat.ErrNotConfigured) {
		return errs.Wrap(errs.KindUnavailable, errPhoneUnavailable.Code, errPhoneUnavailable.Message, err)
	}
	switch wechat.Classify(err) {
	case wechat.BadRequest:
		e := errs.Wrap(errs.KindInvalid, "binding.phone_code_invalid", "手机号验证已失效", err)
		e.Field, e.Fix = "phone_code", "验证结果只能用一次、5分钟内有效，请重新点“微信手机号快捷验证”"
		return e
	case wechat.RateLimited:
		e := errs.Wrap(errs.KindTooMany, "binding.phone_too_many", "验证手机号的人太多了，请稍后再试", err)
		e.RetryAfter = 10 * time.Second
		return e
	}
	e := errs.Wrap(errs.KindUnavailable, errPhoneUnavailable.Code, errPhoneUnavailable.Message, err)
	e.Fix = errPhoneUnavailable.Fix
	return e
}

func noticeKey(accountID uint64) string { return fmt.Sprintf("bind:notice:%d", accountID) }

// leaveNotice keeps text for the account's next login. A failure is logged: the change it
// describes has committed and is in the audit log.
func (s *Service) leaveNotice(ctx context.Context, accountID uint64, text string) {
	if err := s.kv.Set(ctx, noticeKey(accountID), []byte(text), s.o.NoticeTTL); err != nil {
		s.log.Warn("leave binding notice", "account_id", accountID, "err", err)
	}
}

// takeNotice returns the account's waiting notice, once.
func (s *Service) takeNotice(ctx context.Context, accountID uint64) string {
	v, ok, err := s.kv.Get(ctx, noticeKey(accountID))
	if err != nil || !ok {
		return ""
	}
	if err := s.kv.Del(ctx, noticeKey(accountID)); err != nil {
		s.log.Warn("clear binding notice", "account_id", accountID, "err", err)
	}
	return string(v)
}
