package api

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/errs"
	"huzhu/service/payout"
	"huzhu/service/pii"
	"huzhu/service/policy"
)

// estimateRequest holds the receipts a worker typed in. Each amount may be given in fen
// (integer) or in yuan (a decimal string such as "1234.56"), not both.
type estimateRequest struct {
	Bills []receiptJSON `json:"bills"`
}

type receiptJSON struct {
	ClaimType    string  `json:"claim_type"`
	Date         string  `json:"date"`
	SelfPay1Fen  *int64  `json:"self_pay1_fen"`
	SelfPay1Yuan *string `json:"self_pay1_yuan"`
	AboveCapFen  *int64  `json:"above_cap_fen"`
	AboveCapYuan *string `json:"above_cap_yuan"`
	MajorDisease bool    `json:"major_disease"`
}

// amount reads one amount given in fen or yuan; absent is 0.
func amount(field string, fen *int64, yuan *string) (model.Fen, error) {
	switch {
	case fen != nil && yuan != nil:
		return 0, errs.Invalid(field+"_yuan", "金额只需填写一种单位", "填写 "+field+"_fen（分）或 "+field+"_yuan（元）其中一个")
	case fen != nil:
		return model.Fen(*fen), nil
	case yuan != nil && strings.TrimSpace(*yuan) != "":
		f, err := model.ParseYuan(*yuan)
		if err != nil {
			return 0, errs.Invalid(field+"_yuan", "金额格式不对", "金额以元为单位，最多两位小数，例如 1234.56")
		}
		return f, nil
	}
	return 0, nil
}

func (r estimateRequest) receipts() ([]payout.Receipt, error) {
	out := make([]payout.Receipt, len(r.Bills))
	for i, b := range r.Bills {
		prefix := fmt.Sprintf("bills[%d].", i)
		sp1, err := amount(prefix+"self_pay1", b.SelfPay1Fen, b.SelfPay1Yuan)
		if err != nil {
			return nil, err
		}
		ac, err := amount(prefix+"above_cap", b.AboveCapFen, b.AboveCapYuan)
		if err != nil {
			return nil, err
		}
		out[i] = payout.Receipt{ClaimType: b.ClaimType, Date: b.Date, SelfPay1Fen: sp1, AboveCapFen: ac, MajorDisease: b.MajorDisease}
	}
	return out, nil
}

type stepJSON struct {
	Kind       string    `json:"kind"`
	Text       string    `json:"text"`
	RatioBP    model.BP  `json:"ratio_bp"`
	AmountFen  model.Fen `json:"amount_fen"`
	AmountYuan string    `json:"amount_yuan"`
}

func newSteps(steps []policy.Step) []stepJSON {
	out := make([]stepJSON, len(steps))
	for i, s := range steps {
		out[i] = stepJSON{Kind: s.Kind, Text: s.Text, RatioBP: s.RatioBP, AmountFen: s.AmountFen, AmountYuan: s.AmountFen.Yuan()}
	}
	return out
}

type estimateLineJSON struct {
	Index             *int       `json:"index,omitempty"`
	RecordID          *uint64    `json:"record_id,omitempty"`
	Hospital          *string    `json:"hospital,omitempty"`
	ClaimType         string     `json:"claim_type"`
	ClaimTypeLabel    string     `json:"claim_type_label"`
	Date              string     `json:"date"`
	PolicyCode        string     `json:"policy_code"`
	BaseFen           model.Fen  `json:"base_fen"`
	BaseYuan          string     `json:"base_yuan"`
	GrossFen          model.Fen  `json:"gross_fen"`
	GrossYuan         string     `json:"gross_yuan"`
	AmountFen         model.Fen  `json:"amount_fen"`
	AmountYuan        string     `json:"amount_yuan"`
	Eligible          bool       `json:"eligible"`
	Reason            string     `json:"reason"`
	Steps             []stepJSON `json:"steps"`
	Period            string     `json:"period"`
	PeriodLabel       string     `json:"period_label"`
	ExpectedBy        *string    `json:"expected_by"`
	ExpectedEstimated bool       `json:"expected_estimated"`
}

