package payout

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/eligibility"
	"huzhu/service/errs"
	"huzhu/service/policy"
)

// MaxAmountFen is the largest amount one field of one bill may hold (5,000,000 yuan): more is
// a typing mistake, not a medical bill.
const MaxAmountFen model.Fen = 500_000_000

// Receipt is one bill the worker typed in, from the official receipt or the 医保 statement.
// ClaimType is the code (outpatient, inpatient, special_inpatient) or the Chinese label (门诊,
// 普通住院, 特病住院); Date is the visit or discharge date in any form model.ParseDate reads.
type Receipt struct {
	ClaimType    string
	Date         string
	SelfPay1Fen  model.Fen // 自付一
	AboveCapFen  model.Fen // 自付一 above the basic-insurance annual cap
	MajorDisease bool      // 重大疾病
}

// Estimate is what the plan would pay, line by line, with the year-to-date position.
type Estimate struct {
	Lines    []EstimateLine // by bill date, as the engine processes them
	TotalFen model.Fen
	// Years holds the year-to-date figures of every year of the bills and of the current year,
	// oldest first.
	Years []YearToDate
	// CapLeftFen is what the plan could still pay this calendar year after earlier payouts and
	// this estimate.
	CapLeftFen model.Fen
	// ExpectedBy is the latest expected arrival of a line that pays something; empty when none
	// does. ExpectedEstimated is true when a holiday calendar was not available for it.
	ExpectedBy        model.Date
	ExpectedEstimated bool
}

// EstimateLine is the estimate of one bill.
type EstimateLine struct {
	Index      int    // position of the receipt in the request (receipts only; 0 for records)
	RecordID   uint64 // the 医保 record (unsettled records only)
	Hospital   string // (unsettled records only)
	ClaimType  model.ClaimType
	Date       model.Date
	PolicyCode string
	BaseFen    model.Fen
	GrossFen   model.Fen // before the annual cap
	AmountFen  model.Fen
	Eligible   bool
	Reason     string // why nothing is paid, when not Eligible
	Steps      []policy.Step
	Period     calendar.Period // the settlement period the bill falls in
	// ExpectedBy is when the money should arrive if the bill is settled in the next settlement
	// of its class that has not started yet.
	ExpectedBy model.Date
	Estimated  bool
}

// YearToDate is one calendar year's position against the annual cap.
type YearToDate struct {
	Year        int
	CapFen      model.Fen // the annual cap in force
	PaidFen     model.Fen // computed for the member by settlement runs so far, arrived or not
	ArrivedFen  model.Fen // of which arrived on the card
	EstimateFen model.Fen // this estimate
	LeftFen     model.Fen // cap − paid − estimate, never negative
}

type bill struct {
	policy.Bill
	index    int  // position in the request, for receipts
	record   bool // an imported record: RecordID is its id
	hospital string
}

// Estimate computes what the plan would pay for the receipts under the policy in force on each
// bill's date, the member's eligibility on that date and their real year-to-date figures. It
// returns Invalid naming the field ("bills", "bills[2].date"…) for no receipts or more than
// MaxBills, an unknown claim type, a date that is unreadable, in the future or before the
// plan's first policy, a negative or absurd amount, or a receipt with no amount; NotFound
// member.not_found when the member does not exist.
func (s *Service) Estimate(ctx context.Context, memberID uint64, receipts []Receipt) (Estimate, error) {
	if len(receipts) == 0 {
		return Estimate{}, errs.Invalid("bills", "请至少填写一张票据", "填写类别、日期和自付一金额")
	}
	if len(receipts) > s.o.MaxBills {
		return Estimate{}, errs.Invalidf("bills", "请分几次估算", "一次最多估算%d张票据，现在是%d张", s.o.MaxBills, len(receipts))
	}
	today := model.DateOf(s.now())
	bills := make([]bill, len(receipts))
	for i, r := range receipts {
		b, err := s.checkReceipt(i, r, today)
		if err != nil {
			return Estimate{}, err
		}
		bills[i] = b
	}
	est, err := s.estimate(ctx, memberID, bills, today, false)
	if e, ok := errs.As(err); ok && strings.HasPrefix(e.Field, "record:") {
		// The engine names a bill by its RecordID, which is index+1 here.
		n, _ := strconv.Atoi(strings.TrimPrefix(e.Field, "record:"))
		e2 := *e
		e2.Field = fmt.Sprintf("bills[%d]", n-1)
		return Estimate{}, &e2
	}
	return est, err
}

