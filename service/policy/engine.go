package policy

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"huzhu/model"
	"huzhu/service/errs"
)

// Engine computes payouts under a set of policy versions. Build it with New. It is safe for
// concurrent use, and the one Engine of a process is shared by every service that pays or
// explains (settlement, estimates, the bot): Swap replaces its versions in place, so that a
// version staff add in the console reaches all of them at once without a restart.
type Engine struct {
	set atomic.Pointer[versionSet]
}

// versionSet is the immutable set an Engine computes with. A computation loads it once, so it
// never mixes two sets.
type versionSet struct {
	versions []Version // ascending by EffectiveFrom
}

// New builds an Engine from versions, which it copies. It checks every version as ParseYAML does,
// and the set: at least one version, unique codes, and no two versions starting on the same day.
// The error is an errors.Join of every problem found.
func New(versions []Version) (*Engine, error) {
	var probs []error
	for _, v := range versions {
		probs = append(probs, checkVersion(v, "", nil)...)
	}
	probs = append(probs, checkSet(versions)...)
	if len(probs) > 0 {
		return nil, errors.Join(probs...)
	}
	vs := make([]Version, len(versions))
	for i, v := range versions {
		vs[i] = v.clone()
	}
	slices.SortFunc(vs, func(a, b Version) int { return strings.Compare(string(a.EffectiveFrom), string(b.EffectiveFrom)) })
	e := &Engine{}
	e.set.Store(&versionSet{versions: vs})
	return e, nil
}

// Swap makes e compute with next's versions from now on. A Compute, At or Versions call that
// started before uses the old versions throughout, one that starts after uses the new ones; none
// sees a mix. next stays usable and shares its versions with e (they are never modified).
func (e *Engine) Swap(next *Engine) { e.set.Store(next.set.Load()) }

// Versions returns copies of the engine's versions, oldest first.
func (e *Engine) Versions() []Version {
	s := e.set.Load()
	vs := make([]Version, len(s.versions))
	for i, v := range s.versions {
		vs[i] = v.clone()
	}
	return vs
}

// At returns a copy of the version in force on d: the latest one whose EffectiveFrom is on or
// before d. It returns false when d is before every version or is not a valid date.
func (e *Engine) At(d model.Date) (Version, bool) {
	v := e.set.Load().at(d)
	if v == nil {
		return Version{}, false
	}
	return v.clone(), true
}

func (s *versionSet) at(d model.Date) *Version {
	if !validDate(d) {
		return nil
	}
	// The first version starting after d; the one before it is in force.
	i, _ := slices.BinarySearchFunc(s.versions, d, func(v Version, d model.Date) int {
		if v.EffectiveFrom <= d {
			return -1
		}
		return 1
	})
	if i == 0 {
		return nil
	}
	return &s.versions[i-1]
}

// Extend returns a new Engine with e's versions and v, checked as a version staff add in the
// console: v must be valid (as New checks it), use a code no version has, and start after today
// and after every existing version, because the past is never rewritten (approved runs were paid
// under the versions then in force, and a re-run must give the same lines). e is not changed;
// Swap the result in to use it. The error is an *errs.Error of KindInvalid: policy.bad_version
// (field "body", every problem listed in the message), policy.code_taken (field "code") or
// policy.not_future (field "effective_from").
func (e *Engine) Extend(v Version, today model.Date) (*Engine, error) {
	if probs := checkVersion(v, "", nil); len(probs) > 0 {
		return nil, &errs.Error{Kind: errs.KindInvalid, Code: "policy.bad_version", Field: "body",
			Message: "政策版本有误，没有保存：\n" + errors.Join(probs...).Error(),
			Fix:     "按提示逐项改正（每项写明了字段和示例），再保存"}
	}
	cur := e.set.Load().versions
	last := cur[len(cur)-1]
	for _, o := range cur {
		if o.Code == v.Code {
			return nil, &errs.Error{Kind: errs.KindInvalid, Code: "policy.code_taken", Field: "code",
				Message: fmt.Sprintf("版本代码“%s”已被“%s”使用", v.Code, o.Name), Fix: "换一个没有用过的代码，例如生效年月 2027-01"}
		}
	}
	switch {
	case v.EffectiveFrom <= today:
		return nil, &errs.Error{Kind: errs.KindInvalid, Code: "policy.not_future", Field: keyEffectiveFrom,
			Message: fmt.Sprintf("新版本的开始日期 %s 不晚于今天（%s）：已经发生的账单不能改用新规则", v.EffectiveFrom, today),
			Fix:     "开始日期请填今天以后的日期"}
	case v.EffectiveFrom <= last.EffectiveFrom:
		return nil, &errs.Error{Kind: errs.KindInvalid, Code: "policy.not_future", Field: keyEffectiveFrom,
			Message: fmt.Sprintf("新版本的开始日期 %s 不晚于现有最新版本“%s”的开始日期 %s", v.EffectiveFrom, last.Name, last.EffectiveFrom),
			Fix:     "新版本只能接在最新版本之后；开始日期请晚于 " + string(last.EffectiveFrom)}
	}
	return New(append(slices.Clone(cur), v))
}