type yearToDateJSON struct {
	Year         int       `json:"year"`
	CapFen       model.Fen `json:"cap_fen"`
	CapYuan      string    `json:"cap_yuan"`
	PaidFen      model.Fen `json:"paid_fen"`
	PaidYuan     string    `json:"paid_yuan"`
	ArrivedFen   model.Fen `json:"arrived_fen"`
	ArrivedYuan  string    `json:"arrived_yuan"`
	EstimateFen  model.Fen `json:"estimate_fen"`
	EstimateYuan string    `json:"estimate_yuan"`
	LeftFen      model.Fen `json:"left_fen"`
	LeftYuan     string    `json:"left_yuan"`
}

type estimateResponse struct {
	Lines             []estimateLineJSON `json:"lines"`
	TotalFen          model.Fen          `json:"total_fen"`
	TotalYuan         string             `json:"total_yuan"`
	CapLeftFen        model.Fen          `json:"cap_left_fen"`
	CapLeftYuan       string             `json:"cap_left_yuan"`
	ExpectedBy        *string            `json:"expected_by"`
	ExpectedEstimated bool               `json:"expected_estimated"`
	Years             []yearToDateJSON   `json:"years"`
	Note              string             `json:"note"`
}

const estimateNote = "估算结果仅供参考，实际金额以工会核算为准。"

func newEstimateResponse(e payout.Estimate, records bool) estimateResponse {
	r := estimateResponse{Lines: make([]estimateLineJSON, 0, len(e.Lines)), TotalFen: e.TotalFen, TotalYuan: e.TotalFen.Yuan(),
		CapLeftFen: e.CapLeftFen, CapLeftYuan: e.CapLeftFen.Yuan(), ExpectedBy: datePtr(e.ExpectedBy),
		ExpectedEstimated: e.ExpectedEstimated, Years: make([]yearToDateJSON, 0, len(e.Years)), Note: estimateNote}
	for _, l := range e.Lines {
		j := estimateLineJSON{ClaimType: string(l.ClaimType), ClaimTypeLabel: l.ClaimType.Label(), Date: string(l.Date),
			PolicyCode: l.PolicyCode, BaseFen: l.BaseFen, BaseYuan: l.BaseFen.Yuan(), GrossFen: l.GrossFen, GrossYuan: l.GrossFen.Yuan(),
			AmountFen: l.AmountFen, AmountYuan: l.AmountFen.Yuan(), Eligible: l.Eligible, Reason: l.Reason, Steps: newSteps(l.Steps),
			Period: l.Period.String(), PeriodLabel: periodLabel(l.Period), ExpectedBy: datePtr(l.ExpectedBy), ExpectedEstimated: l.Estimated}
		if records {
			id, h := l.RecordID, l.Hospital
			j.RecordID, j.Hospital = &id, &h
		} else {
			i := l.Index
			j.Index = &i
		}
		r.Lines = append(r.Lines, j)
	}
	for _, y := range e.Years {
		r.Years = append(r.Years, yearToDateJSON{Year: y.Year, CapFen: y.CapFen, CapYuan: y.CapFen.Yuan(), PaidFen: y.PaidFen, PaidYuan: y.PaidFen.Yuan(),
			ArrivedFen: y.ArrivedFen, ArrivedYuan: y.ArrivedFen.Yuan(), EstimateFen: y.EstimateFen, EstimateYuan: y.EstimateFen.Yuan(),
			LeftFen: y.LeftFen, LeftYuan: y.LeftFen.Yuan()})
	}
	return r
}

func periodLabel(p calendar.Period) string {
	if p.IsZero() {
		return ""
	}
	return p.Label() + p.Class.Label()
}

func (a *API) estimate(c *fiber.Ctx) error {
	var req estimateRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	receipts, err := req.receipts()
	if err != nil {
		return err
	}
	est, err := a.payouts.Estimate(c.UserContext(), memberOf(c), receipts)
	if err != nil {
		return err
	}
	return c.JSON(newEstimateResponse(est, false))
}

