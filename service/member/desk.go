package member

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
)

// DeskCode is the short code a worker shows at the union desk so that staff, after checking the
// worker's papers in person, bind the member to this WeChat account (StaffBind).
type DeskCode struct {
	Code      string // 8 digits
	ExpiresIn time.Duration
}

// deskCodeDigits makes a code that staff read off a phone without mistakes; guessing one is
// bounded by the staff's own rate limit (staffCodesPerHour) and the code's short life.
const (
	deskCodeDigits    = 8
	deskCodesPerHour  = 10
	staffCodesPerHour = 30
)

func deskKey(code string) string             { return "bind:desk:" + code }
func deskAccountKey(accountID uint64) string { return fmt.Sprintf("bind:deskacct:%d", accountID) }

// IssueDeskCode gives the caller's unbound account a fresh desk code, valid for
// Options.DeskCodeTTL; an earlier code of the account stops working. Errors: Conflict
// binding.already_bound for a bound account; TooMany binding.desk_too_many past 10 codes an
// hour.
func (s *Service) IssueDeskCode(ctx context.Context, p Principal) (DeskCode, error) {
	if p.MemberID != 0 {
		return DeskCode{}, errAlreadyBound
	}
	if err := s.allow(ctx, fmt.Sprintf("bind:desk:acct:%d", p.AccountID), deskCodesPerHour, time.Hour,
		"binding.desk_too_many", "绑定码获取太频繁，请稍后再试"); err != nil {
		return DeskCode{}, err
	}
	if old, ok, err := s.kv.Get(ctx, deskAccountKey(p.AccountID)); err == nil && ok {
		_, _ = s.kv.DelIf(ctx, deskKey(string(old)), []byte(strconv.FormatUint(p.AccountID, 10)))
	}
	for range 5 {
		n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
		if err != nil {
			return DeskCode{}, fmt.Errorf("desk code: %w", err)
		}
		code := fmt.Sprintf("%0*d", deskCodeDigits, n.Int64())
		ok, err := s.kv.SetNX(ctx, deskKey(code), []byte(strconv.FormatUint(p.AccountID, 10)), s.o.DeskCodeTTL)
		if err != nil {
			return DeskCode{}, fmt.Errorf("store desk code: %w", err)
		}
		if !ok {
			continue
		}
		if err := s.kv.Set(ctx, deskAccountKey(p.AccountID), []byte(code), s.o.DeskCodeTTL); err != nil {
			return DeskCode{}, fmt.Errorf("store desk code: %w", err)
		}
		return DeskCode{Code: code, ExpiresIn: s.o.DeskCodeTTL}, nil
	}
	return DeskCode{}, errors.New("desk code: no free code after 5 tries")
}

// may checks that op may change bindings (admin, operator and union staff; auditors only read)
// and, for union staff, that the member is in their union. A member they may not see is
// NotFound, as if it did not exist.
func (s *Service) may(ctx context.Context, op model.Actor, memberID uint64) (model.Member, error) {
	switch op.Role {
	case model.RoleAdmin, model.RoleOperator, model.RoleUnion:
	default:
		return model.Member{}, errs.New(errs.KindForbidden, "staff.forbidden", "您的角色不能办理绑定")
	}
	if op.Username == "" {
		return model.Member{}, errors.New("binding by staff: operator without a username")
	}
	var m model.Member
	err := s.db.WithContext(ctx).Take(&m, memberID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && op.Role == model.RoleUnion && m.UnionID != op.UnionID) {
		return model.Member{}, errs.NotFound("member.not_found", "没有找到这位会员")
	}
	if err != nil {
		return model.Member{}, fmt.Errorf("load member %d: %w", memberID, err)
	}
	return m, nil
}

// StaffBindRequest is what staff enter after checking a worker's papers in person.
type StaffBindRequest struct {
	MemberID uint64
	Code     string // the desk code the worker's mini-program shows
	Reason   string // why online binding was not possible, what was checked
}

// StaffBound is the outcome of StaffBind.
type StaffBound struct {
	AccountID uint64
	TookFrom  uint64 // the account the member was bound to before, 0 when none
}

