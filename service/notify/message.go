package notify

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"huzhu/model"
	"huzhu/service/wechat"
)

// Payload is what a notice says, stored as JSON in model.Notification.Payload. It holds no
// personal number in clear: only the account's last four digits.
type Payload struct {
	AmountFen    model.Fen  `json:"amount_fen"`
	Period       string     `json:"period,omitempty"`      // "2025-Q1" or "2025-03"
	ClaimTypes   string     `json:"claim_types,omitempty"` // labels, e.g. "门诊" or "门诊、住院"
	AccountKind  string     `json:"account_kind,omitempty"`
	AccountLast4 string     `json:"account_last4,omitempty"`
	TransferID   uint64     `json:"transfer_id,omitempty"`
	RunID        uint64     `json:"run_id,omitempty"`
	ExpectedBy   model.Date `json:"expected_by,omitempty"` // approved notices: the promised arrival date
	ClaimID      uint64     `json:"claim_id,omitempty"`    // claim notices: the claim's number
	Reason       string     `json:"reason,omitempty"`      // claim returned: the reason's label
}

// Template data keys. WeChat gives each template field a numbered key when the template is added
// to the account; the templates applied for must use these keys (or the lead maps them in
// Options.Keys).
const (
	keyAmount  = "amount"
	keyAccount = "account"
	keyPeriod  = "period"
	keyDate    = "date"
	keyNote    = "note"
)

var defaultKeys = map[string]string{
	keyAmount:  "amount1",
	keyAccount: "thing2",
	keyPeriod:  "thing3",
	keyDate:    "date4",
	keyNote:    "thing5",
}

// yuanPlain writes whole yuan without decimals, as the union's SMS does ("200653"), and keeps
// two decimals otherwise.
func yuanPlain(f model.Fen) string {
	if f%100 == 0 {
		return strconv.FormatInt(int64(f)/100, 10)
	}
	return f.Yuan()
}

// periodLabel turns "2025-Q1" into "2025年第1季度" and "2025-03" into "2025年3月".
func periodLabel(p string) string {
	y, rest, ok := strings.Cut(p, "-")
	if !ok {
		return p
	}
	if q, isQ := strings.CutPrefix(rest, "Q"); isQ {
		return y + "年第" + q + "季度"
	}
	if m, err := strconv.Atoi(rest); err == nil {
		return fmt.Sprintf("%s年%d月", y, m)
	}
	return p
}

func accountLabel(p Payload) string {
	card := "互助服务卡"
	if p.AccountKind == "bank" {
		card = "银行卡"
	}
	if p.AccountLast4 == "" {
		return card
	}
	return card + "尾号" + p.AccountLast4
}

// content is one notice rendered for every channel.
type content struct {
	data map[string]string // template/subscribe fields by logical key
	sms  string
}

// render builds the message of kind k from p on the day today (Asia/Shanghai). hotline is the
// number in the SMS. An approval notice whose promised date is already past when it is sent
// (the run was approved late, or the notice waited) never repeats the promise: it says the money
// is late and where to ask.
func render(k model.NoticeKind, p Payload, hotline string, today model.Date) (content, error) {
	period := periodLabel(p.Period)
	what := strings.TrimSpace(period + p.ClaimTypes)
	switch k {
	case model.NoticeArrived:
		return content{
			data: map[string]string{
				keyAmount:  wechat.Amount(p.AmountFen),
				keyAccount: wechat.Thing(accountLabel(p)),
				keyPeriod:  wechat.Thing(what + "互助金"),
				keyNote:    wechat.Thing("已到账，详询" + hotline),
			},
			sms: fmt.Sprintf("在职职工医疗互助保障计划互助金人民币%s元已打入您的尾号%s%s中，详询%s。",
				yuanPlain(p.AmountFen), p.AccountLast4, cardName(p), hotline),
		}, nil
	case model.NoticeApproved:
		if p.ExpectedBy != "" && p.ExpectedBy < today {
			return content{
				data: map[string]string{
					keyAmount: wechat.Amount(p.AmountFen),
					keyPeriod: wechat.Thing(what + "互助金已核算"),
					keyNote:   wechat.Thing("到账晚于预期，请问工会或" + hotline),
				},
				sms: fmt.Sprintf("本期互助金已核算（%s，人民币%s元），原定%s前到账，现已晚于预期，请咨询所在单位工会或拨打%s。",
					what, yuanPlain(p.AmountFen), shortDate(p.ExpectedBy), hotline),
			}, nil
		}
		c := content{
			data: map[string]string{
				keyAmount: wechat.Amount(p.AmountFen),
				keyPeriod: wechat.Thing(what + "互助金已核算"),
				keyNote:   wechat.Thing("预计" + shortDate(p.ExpectedBy) + "前到账"),
			},
			sms: fmt.Sprintf("本期互助金已核算，预计%s前到账（%s，人民币%s元）。详询%s。",
				shortDate(p.ExpectedBy), what, yuanPlain(p.AmountFen), hotline),
		}
		if p.ExpectedBy != "" {
			c.data[keyDate] = wechat.Date(p.ExpectedBy)
		}
		return c, nil
	case model.NoticeFailedTx:
		return content{
			data: map[string]string{
				keyAmount:  wechat.Amount(p.AmountFen),
				keyAccount: wechat.Thing(accountLabel(p)),
				keyPeriod:  wechat.Thing(what + "互助金"),
				keyNote:    wechat.Thing("转账失败，请联系基层工会"),
			},
			sms: fmt.Sprintf("您的%s互助金人民币%s元转账失败，请联系基层工会核对账户。详询%s。",
				what, yuanPlain(p.AmountFen), hotline),
		}, nil
	case model.NoticeClaimReturned:
		return content{
			data: map[string]string{keyPeriod: wechat.Thing(fmt.Sprintf("补充申请%d需要补充", p.ClaimID)), keyNote: wechat.Thing(p.Reason)},
			sms: fmt.Sprintf("您的医疗互助补充申请（编号%d）需要补充：%s。请在小程序“补充申请”中查看并补充后再提交。详询%s。",
				p.ClaimID, p.Reason, hotline),
		}, nil
	case model.NoticeClaimConfirmed:
		return content{
			data: map[string]string{keyPeriod: wechat.Thing(fmt.Sprintf("补充申请%d已确认", p.ClaimID)), keyNote: wechat.Thing("将在最近一次结算中核算")},
			sms: fmt.Sprintf("您的医疗互助补充申请（编号%d）已由办事处确认，将在最近一次%s结算中核算，到账后另行通知。详询%s。",
				p.ClaimID, p.ClaimTypes, hotline),
		}, nil
	}
	return content{}, fmt.Errorf("unknown notice kind %q", k)
}

func cardName(p Payload) string {
	if p.AccountKind == "bank" {
		return "银行卡"
	}
	return "工会会员互助服务卡"
}

// shortDate is "4月30日", the form used in running text.
func shortDate(d model.Date) string {
	t, err := model.ParseDate(string(d))
	if err != nil {
		return "近期"
	}
	tt := t.Time()
	return fmt.Sprintf("%d月%d日", int(tt.Month()), tt.Day())
}

func decodePayload(s string) (Payload, error) {
	var p Payload
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return Payload{}, fmt.Errorf("decode payload: %w", err)
	}
	return p, nil
}