func (a *API) estimateUnsettled(c *fiber.Ctx) error {
	est, err := a.payouts.EstimateUnsettled(c.UserContext(), memberOf(c))
	if err != nil {
		return err
	}
	return c.JSON(newEstimateResponse(est, true))
}

type totalsJSON struct {
	Year         int       `json:"year"`
	CapFen       model.Fen `json:"cap_fen"`
	CapYuan      string    `json:"cap_yuan"`
	ComputedFen  model.Fen `json:"computed_fen"`
	ComputedYuan string    `json:"computed_yuan"`
	ArrivedFen   model.Fen `json:"arrived_fen"`
	ArrivedYuan  string    `json:"arrived_yuan"`
	OnTheWayFen  model.Fen `json:"on_the_way_fen"`
	OnTheWayYuan string    `json:"on_the_way_yuan"`
	DraftFen     model.Fen `json:"draft_fen"`
	DraftYuan    string    `json:"draft_yuan"`
	LeftFen      model.Fen `json:"left_fen"`
	LeftYuan     string    `json:"left_yuan"`
}

func newTotals(t payout.Totals) totalsJSON {
	return totalsJSON{Year: t.Year, CapFen: t.CapFen, CapYuan: t.CapFen.Yuan(), ComputedFen: t.ComputedFen, ComputedYuan: t.ComputedFen.Yuan(),
		ArrivedFen: t.ArrivedFen, ArrivedYuan: t.ArrivedFen.Yuan(), OnTheWayFen: t.OnTheWayFen, OnTheWayYuan: t.OnTheWayFen.Yuan(),
		DraftFen: t.DraftFen, DraftYuan: t.DraftFen.Yuan(), LeftFen: t.LeftFen, LeftYuan: t.LeftFen.Yuan()}
}

type itemJSON struct {
	ID             uint64    `json:"id"`
	Period         string    `json:"period"`
	PeriodLabel    string    `json:"period_label"`
	ClaimType      string    `json:"claim_type"`
	ClaimTypeLabel string    `json:"claim_type_label"`
	BillDate       string    `json:"bill_date"`
	AmountFen      model.Fen `json:"amount_fen"`
	AmountYuan     string    `json:"amount_yuan"`
	Status         string    `json:"status"`
	StatusLabel    string    `json:"status_label"`
	Eligible       bool      `json:"eligible"`
	Reason         string    `json:"reason"`
	ArrivedAt      *string   `json:"arrived_at"`
}

func newItem(it payout.Item) itemJSON {
	return itemJSON{ID: it.ID, Period: it.Period.String(), PeriodLabel: periodLabel(it.Period), ClaimType: string(it.ClaimType),
		ClaimTypeLabel: it.ClaimType.Label(), BillDate: string(it.BillDate), AmountFen: it.AmountFen, AmountYuan: it.AmountFen.Yuan(),
		Status: string(it.Status), StatusLabel: it.Status.Label(), Eligible: it.Eligible, Reason: it.Reason, ArrivedAt: timePtr(it.ArrivedAt)}
}

type pageResponse struct {
	Year   int        `json:"year"`
	Years  []int      `json:"years"`
	Page   int        `json:"page"`
	Size   int        `json:"size"`
	Total  int64      `json:"total"`
	Items  []itemJSON `json:"items"`
	Totals totalsJSON `json:"totals"`
}

// queryInt reads an optional integer query parameter; absent is 0.
func queryInt(c *fiber.Ctx, name string) (int, error) {
	s := c.Query(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errs.Invalid(name, "应为整数", "例如 "+name+"=1")
	}
	return n, nil
}