// BonusKind is a status that raises a worker's claim ratios by the version's BonusBP.
type BonusKind string

// Bonus kinds.
const (
	BonusHardship    BonusKind = "hardship"     // 困难职工
	BonusModelWorker BonusKind = "model_worker" // 劳模
)

// Label returns the Chinese name of the kind.
func (k BonusKind) Label() string {
	switch k {
	case BonusHardship:
		return "困难职工"
	case BonusModelWorker:
		return "劳模"
	}
	return string(k)
}

// Bonus says the worker held status Kind from From to Until, both inclusive. An empty From means
// since always and an empty Until means still holding it.
type Bonus struct {
	Kind        BonusKind
	From, Until model.Date
}

func (b Bonus) covers(d model.Date) bool {
	return (b.From == "" || b.From <= d) && (b.Until == "" || d <= b.Until)
}

// Facts are what the engine needs to know about the worker.
type Facts struct {
	Bonuses []Bonus
}

// Bill is one medical bill (one 医保 settlement record, or one receipt a worker entered for an
// estimate). Its Date picks the version and the calendar year.
type Bill struct {
	RecordID     uint64 // unique within one Input
	ClaimType    model.ClaimType
	Date         model.Date // "2006-01-02"
	SelfPay1Fen  model.Fen  // 自付一 within the basic insurance
	AboveCapFen  model.Fen  // 自付一 above the basic-insurance annual cap
	MajorDisease bool       // 重大疾病: only then is AboveCapFen paid, by the ladder
}

// YearToDate is what earlier runs already used in a calendar year: the plan's payouts, the
// above-cap amount of major-disease bills (the position on the ladder), and the deductible
// consumed per claim type. A nil DeductibleFen means none was consumed. Only the remaining
// deductible, max(deductible − consumed, 0), matters, so a caller may pass the year's whole
// 自付一 per claim type instead of the deductible it consumed; Result.YearToDate holds the
// deductible consumed.
type YearToDate struct {
	PaidFen       model.Fen
	AboveCapFen   model.Fen
	DeductibleFen map[model.ClaimType]model.Fen
}

// Input is one computation: the worker's facts, the bills to pay now and, per calendar year,
// what earlier runs already used. Prior amounts count as already paid whatever the dates of the
// bills behind them.
type Input struct {
	Facts Facts
	Bills []Bill
	Prior map[int]YearToDate
}

// Line is the payout for one bill, with the steps that explain it.
type Line struct {
	RecordID   uint64
	Year       int
	PolicyCode string
	ClaimType  model.ClaimType
	BillDate   model.Date
	BaseFen    model.Fen // amount ratios applied to (自付一 after deductible + above-cap for major disease)
	GrossFen   model.Fen // before the annual cap
	AmountFen  model.Fen // what the plan pays for this bill
	// Reason says, in a short Chinese phrase for the worker, why an eligible bill pays 0.00
	// (the year's cap reached, nothing above the deductible…); empty when it pays.
	Reason string
	Steps  []Step
}

// Step kinds: stable codes a client can rely on.
const (
	StepVersion            = "version"               // the version applied; no amount
	StepDeductible         = "deductible"            // AmountFen: deducted from this bill's 自付一
	StepBonus              = "bonus"                 // RatioBP: points added to the claim ratio
	StepRatio              = "ratio"                 // RatioBP: ratio applied; AmountFen: ratio part
	StepLadder             = "ladder"                // one per segment piece: RatioBP, AmountFen paid; the first, with no amount, introduces them
	StepAboveCapNotCovered = "above_cap_not_covered" // above-cap amount of a bill that is not major disease; pays nothing
	StepCap                = "cap"                   // only when the annual cap cut the bill; AmountFen: what is left to pay
	StepTotal              = "total"                 // always last; AmountFen == Line.AmountFen
)

// Step is one sentence of a Line's explanation. Text is plain Chinese with amounts in yuan;
// Kind, RatioBP and AmountFen carry the same figures for programs (see the Step* constants).
type Step struct {
	Kind      string
	Text      string
	RatioBP   model.BP
	AmountFen model.Fen
}

