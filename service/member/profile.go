package member

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/eligibility"
	"huzhu/service/errs"
	"huzhu/service/pii"
)

// Profile is what a bound worker sees of their roster entry. Personal numbers are masked
// (尾号 last 4) and empty when the roster has none.
type Profile struct {
	MemberID      uint64
	Name          string
	IDNumber      string // masked
	JingCard      string // masked
	SocialCard    string // masked
	Phone         string // masked
	Bank          model.Bank
	BankAccount   string // masked
	Union         model.Union
	Participation model.Participation
	PaidUntil     model.Date
	Employment    model.EmploymentStatus
	Statuses      []Status // special statuses in force today
	BoundAt       time.Time
}

// Status is a special status that raises the worker's ratios (困难职工, 劳模), as held today.
type Status struct {
	Kind  string // hardship or model_worker
	Label string
	From  model.Date
	Until model.Date // empty: open-ended
}

// Profile returns the caller's member, masked. It returns ErrNotBound when the account is not
// bound.
func (s *Service) Profile(ctx context.Context, p Principal) (Profile, error) {
	m, u, boundAt, err := s.boundMember(ctx, p)
	if err != nil {
		return Profile{}, err
	}
	today := model.DateOf(s.now())
	pr := Profile{MemberID: m.ID, Name: m.Name, IDNumber: pii.MaskLast4(m.IDLast4), JingCard: pii.MaskLast4(m.JingCardLast4),
		SocialCard: pii.MaskLast4(m.SocialCardLast4), Phone: pii.MaskLast4(m.PhoneLast4), Union: u,
		Participation: m.Participation, PaidUntil: m.PaidUntil, Employment: m.Employment, BoundAt: boundAt, Statuses: []Status{}}
	if m.BankAccountHash != "" {
		pr.Bank, pr.BankAccount = m.BankCode, pii.MaskLast4(m.BankAccountLast4)
	}
	held := func(from, until model.Date) bool {
		return (from == "" || from <= today) && (until == "" || today <= until)
	}
	if m.Hardship && held(m.HardshipFrom, m.HardshipUntil) {
		pr.Statuses = append(pr.Statuses, Status{Kind: "hardship", Label: "困难职工", From: m.HardshipFrom, Until: m.HardshipUntil})
	}
	if m.ModelWorker && held(m.ModelFrom, m.ModelUntil) {
		pr.Statuses = append(pr.Statuses, Status{Kind: "model_worker", Label: "劳模", From: m.ModelFrom, Until: m.ModelUntil})
	}
	return pr, nil
}

// boundMember loads the caller's member, union and binding time; ErrNotBound when unbound.
func (s *Service) boundMember(ctx context.Context, p Principal) (model.Member, model.Union, time.Time, error) {
	if p.MemberID == 0 {
		return model.Member{}, model.Union{}, time.Time{}, ErrNotBound
	}
	var acct model.WeChatAccount
	err := s.db.WithContext(ctx).Where("id = ? AND member_id = ?", p.AccountID, p.MemberID).Take(&acct).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return model.Member{}, model.Union{}, time.Time{}, ErrNotBound
	}
	if err != nil {
		return model.Member{}, model.Union{}, time.Time{}, fmt.Errorf("load account %d: %w", p.AccountID, err)
	}
	var m model.Member
	if err := s.db.WithContext(ctx).Take(&m, p.MemberID).Error; err != nil {
		// A member removed from the roster behaves as not bound.
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return model.Member{}, model.Union{}, time.Time{}, ErrNotBound
		}
		return model.Member{}, model.Union{}, time.Time{}, fmt.Errorf("load member %d: %w", p.MemberID, err)
	}
	var u model.Union
	if err := s.db.WithContext(ctx).Take(&u, m.UnionID).Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return model.Member{}, model.Union{}, time.Time{}, fmt.Errorf("load union %d: %w", m.UnionID, err)
	}
	var at time.Time
	if acct.BoundAt != nil {
		at = *acct.BoundAt
	}
	return m, u, at, nil
}

// Unbind removes the link between the caller's account and their member and writes an audit
// row. It returns ErrNotBound when the account is not bound.
func (s *Service) Unbind(ctx context.Context, p Principal, ip string) error {
	if p.MemberID == 0 {
		return ErrNotBound
	}
	return s.unbind(ctx, p.AccountID, p.MemberID, audit.Entry{Actor: actorOf(p), IP: ip, Detail: map[string]any{"by": "worker"}})
}

// Eligibility is a verdict of the eligibility engine on a day.
type Eligibility struct {
	Date     model.Date
	Decision eligibility.Decision
}

