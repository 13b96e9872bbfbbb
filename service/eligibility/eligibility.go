package eligibility

import (
	"math/bits"
	"slices"
	"time"

	"huzhu/model"
)

// Tri is a fact that may be unknown: Unknown (the zero value), Yes or No.
type Tri int8

// Tri values. Unknown is the zero value, so a Facts literal leaves unset facts unknown.
const (
	Unknown Tri = iota
	Yes
	No
)

// TriOf returns Yes for true and No for false.
func TriOf(b bool) Tri {
	if b {
		return Yes
	}
	return No
}

// String returns "yes", "no" or "unknown".
func (t Tri) String() string {
	switch t {
	case Yes:
		return "yes"
	case No:
		return "no"
	}
	return "unknown"
}

// Facts are what the engine needs to know about a worker. They come from the roster (FactsOf) or,
// in the bot's dialogue, from the worker's answers. Facts that may be unknown are tri-state; an
// empty (or unrecognized) Employment or Kind, and an empty or unreadable Date, are unknown too.
type Facts struct {
	InsuredBeijing   Tri                    // in Beijing basic medical insurance (城镇职工医保); 新农合 workers are Kind rural
	Employment       model.EmploymentStatus // in_service, retired or left; "" = unknown
	Kind             model.WorkerKind       // urban or rural (新农合); "" = unknown
	UnionMember      Tri                    // a member of a grassroots union
	EmployerPaysDues Tri                    // the employer pays union dues to 市总 (上解工会经费)
	Participation    model.Participation    // free, paid or collective_paid; "" = no paid participation
	PaidUntil        model.Date             // last day covered by paid participation (缴费参保)
	JoinedOn         model.Date             // union membership start, for the three-month 京卡 rule
	HasJingCard      Tri                    // holds a 京卡·互助服务卡
	HasBankCard      bool                   // has registered a card of one of the five banks
}

// Fact names used in Decision.Missing: the snake_case names of Facts fields. They are listed in
// the order the bot should ask, and Missing keeps that order.
const (
	FactInsuredBeijing   = "insured_beijing"
	FactEmployment       = "employment"
	FactKind             = "kind"
	FactUnionMember      = "union_member"
	FactEmployerPaysDues = "employer_pays_dues"
	FactPaidUntil        = "paid_until"
	FactHasJingCard      = "has_jing_card"
)

// Status is the outcome of Decide.
type Status string

// Statuses. StatusUnknown means the facts do not decide it yet: Decision.Missing says what to ask.
const (
	StatusEligible    Status = "eligible"
	StatusNotEligible Status = "not_eligible"
	StatusNeedsAction Status = "needs_action"
	StatusUnknown     Status = "unknown"
)

// PayTo says where payouts go.
type PayTo string

// Payout destinations. PayNone is used whenever the Decision is not StatusEligible.
const (
	PayNone   PayTo = ""
	PayJingka PayTo = "jingka" // the worker's 京卡·互助服务卡
	PayBank   PayTo = "bank"   // a registered card of one of the five banks
)

// Reason explains a Decision to the worker. Code is stable and machine-readable; Message is plain
// Chinese; Action says what the worker can do and may be empty. Every Reason that Decide returns
// is the one Catalog lists for its Code.
type Reason struct {
	Code    string
	Message string
	Action  string
}

// Reason codes. They are stable: the bot and the console switch on them, so a code is never
// renamed or reused.
const (
	// Basis of coverage (eligible and needs_action decisions).
	CodeFreeParticipation = "free_participation"
	CodePaidParticipation = "paid_participation"

	// Payout route.
	CodeNoCardUseBank      = "no_card_use_bank"
	CodeNoCardYet          = "no_card_yet"
	CodeNoCardRegisterBank = "no_card_register_bank"

	// Disqualifiers (not_eligible decisions), in the order Decide lists them.
	CodeRetired           = "retired"
	CodeLeft              = "left"
	CodeNotInsuredBeijing = "not_insured_beijing"
	CodeRuralBefore201305 = "rural_before_2013_05"
	CodeNotUnionMember    = "not_union_member"
	CodeNoDuesNoPaid      = "no_dues_no_paid"
	CodePaidExpired       = "paid_expired"

	// Unknown facts (unknown decisions), one per entry of Missing.
	CodeUnknownInsurance   = "unknown_insurance"
	CodeUnknownEmployment  = "unknown_employment"
	CodeUnknownKind        = "unknown_kind"
	CodeUnknownUnionMember = "unknown_union_member"
	CodeUnknownDues        = "unknown_dues"
	CodeUnknownPaidUntil   = "unknown_paid_until"
	CodeUnknownJingCard    = "unknown_jing_card"

	// CodeInvalidDate is returned when the date passed to Decide is not a valid Date.
	CodeInvalidDate = "invalid_date"
)