// Result is the outcome of Compute: one line per bill in processing order (by date, then record
// ID), their total, and YearToDate, which is Input.Prior plus this run and is what the next run
// should get as Prior once these lines are paid.
type Result struct {
	Lines      []Line
	TotalFen   model.Fen
	YearToDate map[int]YearToDate
}

// Compute pays in.Bills under the engine's versions, as described in the package documentation.
// The result depends only on in (not on the order of in.Bills), no amount is negative, and the
// steps of each line explain its figure. in is not modified.
//
// It returns an *errs.Error of KindInvalid, computing nothing, when a bill has a bad date, an
// unknown claim type, a negative or absurd amount or a RecordID used twice (policy.bad_bill,
// policy.duplicate_bill), is dated before the first version (policy.no_version), or when a bonus
// or a prior year is malformed (policy.bad_facts, policy.bad_prior). Field names the culprit:
// "record:<RecordID>", "bonuses[<index>]" or "prior:<year>".
func (e *Engine) Compute(in Input) (Result, error) {
	set := e.set.Load()
	if err := checkFacts(in.Facts); err != nil {
		return Result{}, err
	}
	if err := checkPrior(in.Prior); err != nil {
		return Result{}, err
	}
	bills := slices.Clone(in.Bills)
	slices.SortFunc(bills, func(a, b Bill) int {
		return cmp.Or(strings.Compare(string(a.Date), string(b.Date)), cmp.Compare(a.RecordID, b.RecordID))
	})
	versions := make([]*Version, len(bills))
	seen := make(map[uint64]bool, len(bills))
	for i, b := range bills {
		v, err := set.checkBill(b, seen)
		if err != nil {
			return Result{}, err
		}
		versions[i] = v
	}

	res := Result{Lines: make([]Line, 0, len(bills)), YearToDate: make(map[int]YearToDate, len(in.Prior)+1)}
	for y, p := range in.Prior {
		p.DeductibleFen = maps.Clone(p.DeductibleFen)
		res.YearToDate[y] = p
	}
	for i, b := range bills {
		l := pay(b, versions[i], in.Facts, res.YearToDate)
		res.TotalFen += l.AmountFen
		res.Lines = append(res.Lines, l)
	}
	return res, nil
}

func recordField(id uint64) string { return fmt.Sprintf("record:%d", id) }

func (s *versionSet) checkBill(b Bill, seen map[uint64]bool) (*Version, error) {
	field := recordField(b.RecordID)
	invalid := func(code, msg, fix string) error {
		return &errs.Error{Kind: errs.KindInvalid, Code: code, Field: field, Message: msg, Fix: fix}
	}
	if seen[b.RecordID] {
		return nil, invalid("policy.duplicate_bill", fmt.Sprintf("账单 %d 重复出现", b.RecordID), "同一张账单只能计算一次，请去掉重复的一条")
	}
	seen[b.RecordID] = true
	switch {
	case !validDate(b.Date):
		return nil, invalid("policy.bad_bill", fmt.Sprintf("账单 %d 的日期“%s”无法识别", b.RecordID, b.Date), "日期应写成 2021-09-13 这样的格式")
	case !b.ClaimType.Valid():
		return nil, invalid("policy.bad_bill", fmt.Sprintf("账单 %d 的类别“%s”不是门诊、普通住院或特病住院", b.RecordID, b.ClaimType), "请选择 门诊、普通住院 或 特病住院")
	case b.SelfPay1Fen < 0 || b.AboveCapFen < 0:
		return nil, invalid("policy.bad_bill", fmt.Sprintf("账单 %d 的金额不能是负数", b.RecordID), "请核对自付一和超封顶线金额")
	case b.SelfPay1Fen > maxFen || b.AboveCapFen > maxFen:
		return nil, invalid("policy.bad_bill", fmt.Sprintf("账单 %d 的金额过大，无法计算", b.RecordID), "请核对自付一和超封顶线金额")
	}
	v := s.at(b.Date)
	if v == nil && len(s.versions) == 0 {
		return nil, invalid("policy.no_version", "尚未配置互助政策，无法计算", "请先在政策管理中添加政策版本")
	}
	if v == nil {
		first := s.versions[0]
		return nil, invalid("policy.no_version",
			fmt.Sprintf("账单 %d 的日期 %s 早于最早的互助政策（%s起），无法计算", b.RecordID, chineseDate(b.Date), chineseDate(first.EffectiveFrom)),
			"请核对账单日期；如确需计算，请先在政策管理中添加适用的政策版本")
	}
	return v, nil
}

