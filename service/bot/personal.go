package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"huzhu/model"
	"huzhu/service/calendar"
)

// personal answers a bound worker's question about their own money; unbound workers get the
// entry's own answer, which carries the bind link.
func (b *Bot) personal(ctx context.Context, u *user, e Entry, day model.Date) (string, error) {
	mid, err := b.member(ctx, u)
	if err != nil {
		return "", err
	}
	if mid == 0 {
		text, _ := u.kb.Render(e.ID, day)
		return text, nil
	}
	switch e.Action {
	case ActionArrival:
		return b.arrival(ctx, mid)
	case ActionYearTotal:
		return b.yearTotal(ctx, mid, day)
	case ActionRemaining:
		return b.remaining(ctx, mid, day)
	case ActionClaims:
		return b.claims(ctx, mid)
	default:
		return b.nextDate(ctx, mid)
	}
}

// arrival lists the worker's latest transfers and the approved money waiting for one.
func (b *Bot) arrival(ctx context.Context, memberID uint64) (string, error) {
	ts, err := recentTransfers(ctx, b.db, memberID, 3)
	if err != nil {
		return "", err
	}
	waiting, err := waitingLines(ctx, b.db, memberID)
	if err != nil {
		return "", err
	}
	if len(ts) == 0 && len(waiting) == 0 {
		return "还没有查到您的互助金记录。互助金按医保数据自动结算，不用申请。\n" + b.upcoming(), nil
	}
	var sb strings.Builder
	sb.WriteString("您最近的互助金：\n")
	for _, w := range waiting {
		fmt.Fprintf(&sb, "· %s %s：已审核，等待转账，%s\n", b.periodLabel(w.Period), yuanGrouped(w.Sum), b.arriveBy(w.Period))
	}
	for _, t := range ts {
		fmt.Fprintf(&sb, "· %s %s：", b.periodLabel(t.Period), yuanGrouped(t.AmountFen))
		switch t.Status {
		case model.LineArrived:
			when := ""
			if t.ArrivedAt != nil {
				when = shortDate(*t.ArrivedAt, b.now()) + "，"
			}
			fmt.Fprintf(&sb, "%s（%s已打入%s）\n", t.Status.Label(), when, accountText(t))
		case model.LineFailed:
			fmt.Fprintf(&sb, "%s。请联系单位工会核对%s，核对后会重新发放。\n", t.Status.Label(), accountText(t))
		default:
			fmt.Fprintf(&sb, "%s（%s），%s\n", t.Status.Label(), accountText(t), b.arriveBy(t.Period))
		}
	}
	sb.WriteString("到账后银行会发短信通知。")
	return sb.String(), nil
}

// yearTotal tells the worker's figures of this year, as the mini-program shows them (Figures).
func (b *Bot) yearTotal(ctx context.Context, memberID uint64, day model.Date) (string, error) {
	year := day.Year()
	t, err := b.figures.Year(ctx, memberID, year)
	if err != nil {
		return "", err
	}
	if t.Lines == 0 && t.DraftFen == 0 {
		return fmt.Sprintf("您%d年看病的费用还没有核算出互助金。门诊按季度、住院按月结算。\n%s", year, b.upcoming()), nil
	}
	s := fmt.Sprintf("您%d年看病的费用，已审核互助金%d笔，共%s；其中已到账%s", year, t.Lines, yuanGrouped(t.PromisedFen()), yuanGrouped(t.ArrivedFen))
	if t.OnTheWayFen > 0 {
		s += "，正在发放" + yuanGrouped(t.OnTheWayFen)
	}
	s += "。"
	if t.DraftFen > 0 {
		s += "\n另有" + yuanGrouped(t.DraftFen) + "正在审核，审核通过后发放，金额以审核结果为准。"
	}
	return s, nil
}

// remaining is what this year's cap still allows, as the mini-program shows it (Figures):
// drafts awaiting approval are counted against the cap, and said so.
func (b *Bot) remaining(ctx context.Context, memberID uint64, day model.Date) (string, error) {
	year := day.Year()
	t, err := b.figures.Year(ctx, memberID, year)
	if err != nil {
		return "", err
	}
	s := fmt.Sprintf("%d年每人最多%s。您今年已审核%s", year, yuanGrouped(t.CapFen), yuanGrouped(t.PromisedFen()))
	if t.DraftFen > 0 {
		s += "，另有" + yuanGrouped(t.DraftFen) + "正在审核"
	}
	s += fmt.Sprintf("，还可以报%s。\n还没有结算的看病费用没有算进去，以实际核算为准。", yuanGrouped(t.LeftFen))
	return s, nil
}

// nextDate says when the worker's money on its way should arrive, and when the next settlements
// are.
func (b *Bot) nextDate(ctx context.Context, memberID uint64) (string, error) {
	ts, err := recentTransfers(ctx, b.db, memberID, 5)
	if err != nil {
		return "", err
	}
	waiting, err := waitingLines(ctx, b.db, memberID)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, w := range waiting {
		fmt.Fprintf(&sb, "· %s %s：已审核，%s\n", b.periodLabel(w.Period), yuanGrouped(w.Sum), b.arriveBy(w.Period))
	}
	for _, t := range ts {
		if t.Status == model.LineTransfering {
			fmt.Fprintf(&sb, "· %s %s：正在转账，%s\n", b.periodLabel(t.Period), yuanGrouped(t.AmountFen), b.arriveBy(t.Period))
		}
	}
	if sb.Len() > 0 {
		return "您正在发放的互助金：\n" + sb.String() + b.upcoming(), nil
	}
	return "您目前没有正在发放的互助金。\n" + b.upcoming(), nil
}