// Catalog returns every Reason Decide can return, in a stable order, each with its Chinese
// Message and Action. The slice is new on every call.
func Catalog() []Reason {
	codes := []string{
		CodeFreeParticipation, CodePaidParticipation,
		CodeNoCardUseBank, CodeNoCardYet, CodeNoCardRegisterBank,
		CodeRetired, CodeLeft, CodeNotInsuredBeijing, CodeRuralBefore201305,
		CodeNotUnionMember, CodeNoDuesNoPaid, CodePaidExpired,
		CodeUnknownInsurance, CodeUnknownEmployment, CodeUnknownKind, CodeUnknownUnionMember,
		CodeUnknownDues, CodeUnknownPaidUntil, CodeUnknownJingCard,
		CodeInvalidDate,
	}
	rs := make([]Reason, len(codes))
	for i, c := range codes {
		rs[i] = reasonFor(c)
	}
	return rs
}

// reasonFor holds the texts. It is a switch rather than a map so that the package has no
// variables and Decide allocates nothing to look a reason up.
func reasonFor(code string) Reason {
	r := Reason{Code: code}
	switch code {
	case CodeFreeParticipation:
		r.Message = "您所在单位向市总工会上解工会经费，您作为工会会员免费享受在职职工医疗互助保障。"
	case CodePaidParticipation:
		r.Message = "您已缴费参保，在缴费保障期内享受在职职工医疗互助保障。"
		r.Action = "保障期满前请及时续缴，详询12351。"
	case CodeNoCardUseBank:
		r.Message = "您暂未持有京卡·互助服务卡，互助金将打入您登记的银行卡。"
	case CodeNoCardYet:
		r.Message = "您还没有京卡·互助服务卡，互助金需要打入京卡。"
		r.Action = "请联系所在单位工会申领京卡·互助服务卡；如非本人原因入会三个月后仍未办好，可向工会登记本人中行、农行、建行、工行或北京银行的银行卡领取互助金。"
	case CodeNoCardRegisterBank:
		r.Message = "您还没有京卡·互助服务卡，也没有登记可以领取互助金的银行卡，互助金暂时无法发放。"
		r.Action = "请通过工会登记本人中行、农行、建行、工行或北京银行的银行卡，同时继续申领京卡·互助服务卡。"
	case CodeRetired:
		r.Message = "退休人员不在本计划范围内，本计划保障在职职工。"
	case CodeLeft:
		r.Message = "您已不在原单位工作，本计划保障在职职工。"
		r.Action = "到新单位工作后，请联系新单位工会办理。"
	case CodeNotInsuredBeijing:
		r.Message = "本计划保障参加北京市基本医疗保险的在职职工，您目前没有参加北京市基本医疗保险。"
		r.Action = "参保情况可以向单位人事部门或医保经办机构确认。"
	case CodeRuralBefore201305:
		r.Message = "参加新农合的在职职工自2013年5月起纳入保障范围，此前的日期不在保障范围内。"
	case CodeNotUnionMember:
		r.Message = "免费参加本计划需要是工会会员。"
		r.Action = "请向所在单位工会申请入会；单位没有工会或不上解工会经费的，可以个人或集体缴费参保，详询12351。"
	case CodeNoDuesNoPaid:
		r.Message = "您所在单位没有向市总工会上解工会经费，不能免费参加本计划。"
		r.Action = "可以个人或集体缴费参保，详询12351。"
	case CodePaidExpired:
		r.Message = "您的缴费参保已经到期，到期后的医疗费用不在保障范围内。"
		r.Action = "请及时续缴，详询12351。"
	case CodeUnknownInsurance:
		r.Message = "还不确定您是否参加了北京市基本医疗保险（城镇职工医保）。"
		r.Action = "请确认您的医保参保情况，可以问单位人事部门。"
	case CodeUnknownEmployment:
		r.Message = "还不确定您现在是在职、已退休，还是已离开原单位。"
		r.Action = "请告诉我们您现在的工作状态。"
	case CodeUnknownKind:
		r.Message = "还不确定您参加的是城镇职工医保还是新农合。"
		r.Action = "请确认您参加的医疗保险类别。"
	case CodeUnknownUnionMember:
		r.Message = "还不确定您是不是工会会员。"
		r.Action = "可以向所在单位工会确认。"
	case CodeUnknownDues:
		r.Message = "还不确定您所在单位是否向市总工会上解工会经费。"
		r.Action = "可以向所在单位工会确认。"
	case CodeUnknownPaidUntil:
		r.Message = "还不确定您的缴费参保保障到哪一天。"
		r.Action = "请查看缴费凭证，或拨打12351咨询。"
	case CodeUnknownJingCard:
		r.Message = "还不确定您是否已经办理京卡·互助服务卡。"
		r.Action = "请确认您是否持有京卡·互助服务卡。"
	case CodeInvalidDate:
		r.Message = "日期有误，暂时无法判断。"
		r.Action = "请稍后再试，或拨打12351咨询。"
	}
	return r
}