func (s *Service) checkReceipt(i int, r Receipt, today model.Date) (bill, error) {
	field := func(name string) string { return fmt.Sprintf("bills[%d].%s", i, name) }
	ct, err := model.ParseClaimType(strings.TrimSpace(r.ClaimType))
	if err != nil {
		return bill{}, errs.Invalid(field("claim_type"), "票据类别应为门诊、普通住院或特病住院", "请选择 门诊、普通住院 或 特病住院")
	}
	d, err := model.ParseDate(strings.TrimSpace(r.Date))
	switch {
	case err != nil:
		return bill{}, errs.Invalid(field("date"), "日期无法识别", "日期写成 2025-03-14 这样的格式")
	case d > today:
		return bill{}, errs.Invalid(field("date"), "日期不能晚于今天", "请填写就诊（出院）日期")
	case s.first != "" && d < s.first:
		return bill{}, errs.Invalidf(field("date"), "请核对票据日期", "日期早于本计划最早的政策（%s起），无法估算", s.first)
	}
	for _, a := range []struct {
		name string
		v    model.Fen
	}{{"self_pay1", r.SelfPay1Fen}, {"above_cap", r.AboveCapFen}} {
		switch {
		case a.v < 0:
			return bill{}, errs.Invalid(field(a.name), "金额不能是负数", "请填写票据上的金额")
		case a.v > MaxAmountFen:
			return bill{}, errs.Invalid(field(a.name), "金额过大，请核对", "单张票据的金额不超过500万元")
		}
	}
	if r.SelfPay1Fen == 0 && r.AboveCapFen == 0 {
		return bill{}, errs.Invalid(field("self_pay1"), "请填写自付一金额", "自付一金额在医保结算单或收费票据上")
	}
	return bill{Bill: policy.Bill{RecordID: uint64(i + 1), ClaimType: ct, Date: d, SelfPay1Fen: r.SelfPay1Fen,
		AboveCapFen: r.AboveCapFen, MajorDisease: r.MajorDisease}, index: i}, nil
}

// EstimateUnsettled estimates the member's imported 医保 records that no settlement run has
// taken yet (the newest MaxUnsettled of them). Records the engine cannot compute (bad data) are
// listed with the reason instead of failing. It returns NotFound member.not_found when the
// member does not exist.
func (s *Service) EstimateUnsettled(ctx context.Context, memberID uint64) (Estimate, error) {
	bills, err := unsettledBills(s.db.WithContext(ctx), memberID, s.o.MaxUnsettled)
	if err != nil {
		return Estimate{}, fmt.Errorf("estimate member %d: %w", memberID, err)
	}
	return s.estimate(ctx, memberID, bills, model.DateOf(s.now()), true)
}