// upcoming describes the next inpatient and outpatient settlements.
func (b *Bot) upcoming() string {
	now := b.now()
	var parts []string
	for _, class := range []model.SettlementClass{model.ClassInpatient, model.ClassOutpatient} {
		s := b.cal.NextSettlement(class, now)
		parts = append(parts, fmt.Sprintf("%s（%s）%s开始核算，预计%s前到账",
			class.Label(), s.Period.Label(), shortDate(s.Start, now), shortDate(s.ArriveBy, now)))
	}
	return "下一次结算：" + strings.Join(parts, "；") + "。"
}

// periodLabel writes a run's period for people: "2025年第1季度门诊", "2025年3月住院".
func (b *Bot) periodLabel(period string) string {
	p, err := b.cal.ParsePeriod(period)
	if err != nil {
		return period
	}
	return p.Label() + p.Class.Label()
}

// arriveBy says when the money of a period should arrive: "预计5月30日前到账" while that day is
// ahead, and once it has passed that the money is late and whom to ask (calendar.Promise), so
// that a date no longer true is never repeated as a promise.
func (b *Bot) arriveBy(period string) string {
	p, err := b.cal.ParsePeriod(period)
	if err != nil {
		return "预计结算后10个工作日内到账"
	}
	now := b.now()
	pr := b.cal.Promise(p, now)
	if pr.Late {
		return "原定" + shortDate(pr.By, now) + "前到账，现在已经晚了，" + calendar.LateAdvice
	}
	return "预计" + shortDate(pr.By, now) + "前到账"
}

// accountText names the account masked: "京卡尾号1234", "建设银行卡尾号1234".
func accountText(t transferRow) string {
	if t.AccountKind == "bank" {
		return t.Bank.Label() + "卡尾号" + t.AccountLast4
	}
	return "京卡尾号" + t.AccountLast4
}

// shortDate writes a day as "4月30日", with the year when it is not now's year.
func shortDate(t, now time.Time) string {
	t, now = t.In(model.Shanghai), now.In(model.Shanghai)
	if t.Year() != now.Year() {
		return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
	}
	return fmt.Sprintf("%d月%d日", int(t.Month()), t.Day())
}

// yuanGrouped writes an amount as "1,200.00元".
func yuanGrouped(f model.Fen) string { return f.YuanGrouped() + "元" }

// claims tells where the worker's three latest supplementary claims are, with what a returned
// one needs.
func (b *Bot) claims(ctx context.Context, memberID uint64) (string, error) {
	var rows []struct {
		ID         uint64
		Status     model.ClaimStatus
		Hospital   string
		VisitDate  model.Date
		ReturnNote string
		LineStatus *string
		Eligible   *bool
		AmountFen  *int64
	}
	err := b.db.WithContext(ctx).Raw("SELECT c.id, c.status, c.hospital, c.visit_date, COALESCE(c.return_note, '') AS return_note, "+
		"l.status AS line_status, l.eligible, l.amount_fen FROM claims c LEFT JOIN payout_lines l ON c.record_id <> 0 AND l.record_id = c.record_id "+
		"WHERE c.member_id = ? ORDER BY c.id DESC LIMIT 3", memberID).Scan(&rows).Error
	if err != nil {
		return "", fmt.Errorf("claims of member %d: %w", memberID, err)
	}
	if len(rows) == 0 {
		return "您还没有补充申请。大多数费用按医保数据自动结算，不用申请；医保数据里没有的票据（异地急诊手工报销、超过封顶线的费用）可以在小程序“补充申请”中提交。", nil
	}
	var sb strings.Builder
	sb.WriteString("您最近的补充申请：\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "· 编号%d（%s %s）：", r.ID, r.Hospital, r.VisitDate)
		switch {
		case r.LineStatus != nil && model.LineStatus(*r.LineStatus) == model.LineArrived:
			fmt.Fprintf(&sb, "%s，%s\n", model.ClaimPaid.Label(), yuanGrouped(model.Fen(*r.AmountFen)))
		case r.LineStatus != nil && r.Eligible != nil && !*r.Eligible:
			fmt.Fprintf(&sb, "%s，这张票据不予支付，原因可在小程序中查看\n", model.ClaimSettled.Label())
		case r.LineStatus != nil:
			fmt.Fprintf(&sb, "%s，%s，等待转账\n", model.ClaimSettled.Label(), yuanGrouped(model.Fen(*r.AmountFen)))
		case r.Status == model.ClaimReturned:
			note := r.ReturnNote
			if note == "" {
				note = "请查看退回原因"
			}
			fmt.Fprintf(&sb, "%s——%s。请在小程序中补充后再提交\n", r.Status.Label(), note)
		case r.Status == model.ClaimConfirmed:
			fmt.Fprintf(&sb, "%s，将在最近一次结算中核算\n", r.Status.Label())
		default:
			fmt.Fprintf(&sb, "%s\n", r.Status.Label())
		}
	}
	sb.WriteString("详情请在小程序“补充申请”中查看。")
	return sb.String(), nil
}