func (a *API) listPayouts(c *fiber.Ctx) error {
	var (
		q   payout.Query
		err error
	)
	if q.Year, err = queryInt(c, "year"); err != nil {
		return err
	}
	if q.Page, err = queryInt(c, "page"); err != nil {
		return err
	}
	if q.Size, err = queryInt(c, "size"); err != nil {
		return err
	}
	p, err := a.payouts.List(c.UserContext(), memberOf(c), q)
	if err != nil {
		return err
	}
	r := pageResponse{Year: p.Year, Years: p.Years, Page: p.Page, Size: p.Size, Total: p.Total, Items: make([]itemJSON, 0, len(p.Items)),
		Totals: newTotals(p.Totals)}
	for _, it := range p.Items {
		r.Items = append(r.Items, newItem(it))
	}
	return c.JSON(r)
}

type eventJSON struct {
	Status string  `json:"status"`
	Label  string  `json:"label"`
	At     *string `json:"at"`
	Done   bool    `json:"done"`
	Note   string  `json:"note"`
}

type accountJSON struct {
	Kind      string  `json:"kind"`
	KindLabel string  `json:"kind_label"`
	Bank      *string `json:"bank"`
	BankName  *string `json:"bank_name"`
	Masked    string  `json:"masked"`
}

type detailResponse struct {
	itemJSON
	Year         int          `json:"year"`
	PolicyCode   string       `json:"policy_code"`
	BaseFen      model.Fen    `json:"base_fen"`
	BaseYuan     string       `json:"base_yuan"`
	Hospital     string       `json:"hospital"`
	Origin       string       `json:"origin"`
	OriginLabel  string       `json:"origin_label"`
	ClaimID      *uint64      `json:"claim_id"`
	SelfPay1Fen  model.Fen    `json:"self_pay1_fen"`
	SelfPay1Yuan string       `json:"self_pay1_yuan"`
	AboveCapFen  model.Fen    `json:"above_cap_fen"`
	AboveCapYuan string       `json:"above_cap_yuan"`
	MajorDisease bool         `json:"major_disease"`
	Steps        []stepJSON   `json:"steps"`
	Timeline     []eventJSON  `json:"timeline"`
	ExpectedBy   *string      `json:"expected_by"`
	Account      *accountJSON `json:"account"`
	Totals       totalsJSON   `json:"totals"`
}

func newDetail(d payout.Detail) detailResponse {
	r := detailResponse{itemJSON: newItem(d.Item), Year: d.Year, PolicyCode: d.PolicyCode, BaseFen: d.BaseFen, BaseYuan: d.BaseFen.Yuan(),
		Hospital: d.Hospital, SelfPay1Fen: d.SelfPay1, SelfPay1Yuan: d.SelfPay1.Yuan(), AboveCapFen: d.AboveCap, AboveCapYuan: d.AboveCap.Yuan(),
		MajorDisease: d.Major, Steps: newSteps(d.Steps), Timeline: make([]eventJSON, 0, len(d.Timeline)), ExpectedBy: datePtr(d.ExpectedBy),
		Totals: newTotals(d.Totals), Origin: "feed", OriginLabel: "医保数据（自动结算）"}
	if d.ClaimID != 0 {
		id := d.ClaimID
		r.Origin, r.OriginLabel, r.ClaimID = "claim", fmt.Sprintf("您提交的补充申请（编号%d）", id), &id
	}
	for _, e := range d.Timeline {
		r.Timeline = append(r.Timeline, eventJSON{Status: string(e.Status), Label: e.Status.Label(), At: timePtr(e.At), Done: e.Done, Note: e.Note})
	}
	if a := d.Account; a != nil {
		j := &accountJSON{Kind: a.Kind, KindLabel: "银行卡", Masked: pii.MaskLast4(a.Last4)}
		if a.Kind == "jingka" {
			j.KindLabel = "京卡·互助服务卡"
		}
		if a.Bank != "" {
			b, n := string(a.Bank), a.Bank.Label()
			j.Bank, j.BankName = &b, &n
		}
		r.Account = j
	}
	return r
}

func (a *API) payoutDetail(c *fiber.Ctx) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil || id == 0 {
		return errs.NotFound("payout.not_found", "没有找到这笔互助金")
	}
	d, err := a.payouts.Detail(c.UserContext(), memberOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(newDetail(d))
}