// Decision is the outcome of Decide.
type Decision struct {
	// Status is the outcome.
	Status Status
	// Reasons lists every reason that applies, most important first. For StatusEligible the first
	// is the basis (free_participation or paid_participation), followed by no_card_use_bank when
	// the money goes to a bank card. For StatusNeedsAction the first is what to do, followed by
	// the basis. For StatusNotEligible they are the disqualifiers, in the order of the Code
	// constants. For StatusUnknown there is one unknown_… reason per entry of Missing.
	Reasons []Reason
	// Missing names the unknown facts that would decide it (Fact… constants), in asking order.
	// It is empty unless Status is StatusUnknown.
	Missing []string
	// PayTo says where payouts go; it is PayNone unless Status is StatusEligible.
	PayTo PayTo
}

// ruralFrom is the first day rural (新农合) workers are covered (seed 000: 自2013年5月起).
const ruralFrom = model.Date("2013-05-01")

// cardWaitMonths is how long after joining the union a member without a 京卡 waits before a
// bank card may be used (seed 004: 三个月内还未办理).
const cardWaitMonths = 3

// missing is a set of unknown facts; its bits are in asking order.
type missing uint8

const (
	missInsuredBeijing missing = 1 << iota
	missEmployment
	missKind
	missUnionMember
	missEmployerPaysDues
	missPaidUntil
	missHasJingCard
	missEnd
)

// fact returns the Fact… name and the unknown_… reason code of the single fact m.
func (m missing) fact() (name, code string) {
	switch m {
	case missInsuredBeijing:
		return FactInsuredBeijing, CodeUnknownInsurance
	case missEmployment:
		return FactEmployment, CodeUnknownEmployment
	case missKind:
		return FactKind, CodeUnknownKind
	case missUnionMember:
		return FactUnionMember, CodeUnknownUnionMember
	case missEmployerPaysDues:
		return FactEmployerPaysDues, CodeUnknownDues
	case missPaidUntil:
		return FactPaidUntil, CodeUnknownPaidUntil
	case missHasJingCard:
		return FactHasJingCard, CodeUnknownJingCard
	}
	return "", ""
}