// Eligibility returns the engine's verdict on the caller's member today, from the roster. It
// returns ErrNotBound when the account is not bound.
func (s *Service) Eligibility(ctx context.Context, p Principal) (Eligibility, error) {
	m, u, _, err := s.boundMember(ctx, p)
	if err != nil {
		return Eligibility{}, err
	}
	today := model.DateOf(s.now())
	return Eligibility{Date: today, Decision: eligibility.Decide(eligibility.FactsOf(m, u), today)}, nil
}

// CheckEligibility returns the engine's verdict today on facts someone answered, for people who
// are not bound. It never fails: unknown facts give StatusUnknown and the facts to ask next.
func (s *Service) CheckEligibility(f eligibility.Facts) Eligibility {
	today := model.DateOf(s.now())
	return Eligibility{Date: today, Decision: eligibility.Decide(f, today)}
}

// Preferences are the caller's notice settings.
type Preferences struct {
	// Subscriptions are the subscribe-message template ids the worker accepted, sorted.
	Subscriptions []string
	SMSOptOut     bool
	// Templates are the template ids the mini-program should ask for (Options.Templates).
	Templates []string
}

// PreferencesUpdate changes the preferences. Results is the wx.requestSubscribeMessage result,
// template id → "accept", "reject", "ban" or "filter"; only accept subscribes, anything else
// unsubscribes. A nil SMSOptOut leaves it unchanged.
type PreferencesUpdate struct {
	Results   map[string]string
	SMSOptOut *bool
}

var reTemplateID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// maxSubscriptions bounds the stored list to its column (512 characters).
const maxSubscriptions = 7

// Preferences returns the caller's notice settings; binding is not needed.
func (s *Service) Preferences(ctx context.Context, p Principal) (Preferences, error) {
	var acct model.WeChatAccount
	if err := s.db.WithContext(ctx).Take(&acct, p.AccountID).Error; err != nil {
		return Preferences{}, fmt.Errorf("load account %d: %w", p.AccountID, err)
	}
	return s.prefsOf(acct), nil
}

func (s *Service) prefsOf(a model.WeChatAccount) Preferences {
	return Preferences{Subscriptions: splitSubs(a.Subscriptions), SMSOptOut: a.SMSOptOut, Templates: slices.Clone(s.o.Templates)}
}

// UpdatePreferences applies u and returns the result. It returns Invalid naming the field
// ("subscriptions.<id>" or "subscriptions") for a malformed or unknown template id, a result
// other than accept, reject, ban or filter, or too many templates.
func (s *Service) UpdatePreferences(ctx context.Context, p Principal, u PreferencesUpdate) (Preferences, error) {
	if len(u.Results) > 20 {
		return Preferences{}, errs.Invalid("subscriptions", "一次提交的模板太多了", "请只提交 wx.requestSubscribeMessage 返回的结果")
	}
	for id, r := range u.Results {
		field := "subscriptions." + id
		if !reTemplateID.MatchString(id) {
			return Preferences{}, errs.Invalid("subscriptions", "消息模板编号格式不对", "请原样提交 wx.requestSubscribeMessage 返回的模板编号")
		}
		if len(s.o.Templates) > 0 && !slices.Contains(s.o.Templates, id) {
			return Preferences{}, errs.Invalid(field, "没有这个消息模板", "请只订阅本小程序提供的消息")
		}
		switch r {
		case "accept", "reject", "ban", "filter":
		default:
			return Preferences{}, errs.Invalidf(field, "取值应为 accept、reject、ban 或 filter", "订阅结果“%s”无法识别", truncate(r, 16))
		}
	}
	var out Preferences
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var acct model.WeChatAccount
		if err := tx.Take(&acct, p.AccountID).Error; err != nil {
			return err
		}
		subs := splitSubs(acct.Subscriptions)
		for id, r := range u.Results {
			i := slices.Index(subs, id)
			switch {
			case r == "accept" && i < 0:
				subs = append(subs, id)
			case r != "accept" && i >= 0:
				subs = slices.Delete(subs, i, i+1)
			}
		}
		slices.Sort(subs)
		if len(subs) > maxSubscriptions || len(strings.Join(subs, ",")) > 512 {
			return errs.Invalid("subscriptions", "订阅的消息太多了", "请先取消一些不需要的消息")
		}
		acct.Subscriptions = strings.Join(subs, ",")
		if u.SMSOptOut != nil {
			acct.SMSOptOut = *u.SMSOptOut
		}
		if err := tx.Model(&acct).Updates(map[string]any{"subscriptions": acct.Subscriptions, "sms_opt_out": acct.SMSOptOut}).Error; err != nil {
			return err
		}
		out = s.prefsOf(acct)
		return nil
	})
	if e, ok := errs.As(err); ok {
		return Preferences{}, e
	}
	if err != nil {
		return Preferences{}, fmt.Errorf("update preferences of account %d: %w", p.AccountID, err)
	}
	return out, nil
}

func splitSubs(s string) []string {
	out := []string{}
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
