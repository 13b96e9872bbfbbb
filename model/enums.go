package model

import "fmt"

// ClaimType is the kind of medical bill, as on the plan's claim form.
type ClaimType string

// Claim types: 门诊, 普通住院, 特病住院.
const (
	ClaimOutpatient       ClaimType = "outpatient"
	ClaimInpatient        ClaimType = "inpatient"
	ClaimSpecialInpatient ClaimType = "special_inpatient"
)

// ClaimTypes lists every claim type in display order.
var ClaimTypes = []ClaimType{ClaimOutpatient, ClaimInpatient, ClaimSpecialInpatient}

// Label returns the Chinese name of the claim type.
func (c ClaimType) Label() string {
	switch c {
	case ClaimOutpatient:
		return "门诊"
	case ClaimInpatient:
		return "普通住院"
	case ClaimSpecialInpatient:
		return "特病住院"
	}
	return string(c)
}

// Valid reports whether c is a known claim type.
func (c ClaimType) Valid() bool { return c.Label() != string(c) }

// Class returns the settlement class of the claim type: outpatient bills are settled per quarter,
// inpatient bills (ordinary and special) per month.
func (c ClaimType) Class() SettlementClass {
	if c == ClaimOutpatient {
		return ClassOutpatient
	}
	return ClassInpatient
}

// ParseClaimType accepts the English code or the Chinese label.
func ParseClaimType(s string) (ClaimType, error) {
	for _, c := range ClaimTypes {
		if s == string(c) || s == c.Label() {
			return c, nil
		}
	}
	switch s {
	case "住院":
		return ClaimInpatient, nil
	case "特病", "特殊病住院":
		return ClaimSpecialInpatient, nil
	}
	return "", fmt.Errorf("unknown claim type %q (want 门诊, 普通住院 or 特病住院)", s)
}

// SettlementClass is what a settlement run covers: outpatient (quarterly) or inpatient (monthly).
type SettlementClass string

// Settlement classes.
const (
	ClassOutpatient SettlementClass = "outpatient"
	ClassInpatient  SettlementClass = "inpatient"
)

// Label returns the Chinese name of the class.
func (c SettlementClass) Label() string {
	if c == ClassOutpatient {
		return "门诊"
	}
	return "住院"
}

// EmploymentStatus says whether the member is still working.
type EmploymentStatus string

// Employment statuses.
const (
	EmploymentInService EmploymentStatus = "in_service"
	EmploymentRetired   EmploymentStatus = "retired"
	EmploymentLeft      EmploymentStatus = "left"
)

// WorkerKind separates urban employees from rural workers in 新农合.
type WorkerKind string

// Worker kinds.
const (
	WorkerUrban WorkerKind = "urban"
	WorkerRural WorkerKind = "rural"
)

// Participation says how a member takes part: free (employer pays union dues) or paid (缴费参保,
// individually or collectively).
type Participation string

// Participation kinds.
const (
	ParticipationFree       Participation = "free"
	ParticipationPaid       Participation = "paid"
	ParticipationCollective Participation = "collective_paid"
)

// Label returns the Chinese name of the participation kind.
func (p Participation) Label() string {
	switch p {
	case ParticipationFree:
		return "免费参加"
	case ParticipationPaid:
		return "个人缴费参加"
	case ParticipationCollective:
		return "集体缴费参加"
	}
	return string(p)
}

// Bank is a paying bank. 京卡 members are paid through the card's issuing bank; members without a
// 京卡 after three months may be paid to a card of one of the five banks.
type Bank string

// Banks accepted for payouts.
const (
	BankBOC  Bank = "BOC"  // 中国银行
	BankABC  Bank = "ABC"  // 中国农业银行
	BankCCB  Bank = "CCB"  // 中国建设银行
	BankICBC Bank = "ICBC" // 中国工商银行
	BankBOB  Bank = "BOB"  // 北京银行
)

// Banks lists the five banks.
var Banks = []Bank{BankBOC, BankABC, BankCCB, BankICBC, BankBOB}

// Label returns the bank's Chinese short name.
func (b Bank) Label() string {
	switch b {
	case BankBOC:
		return "中国银行"
	case BankABC:
		return "农业银行"
	case BankCCB:
		return "建设银行"
	case BankICBC:
		return "工商银行"
	case BankBOB:
		return "北京银行"
	}
	return string(b)
}

// ParseBank accepts the code or a Chinese name (中行, 中国银行, …).
func ParseBank(s string) (Bank, error) {
	names := map[string]Bank{"中行": BankBOC, "中国银行": BankBOC, "农行": BankABC, "农业银行": BankABC, "中国农业银行": BankABC,
		"建行": BankCCB, "建设银行": BankCCB, "中国建设银行": BankCCB, "工行": BankICBC, "工商银行": BankICBC, "中国工商银行": BankICBC,
		"北京银行": BankBOB}
	for _, b := range Banks {
		if s == string(b) {
			return b, nil
		}
	}
	if b, ok := names[s]; ok {
		return b, nil
	}
	return "", fmt.Errorf("unknown bank %q (want one of 中行, 农行, 建行, 工行, 北京银行)", s)
}

// Role is a staff role in the admin console.
type Role string

// Staff roles.
const (
	RoleAdmin    Role = "admin"    // 市总管理员: everything
	RoleOperator Role = "operator" // 办事处经办: imports, runs, payments
	RoleUnion    Role = "union"    // 基层工会: own union only
	RoleAuditor  Role = "auditor"  // 审计: read-only
)

// Label returns the Chinese name of the role.
func (r Role) Label() string {
	switch r {
	case RoleAdmin:
		return "市总管理员"
	case RoleOperator:
		return "办事处经办"
	case RoleUnion:
		return "基层工会"
	case RoleAuditor:
		return "审计"
	}
	return string(r)
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.Label() != string(r) }