// Decide applies the plan's rules (see the package documentation) to f on the day on. It never
// fails: with facts missing it returns StatusUnknown and the facts to ask for. An invalid on (not
// "2006-01-02") yields StatusUnknown with the single reason invalid_date and no Missing; empty or
// invalid PaidUntil and JoinedOn count as unknown.
func Decide(f Facts, on model.Date) Decision {
	day, ok := parseDate(on)
	if !ok {
		return Decision{Status: StatusUnknown, Reasons: []Reason{reasonFor(CodeInvalidDate)}}
	}
	var (
		notBuf [4]string
		not    = notBuf[:0] // disqualifying codes, in Decision order
		miss   missing
	)

	// Seed 004 二(一)1: 在职职工. Leaving the employer is assumed to end coverage too.
	switch f.Employment {
	case model.EmploymentInService:
	case model.EmploymentRetired:
		not = append(not, CodeRetired)
	case model.EmploymentLeft:
		not = append(not, CodeLeft)
	default:
		miss |= missEmployment
	}

	// Seed 004 二(一)2: 参加北京市基本医疗保险; seeds 000 and 001: 新农合 workers from 2013-05.
	rural := Yes
	if on < ruralFrom { // both are valid "2006-01-02" dates, which sort as text
		rural = No
	}
	switch f.Kind {
	case model.WorkerRural:
		if rural == No {
			not = append(not, CodeRuralBefore201305)
		}
	case model.WorkerUrban:
		switch f.InsuredBeijing {
		case No:
			not = append(not, CodeNotInsuredBeijing)
		case Unknown:
			miss |= missInsuredBeijing
		}
	default:
		// Kind unknown: it matters only when the rural rule and the urban rule disagree.
		switch {
		case f.InsuredBeijing == rural && rural == No:
			not = append(not, CodeNotInsuredBeijing)
		case f.InsuredBeijing == rural:
		default:
			if f.InsuredBeijing == Unknown {
				miss |= missInsuredBeijing
			}
			miss |= missKind
		}
	}

	// Seed 004 二(二)2 and seed 000: free participation needs membership and dues paid to 市总;
	// otherwise 缴费参保 (individually or collectively).
	free := and(f.UnionMember, f.EmployerPaysDues)
	paidKind := f.Participation == model.ParticipationPaid || f.Participation == model.ParticipationCollective
	paid := No
	if paidKind {
		switch until, ok := parseDate(f.PaidUntil); {
		case !ok:
			paid = Unknown
		case day.After(until):
			paid = No
		default:
			paid = Yes
		}
	}
	switch or(free, paid) {
	case No:
		if paidKind {
			// Renewing the payment is the remedy, whatever else free participation lacks.
			not = append(not, CodePaidExpired)
			break
		}
		if f.UnionMember == No {
			not = append(not, CodeNotUnionMember)
		}
		if f.EmployerPaysDues == No {
			not = append(not, CodeNoDuesNoPaid)
		}
	case Unknown:
		if free == Unknown {
			if f.UnionMember == Unknown {
				miss |= missUnionMember
			}
			if f.EmployerPaysDues == Unknown {
				miss |= missEmployerPaysDues
			}
		}
		if paid == Unknown {
			miss |= missPaidUntil
		}
	}
	if f.HasJingCard == Unknown {
		miss |= missHasJingCard
	}

	switch {
	case len(not) > 0:
		d := Decision{Status: StatusNotEligible, Reasons: make([]Reason, len(not))}
		for i, c := range not {
			d.Reasons[i] = reasonFor(c)
		}
		return d
	case miss != 0:
		return unknown(miss)
	}

	basis := CodeFreeParticipation
	if paid == Yes {
		basis = CodePaidParticipation
	}
	if f.HasJingCard == Yes {
		return decided(StatusEligible, PayJingka, basis)
	}
	if paid != Yes {
		// Seed 004 二(二)3 note: a bank card only after three months without a 京卡.
		joined, ok := parseDate(f.JoinedOn)
		if !ok || day.Before(joined.AddDate(0, cardWaitMonths, 0)) {
			return decided(StatusNeedsAction, PayNone, CodeNoCardYet, basis)
		}
	}
	if f.HasBankCard {
		return decided(StatusEligible, PayBank, basis, CodeNoCardUseBank)
	}
	return decided(StatusNeedsAction, PayNone, CodeNoCardRegisterBank, basis)
}

func decided(s Status, to PayTo, codes ...string) Decision {
	d := Decision{Status: s, PayTo: to, Reasons: make([]Reason, len(codes))}
	for i, c := range codes {
		d.Reasons[i] = reasonFor(c)
	}
	return d
}

func unknown(miss missing) Decision {
	n := bits.OnesCount8(uint8(miss))
	d := Decision{Status: StatusUnknown, Missing: make([]string, 0, n), Reasons: make([]Reason, 0, n)}
	for m := missing(1); m < missEnd; m <<= 1 {
		if miss&m != 0 {
			name, code := m.fact()
			d.Missing = append(d.Missing, name)
			d.Reasons = append(d.Reasons, reasonFor(code))
		}
	}
	return d
}

// FactsOf returns the facts the roster holds about m, a member of union u. A roster member is a
// union member; the 京卡 is known from JingCardHash, the bank card from a BankCode of one of the
// five banks together with a BankAccountHash, and the dues from u.PaysDues. It does not check
// that u is m's union.
func FactsOf(m model.Member, u model.Union) Facts {
	return Facts{
		InsuredBeijing:   TriOf(m.InsuredBeijing),
		Employment:       m.Employment,
		Kind:             m.Kind,
		UnionMember:      Yes,
		EmployerPaysDues: TriOf(u.PaysDues),
		Participation:    m.Participation,
		PaidUntil:        m.PaidUntil,
		JoinedOn:         m.JoinedOn,
		HasJingCard:      TriOf(m.JingCardHash != ""),
		HasBankCard:      slices.Contains(model.Banks, m.BankCode) && m.BankAccountHash != "",
	}
}

func and(a, b Tri) Tri {
	switch {
	case a == No || b == No:
		return No
	case a == Yes && b == Yes:
		return Yes
	}
	return Unknown
}

func or(a, b Tri) Tri {
	switch {
	case a == Yes || b == Yes:
		return Yes
	case a == No && b == No:
		return No
	}
	return Unknown
}

// parseDate reads a Date as a UTC midnight: only the calendar matters here, and UTC keeps the
// package free of time-zone data.
func parseDate(d model.Date) (time.Time, bool) {
	t, err := time.Parse(model.DateLayout, string(d))
	return t, err == nil
}