// StaffBind binds the member to the WeChat account whose desk code the worker showed, for
// workers who cannot prove the roster phone online (no phone or another phone on the roster,
// a lost phone). A member bound to another account is moved: that account is unbound and told
// at its next login. The binding, the reason and the operator are audited (binding.staff_bind).
// Errors: Forbidden for auditors; NotFound for a member op may not see; Invalid reason or code
// (binding.desk_code_invalid for an unknown or expired code); Conflict binding.already_bound
// when the worker's account is bound to someone; TooMany binding.desk_too_many past 30 codes an
// hour for one operator.
func (s *Service) StaffBind(ctx context.Context, op model.Actor, r StaffBindRequest) (StaffBound, error) {
	m, err := s.may(ctx, op, r.MemberID)
	if err != nil {
		return StaffBound{}, err
	}
	reason, err := checkReason(r.Reason)
	if err != nil {
		return StaffBound{}, err
	}
	code := strings.Map(func(c rune) rune {
		if c == ' ' || c == '-' {
			return -1
		}
		return c
	}, strings.TrimSpace(r.Code))
	if len(code) != deskCodeDigits || strings.Trim(code, "0123456789") != "" {
		return StaffBound{}, errs.Invalid("code", "绑定码应为8位数字", "请职工在小程序“到工会办理绑定”页面出示绑定码")
	}
	if err := s.allow(ctx, "bind:desk:staff:"+op.Username, staffCodesPerHour, time.Hour,
		"binding.desk_too_many", "输入绑定码太频繁，请稍后再试"); err != nil {
		return StaffBound{}, err
	}
	v, ok, err := s.kv.Get(ctx, deskKey(code))
	if err != nil {
		return StaffBound{}, fmt.Errorf("load desk code: %w", err)
	}
	accountID, perr := strconv.ParseUint(string(v), 10, 64)
	if !ok || perr != nil {
		e := errs.New(errs.KindInvalid, "binding.desk_code_invalid", "绑定码不存在或已过期")
		e.Field, e.Fix = "code", "请职工在小程序里重新获取绑定码（30分钟内有效）"
		return StaffBound{}, e
	}
	now := s.now()
	out := StaffBound{AccountID: accountID}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var holder []uint64
		if err := tx.Model(&model.WeChatAccount{}).Where("member_id = ?", m.ID).Pluck("id", &holder).Error; err != nil {
			return err
		}
		if len(holder) > 0 && holder[0] == accountID {
			return errs.New(errs.KindConflict, "binding.already_bound", "这个微信已经绑定了这位会员")
		}
		if len(holder) > 0 {
			if err := unbindAccount(tx, holder[0], m.ID); err != nil {
				return err
			}
			out.TookFrom = holder[0]
		}
		if err := bindAccount(tx, accountID, m.ID, now); err != nil {
			return err
		}
		detail := map[string]any{"account_id": accountID, "reason": reason}
		if out.TookFrom != 0 {
			detail["from_account"] = out.TookFrom
		}
		e := audit.By(op)
		e.Action, e.Target, e.Outcome, e.UnionID, e.Detail = "binding.staff_bind", memberTarget(m.ID), "ok", m.UnionID, detail
		return audit.Write(ctx, tx, now, e)
	})
	if e, ok := errs.As(err); ok {
		return StaffBound{}, e
	}
	if err != nil {
		return StaffBound{}, fmt.Errorf("bind member %d by staff: %w", m.ID, err)
	}
	_ = s.kv.Del(ctx, deskKey(code), deskAccountKey(accountID), pairKey(accountID, m.IDNumberHash), accountFailKey(accountID))
	if out.TookFrom != 0 {
		s.forget(out.TookFrom)
		s.leaveNotice(ctx, out.TookFrom, fmt.Sprintf("您的微信与工会会员信息的绑定已于%s解除：工会工作人员核对会员本人身份后，把会员信息改绑到了另一个微信。如有疑问，请联系所在单位工会或拨打12351。",
			now.In(model.Shanghai).Format("2006-01-02 15:04")))
	}
	return out, nil
}

// reLongNumber finds what looks like a personal number (phone, card or ID number) in a reason,
// which goes into the audit log in clear.
var reLongNumber = regexp.MustCompile(`[0-9０-９]{7,}`)

// checkReason bounds the staff's reason and keeps personal numbers out of it.
func checkReason(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case n < 4:
		return "", errs.Invalid("reason", "请写明办理原因", "例如：职工持身份证和京卡到工会办理，登记手机号已停用")
	case n > 200:
		return "", errs.Invalid("reason", "原因太长了", "请写在200字以内")
	case reLongNumber.MatchString(s):
		return "", errs.Invalid("reason", "原因里不要写身份证号、卡号或手机号", "原因会记入审计日志，请只写核对了哪些证件，例如“核对了身份证和京卡”")
	}
	return s, nil
}

// LockLift names the lock-outs staff lift for a worker who came to them: the worker's WeChat
// account with the member's ID number, the account as a whole, and optionally a client IP.
type LockLift struct {
	MemberID  uint64
	AccountID uint64
	IP        string // optional
	Reason    string
}

// LiftLock clears the binding failure counters of l and writes an audit row (binding.unlock).
// Errors: Forbidden for auditors; NotFound for a member op may not see or an unknown account;
// Invalid for a malformed IP or a missing reason.
func (s *Service) LiftLock(ctx context.Context, op model.Actor, l LockLift) error {
	m, err := s.may(ctx, op, l.MemberID)
	if err != nil {
		return err
	}
	reason, err := checkReason(l.Reason)
	if err != nil {
		return err
	}
	ip := strings.TrimSpace(l.IP)
	if ip != "" && net.ParseIP(ip) == nil {
		return errs.Invalid("ip", "IP 地址格式不对", "例如 203.0.113.7，不需要解除 IP 锁定的请留空")
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&model.WeChatAccount{}).Where("id = ?", l.AccountID).Count(&n).Error; err != nil {
		return fmt.Errorf("lift lock: load account %d: %w", l.AccountID, err)
	}
	if n == 0 {
		return errs.NotFound("binding.account_not_found", "没有这个微信账号")
	}
	keys := []string{pairKey(l.AccountID, m.IDNumberHash), accountFailKey(l.AccountID)}
	if ip != "" {
		keys = append(keys, ipFailKey(ip))
	}
	// The audit row comes first: a lift that cannot be recorded does not happen.
	detail := map[string]any{"account_id": l.AccountID, "reason": reason, "ip_lifted": ip != ""}
	e := audit.By(op)
	e.Action, e.Target, e.Outcome, e.UnionID, e.Detail = "binding.unlock", memberTarget(m.ID), "ok", m.UnionID, detail
	if err := audit.Write(ctx, s.db.WithContext(ctx), s.now(), e); err != nil {
		return fmt.Errorf("lift lock: audit: %w", err)
	}
	if err := s.kv.Del(ctx, keys...); err != nil {
		return fmt.Errorf("lift lock: %w", err)
	}
	return nil
}