func checkFacts(f Facts) error {
	for i, b := range f.Bonuses {
		field := fmt.Sprintf("bonuses[%d]", i)
		switch {
		case b.Kind != BonusHardship && b.Kind != BonusModelWorker:
			return &errs.Error{Kind: errs.KindInvalid, Code: "policy.bad_facts", Field: field,
				Message: fmt.Sprintf("身份“%s”不是困难职工或劳模", b.Kind), Fix: "身份应为 hardship（困难职工）或 model_worker（劳模）"}
		case (b.From != "" && !validDate(b.From)) || (b.Until != "" && !validDate(b.Until)) ||
			(b.From != "" && b.Until != "" && b.Until < b.From):
			return &errs.Error{Kind: errs.KindInvalid, Code: "policy.bad_facts", Field: field,
				Message: fmt.Sprintf("%s身份的起止日期“%s”至“%s”有误", b.Kind.Label(), b.From, b.Until), Fix: "日期写成 2021-09-13 这样的格式，且开始不晚于结束"}
		}
	}
	return nil
}

func checkPrior(prior map[int]YearToDate) error {
	for _, y := range slices.Sorted(maps.Keys(prior)) {
		p := prior[y]
		bad := p.PaidFen < 0 || p.AboveCapFen < 0 || p.PaidFen > maxFen || p.AboveCapFen > maxFen
		for c, f := range p.DeductibleFen {
			bad = bad || !c.Valid() || f < 0 || f > maxFen
		}
		if bad {
			return &errs.Error{Kind: errs.KindInvalid, Code: "policy.bad_prior", Field: fmt.Sprintf("prior:%d", y),
				Message: fmt.Sprintf("%d年已结算的累计数有误（金额为负数、过大或类别未知）", y), Fix: "请重新汇总该年度已结算的互助金"}
		}
	}
	return nil
}

// pay computes the line of bill b under version v and adds it to the year-to-date figures.
func pay(b Bill, v *Version, f Facts, ytd map[int]YearToDate) Line {
	year := b.Date.Year()
	y := ytd[year]
	if y.DeductibleFen == nil {
		y.DeductibleFen = map[model.ClaimType]model.Fen{}
	}
	l := Line{RecordID: b.RecordID, Year: year, PolicyCode: v.Code, ClaimType: b.ClaimType, BillDate: b.Date}
	l.Steps = make([]Step, 0, 6)
	step := func(kind string, ratio model.BP, amount model.Fen, format string, args ...any) {
		l.Steps = append(l.Steps, Step{Kind: kind, Text: fmt.Sprintf(format, args...), RatioBP: ratio, AmountFen: amount})
	}
	step(StepVersion, 0, 0, "适用政策：%s（%s起）", v.Name, chineseDate(v.EffectiveFrom))

	rule := v.Claims[b.ClaimType]
	label := b.ClaimType.Label()
	if b.SelfPay1Fen > 0 {
		base, what := b.SelfPay1Fen, label+"自付一"
		if rule.DeductibleFen > 0 {
			used := y.DeductibleFen[b.ClaimType]
			cut := min(max(rule.DeductibleFen-used, 0), base)
			if cut > 0 {
				y.DeductibleFen[b.ClaimType] = used + cut
				step(StepDeductible, 0, cut, "%s每年起付 %s，本年度此前已扣 %s，本次从自付一 %s中扣除 %s",
					label, yuan(rule.DeductibleFen), yuan(min(used, rule.DeductibleFen)), yuan(base), yuan(cut))
			} else {
				step(StepDeductible, 0, 0, "%s每年起付 %s，本年度已扣满，本次不再扣除", label, yuan(rule.DeductibleFen))
			}
			base -= cut
			what = "扣除起付后的" + what
		}
		ratio := rule.RatioBP
		if kinds := bonusKinds(f, b.Date); len(kinds) > 0 && v.BonusBP > 0 {
			bonus := min(v.BonusBP, model.FullBP-ratio)
			once := ""
			if len(kinds) > 1 {
				once = "，多种身份只提高一次"
			}
			capped := ""
			if bonus < v.BonusBP {
				capped = "，比例最高 100%"
			}
			step(StepBonus, bonus, 0, "%s报销比例提高 %s 个百分点%s：%s + %s = %s%s",
				strings.Join(kinds, "、"), strings.TrimSuffix(v.BonusBP.Percent(), "%"), once,
				ratio.Percent(), v.BonusBP.Percent(), (ratio + bonus).Percent(), capped)
			ratio += bonus
		}
		part := model.MulBP(base, ratio)
		step(StepRatio, ratio, part, "%s %s × %s = %s", what, yuan(base), ratio.Percent(), yuan(part))
		l.BaseFen += base
		l.GrossFen += part
	}

	if b.AboveCapFen > 0 && b.MajorDisease {
		l.BaseFen += b.AboveCapFen
		l.GrossFen += ladder(b.AboveCapFen, y.AboveCapFen, v.Ladder, step)
		y.AboveCapFen += b.AboveCapFen
	} else if b.AboveCapFen > 0 {
		step(StepAboveCapNotCovered, 0, 0, "超过基本医疗保险封顶线的自付一 %s 不予报销：只有重大疾病超过封顶线的费用才按金额分段报销", yuan(b.AboveCapFen))
	}

	room := max(v.AnnualCapFen-y.PaidFen, 0)
	l.AmountFen = min(l.GrossFen, room)
	if l.AmountFen < l.GrossFen {
		if room == 0 {
			step(StepCap, 0, 0, "按上述计算为 %s；本年度累计已获互助金 %s，已达到年度最高 %s，本次不再支付",
				yuan(l.GrossFen), yuan(y.PaidFen), yuan(v.AnnualCapFen))
		} else {
			step(StepCap, 0, room, "按上述计算为 %s；本年度累计已获互助金 %s，年度最高 %s，本次最多 %s",
				yuan(l.GrossFen), yuan(y.PaidFen), yuan(v.AnnualCapFen), yuan(room))
		}
	}
	if l.AmountFen == 0 {
		l.Reason = zeroReason(l.GrossFen, room, v.AnnualCapFen, b)
	}
	y.PaidFen += l.AmountFen
	step(StepTotal, 0, l.AmountFen, "本次互助金 %s", yuan(l.AmountFen))
	ytd[year] = y
	return l
}