// estimate decides eligibility per bill and runs the engine. lenient holds back bills the engine
// refuses (imported data) instead of failing.
func (s *Service) estimate(ctx context.Context, memberID uint64, bills []bill, today model.Date, lenient bool) (Estimate, error) {
	db := s.db.WithContext(ctx)
	years := map[int]bool{today.Year(): true}
	for _, b := range bills {
		years[b.Date.Year()] = true
	}
	m, u, prior, err := memberYears(db, memberID, years)
	if err != nil {
		return Estimate{}, err
	}

	facts := eligibility.FactsOf(m, u)
	byID := make(map[uint64]bill, len(bills))
	var (
		pay  []policy.Bill
		held []EstimateLine
	)
	for _, b := range bills {
		byID[b.RecordID] = b
		reason := ""
		if _, ok := s.engine.At(b.Date); !ok {
			reason = "就诊日期早于本计划最早的政策版本"
		} else if d := eligibility.Decide(facts, b.Date); d.Status != eligibility.StatusEligible && d.Status != eligibility.StatusNeedsAction {
			reason = "不符合参加条件"
			if len(d.Reasons) > 0 {
				reason = d.Reasons[0].Message
			}
		}
		if reason != "" {
			held = append(held, s.heldLine(b, reason))
			continue
		}
		pay = append(pay, b.Bill)
	}
	in := policy.Input{Facts: bonusFacts(m), Bills: pay, Prior: make(map[int]policy.YearToDate, len(prior))}
	for y, p := range prior {
		in.Prior[y] = p.ytd
	}
	res, err := s.engine.Compute(in)
	if e, ok := errs.As(err); ok && e.Kind == errs.KindInvalid && lenient {
		for _, b := range pay {
			held = append(held, s.heldLine(byID[b.RecordID], "数据有误，暂缓核算："+e.Message))
		}
		res, err = policy.Result{}, nil
	}
	if err != nil {
		return Estimate{}, err
	}

	est := Estimate{Lines: make([]EstimateLine, 0, len(bills)), TotalFen: res.TotalFen}
	perYear := map[int]model.Fen{}
	for _, l := range res.Lines {
		b := byID[l.RecordID]
		el := EstimateLine{ClaimType: l.ClaimType, Date: l.BillDate, PolicyCode: l.PolicyCode, BaseFen: l.BaseFen, GrossFen: l.GrossFen,
			AmountFen: l.AmountFen, Eligible: true, Steps: l.Steps}
		s.place(&el, b)
		est.Lines = append(est.Lines, el)
		perYear[l.Year] += l.AmountFen
		if l.AmountFen > 0 && (el.ExpectedBy > est.ExpectedBy) {
			est.ExpectedBy, est.ExpectedEstimated = el.ExpectedBy, el.Estimated
		}
	}
	est.Lines = append(est.Lines, held...)
	sortLines(est.Lines)
	for y := range years {
		p := prior[y]
		cp := s.capOf(y, today)
		yt := YearToDate{Year: y, CapFen: cp, PaidFen: p.ytd.PaidFen, ArrivedFen: p.arrived, EstimateFen: perYear[y]}
		yt.LeftFen = max(cp-yt.PaidFen-yt.EstimateFen, 0)
		est.Years = append(est.Years, yt)
		if y == today.Year() {
			est.CapLeftFen = yt.LeftFen
		}
	}
	sortYears(est.Years)
	return est, nil
}

func (s *Service) heldLine(b bill, reason string) EstimateLine {
	el := EstimateLine{ClaimType: b.ClaimType, Date: b.Date, Reason: reason, Steps: []policy.Step{}}
	s.place(&el, b)
	el.ExpectedBy, el.Estimated = "", false
	return el
}

// place fills the line's origin, period and expected arrival.
func (s *Service) place(el *EstimateLine, b bill) {
	if b.record {
		el.RecordID, el.Hospital = b.RecordID, b.hospital
	} else {
		el.Index = b.index
	}
	el.Period = s.cal.PeriodOfDate(b.ClaimType.Class(), b.Date)
	st := s.cal.Settlement(el.Period)
	if now := s.now(); st.Start.Before(s.cal.Day(now)) {
		// Its own settlement has started: a record imported now goes into the next one.
		st = s.cal.NextSettlement(b.ClaimType.Class(), now)
	}
	el.ExpectedBy, el.Estimated = model.DateOf(st.ArriveBy), st.Estimated
}

// bonusFacts returns the member's +5-point spans (困难职工, 劳模), as the settlement does.
func bonusFacts(m model.Member) policy.Facts {
	var f policy.Facts
	if m.Hardship {
		f.Bonuses = append(f.Bonuses, policy.Bonus{Kind: policy.BonusHardship, From: m.HardshipFrom, Until: m.HardshipUntil})
	}
	if m.ModelWorker {
		f.Bonuses = append(f.Bonuses, policy.Bonus{Kind: policy.BonusModelWorker, From: m.ModelFrom, Until: m.ModelUntil})
	}
	return f
}