// zeroReason says why a bill pays nothing: the year's cap was reached, only above-cap costs of
// a disease that is not major, or nothing left after the deductible.
func zeroReason(gross, room, annualCap model.Fen, b Bill) string {
	switch {
	case gross > 0 && room == 0:
		return "年度已达最高额 " + strings.TrimSuffix(annualCap.YuanGrouped(), ".00") + " 元"
	case b.AboveCapFen > 0 && !b.MajorDisease && b.SelfPay1Fen == 0:
		return "超过封顶线的费用只有重大疾病才报销"
	}
	return "按政策计算可报销金额为 0 元"
}

// ladder pays amount of above-cap cost starting at position pos of the year's cumulative
// above-cap amount: each piece inside one segment is paid at that segment's ratio and rounded
// once.
func ladder(amount, pos model.Fen, segments []Segment, step func(string, model.BP, model.Fen, string, ...any)) model.Fen {
	step(StepLadder, 0, 0, "重大疾病超过基本医疗保险封顶线的自付一 %s，按本年度累计金额分段报销（本年度此前已累计 %s）", yuan(amount), yuan(pos))
	var total, lo model.Fen
	end := pos + amount
	for i, s := range segments {
		hi := s.UpToFen
		from, to := max(pos, lo), end
		if hi > 0 {
			to = min(to, hi)
		}
		if to > from {
			piece := to - from
			paid := model.MulBP(piece, s.RatioBP)
			total += paid
			band := fmt.Sprintf("累计 %s 至 %s", lo.YuanGrouped(), yuan(hi))
			if hi == 0 {
				band = fmt.Sprintf("累计 %s 元以上", lo.YuanGrouped())
			}
			step(StepLadder, s.RatioBP, paid, "第%d段（%s）：%s × %s = %s", i+1, band, yuan(piece), s.RatioBP.Percent(), yuan(paid))
		}
		if hi == 0 || hi >= end {
			break
		}
		lo = hi
	}
	return total
}

// bonusKinds returns the labels of the bonus kinds covering d, each once, in a fixed order.
func bonusKinds(f Facts, d model.Date) []string {
	var kinds []string
	for _, k := range []BonusKind{BonusHardship, BonusModelWorker} {
		for _, b := range f.Bonuses {
			if b.Kind == k && b.covers(d) {
				kinds = append(kinds, k.Label())
				break
			}
		}
	}
	return kinds
}

func yuan(f model.Fen) string { return f.YuanGrouped() + " 元" }

// chineseDate writes d as "2021年7月1日".
func chineseDate(d model.Date) string {
	t := d.Time()
	if t.IsZero() {
		return string(d)
	}
	return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
}
