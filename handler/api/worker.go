package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/eligibility"
	"huzhu/service/errs"
	"huzhu/service/member"
)

type loginRequest struct {
	Code string `json:"code"`
}

type sessionResponse struct {
	Token        string `json:"token"`
	TokenType    string `json:"token_type"`
	ExpiresAt    string `json:"expires_at"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshUntil string `json:"refresh_until"`
	Bound        bool   `json:"bound"`
	// BindingProof tells the mini-program which proof to ask for when binding.
	BindingProof string  `json:"binding_proof"`
	Notice       *string `json:"notice"`
}

func (a *API) newSessionResponse(c *fiber.Ctx, l member.Login) sessionResponse {
	left := l.Token.ExpiresAt.Sub(c.Context().Time()).Seconds()
	return sessionResponse{Token: l.Token.Value, TokenType: "Bearer", ExpiresAt: timeJSON(l.Token.ExpiresAt), ExpiresIn: max(int64(left), 0),
		RefreshUntil: timeJSON(l.Token.RefreshUntil), Bound: l.Bound, BindingProof: string(a.members.Proof()), Notice: optional(l.Notice)}
}

func (a *API) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	l, err := a.members.Login(c.UserContext(), req.Code, c.IP())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(a.newSessionResponse(c, l))
}

func (a *API) refresh(c *fiber.Ctx) error {
	tok, _ := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	l, err := a.members.Refresh(c.UserContext(), tok)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(a.newSessionResponse(c, l))
}

type bindRequest struct {
	Name       string `json:"name"`
	IDNumber   string `json:"id_number"`
	JingCard   string `json:"jing_card"`
	SocialCard string `json:"social_card"`
	Phone      string `json:"phone"`
	PhoneCode  string `json:"phone_code"`
	SMSCode    string `json:"sms_code"`
	TakeBack   bool   `json:"take_back"`
}

func (r bindRequest) input() member.BindRequest {
	return member.BindRequest{Name: r.Name, IDNumber: r.IDNumber, JingCard: r.JingCard, SocialCard: r.SocialCard, Phone: r.Phone,
		PhoneCode: r.PhoneCode, SMSCode: r.SMSCode, TakeBack: r.TakeBack}
}

func (a *API) bind(c *fiber.Ctx) error {
	var req bindRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	p, err := a.members.Bind(c.UserContext(), principalOf(c), req.input(), c.IP())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newProfileResponse(p))
}

type codeSentResponse struct {
	Phone     string `json:"phone"`
	ExpiresIn int64  `json:"expires_in"`
}

func (a *API) sendBindCode(c *fiber.Ctx) error {
	var req bindRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	sent, err := a.members.SendBindCode(c.UserContext(), principalOf(c), req.input(), c.IP())
	if err != nil {
		return err
	}
	return c.JSON(codeSentResponse{Phone: sent.Phone, ExpiresIn: int64(sent.ExpiresIn.Seconds())})
}

type deskCodeResponse struct {
	Code      string `json:"code"`
	ExpiresIn int64  `json:"expires_in"`
}

func (a *API) deskCode(c *fiber.Ctx) error {
	dc, err := a.members.IssueDeskCode(c.UserContext(), principalOf(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(deskCodeResponse{Code: dc.Code, ExpiresIn: int64(dc.ExpiresIn.Seconds())})
}

func (a *API) unbind(c *fiber.Ctx) error {
	if err := a.members.Unbind(c.UserContext(), principalOf(c), c.IP()); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"bound": false})
}

type codeLabel struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

type profileResponse struct {
	MemberID      uint64       `json:"member_id"`
	Name          string       `json:"name"`
	IDNumber      string       `json:"id_number"`
	JingCard      *string      `json:"jing_card"`
	SocialCard    *string      `json:"social_card"`
	Phone         *string      `json:"phone"`
	BankAccount   *bankJSON    `json:"bank_account"`
	Union         unionJSON    `json:"union"`
	Participation codeLabel    `json:"participation"`
	PaidUntil     *string      `json:"paid_until"`
	Employment    string       `json:"employment"`
	Statuses      []statusJSON `json:"statuses"`
	BoundAt       *string      `json:"bound_at"`
}

type bankJSON struct {
	Bank   string `json:"bank"`
	Name   string `json:"bank_name"`
	Masked string `json:"masked"`
}

type unionJSON struct {
	Name     string `json:"name"`
	District string `json:"district"`
}

type statusJSON struct {
	Kind  string  `json:"kind"`
	Label string  `json:"label"`
	From  *string `json:"from"`
	Until *string `json:"until"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func newProfileResponse(p member.Profile) profileResponse {
	r := profileResponse{MemberID: p.MemberID, Name: p.Name, IDNumber: p.IDNumber, JingCard: optional(p.JingCard),
		SocialCard: optional(p.SocialCard), Phone: optional(p.Phone), Union: unionJSON{Name: p.Union.Name, District: p.Union.District},
		Participation: codeLabel{Code: string(p.Participation), Label: p.Participation.Label()}, PaidUntil: datePtr(p.PaidUntil),
		Employment: string(p.Employment), Statuses: make([]statusJSON, 0, len(p.Statuses)), BoundAt: timePtr(&p.BoundAt)}
	if p.BankAccount != "" {
		r.BankAccount = &bankJSON{Bank: string(p.Bank), Name: p.Bank.Label(), Masked: p.BankAccount}
	}
	for _, s := range p.Statuses {
		r.Statuses = append(r.Statuses, statusJSON{Kind: s.Kind, Label: s.Label, From: datePtr(s.From), Until: datePtr(s.Until)})
	}
	return r
}

func (a *API) me(c *fiber.Ctx) error {
	p, err := a.members.Profile(c.UserContext(), principalOf(c))
	if err != nil {
		return err
	}
	return c.JSON(newProfileResponse(p))
}

type eligibilityResponse struct {
	Date        string       `json:"date"`
	Status      string       `json:"status"`
	StatusLabel string       `json:"status_label"`
	PayTo       *string      `json:"pay_to"`
	Reasons     []reasonJSON `json:"reasons"`
	Missing     []string     `json:"missing"`
}

type reasonJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Action  string `json:"action"`
}

var statusLabels = map[eligibility.Status]string{
	eligibility.StatusEligible:    "符合条件",
	eligibility.StatusNotEligible: "不符合条件",
	eligibility.StatusNeedsAction: "符合条件，还需办理手续",
	eligibility.StatusUnknown:     "还需要确认一些情况",
}

func newEligibilityResponse(e member.Eligibility) eligibilityResponse {
	d := e.Decision
	r := eligibilityResponse{Date: string(e.Date), Status: string(d.Status), StatusLabel: statusLabels[d.Status], PayTo: optional(string(d.PayTo)),
		Reasons: make([]reasonJSON, 0, len(d.Reasons)), Missing: append([]string{}, d.Missing...)}
	for _, x := range d.Reasons {
		r.Reasons = append(r.Reasons, reasonJSON{Code: x.Code, Message: x.Message, Action: x.Action})
	}
	return r
}

func (a *API) myEligibility(c *fiber.Ctx) error {
	e, err := a.members.Eligibility(c.UserContext(), principalOf(c))
	if err != nil {
		return err
	}
	return c.JSON(newEligibilityResponse(e))
}

// checkRequest holds the answers of someone who is not bound; every answer may be left out
// (unknown).
type checkRequest struct {
	InsuredBeijing   string `json:"insured_beijing"`
	Employment       string `json:"employment"`
	Kind             string `json:"kind"`
	UnionMember      string `json:"union_member"`
	EmployerPaysDues string `json:"employer_pays_dues"`
	Participation    string `json:"participation"`
	PaidUntil        string `json:"paid_until"`
	JoinedOn         string `json:"joined_on"`
	HasJingCard      string `json:"has_jing_card"`
	HasBankCard      bool   `json:"has_bank_card"`
}

func tri(field, s string) (eligibility.Tri, error) {
	switch strings.TrimSpace(s) {
	case "", "unknown", "不确定", "不知道":
		return eligibility.Unknown, nil
	case "yes", "是":
		return eligibility.Yes, nil
	case "no", "否":
		return eligibility.No, nil
	}
	return 0, errs.Invalid(field, "请回答 yes、no 或 unknown", "是填 yes，否填 no，不确定填 unknown")
}

func oneOf[T ~string](field, s string, allowed ...T) (T, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "unknown" {
		return "", nil
	}
	for _, a := range allowed {
		if s == string(a) {
			return a, nil
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return "", errs.Invalid(field, "这一项的取值不对", "可选："+strings.Join(names, "、")+"，不确定填 unknown")
}

func optionalDate(field, s string) (model.Date, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	d, err := model.ParseDate(strings.TrimSpace(s))
	if err != nil || d.Year() < 1950 || d.Year() > 2100 {
		return "", errs.Invalid(field, "日期无法识别", "日期写成 2025-03-14 这样的格式")
	}
	return d, nil
}

func (r checkRequest) facts() (eligibility.Facts, error) {
	var (
		f   eligibility.Facts
		err error
	)
	trip := func(field, s string, into *eligibility.Tri) {
		if err == nil {
			*into, err = tri(field, s)
		}
	}
	trip("insured_beijing", r.InsuredBeijing, &f.InsuredBeijing)
	trip("union_member", r.UnionMember, &f.UnionMember)
	trip("employer_pays_dues", r.EmployerPaysDues, &f.EmployerPaysDues)
	trip("has_jing_card", r.HasJingCard, &f.HasJingCard)
	if err != nil {
		return f, err
	}
	if f.Employment, err = oneOf("employment", r.Employment, model.EmploymentInService, model.EmploymentRetired, model.EmploymentLeft); err != nil {
		return f, err
	}
	if f.Kind, err = oneOf("kind", r.Kind, model.WorkerUrban, model.WorkerRural); err != nil {
		return f, err
	}
	if r.Participation != "none" {
		if f.Participation, err = oneOf("participation", r.Participation, model.ParticipationFree, model.ParticipationPaid, model.ParticipationCollective); err != nil {
			return f, err
		}
	}
	if f.PaidUntil, err = optionalDate("paid_until", r.PaidUntil); err != nil {
		return f, err
	}
	if f.JoinedOn, err = optionalDate("joined_on", r.JoinedOn); err != nil {
		return f, err
	}
	f.HasBankCard = r.HasBankCard
	return f, nil
}

func (a *API) checkEligibility(c *fiber.Ctx) error {
	var req checkRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	f, err := req.facts()
	if err != nil {
		return err
	}
	return c.JSON(newEligibilityResponse(a.members.CheckEligibility(f)))
}

type preferencesResponse struct {
	Subscriptions []string `json:"subscriptions"`
	SMSOptOut     bool     `json:"sms_opt_out"`
	Templates     []string `json:"templates"`
}

func newPreferencesResponse(p member.Preferences) preferencesResponse {
	r := preferencesResponse{Subscriptions: p.Subscriptions, SMSOptOut: p.SMSOptOut, Templates: p.Templates}
	if r.Subscriptions == nil {
		r.Subscriptions = []string{}
	}
	if r.Templates == nil {
		r.Templates = []string{}
	}
	return r
}

func (a *API) preferences(c *fiber.Ctx) error {
	p, err := a.members.Preferences(c.UserContext(), principalOf(c))
	if err != nil {
		return err
	}
	return c.JSON(newPreferencesResponse(p))
}

type preferencesRequest struct {
	Subscriptions map[string]string `json:"subscriptions"`
	SMSOptOut     *bool             `json:"sms_opt_out"`
}

func (a *API) updatePreferences(c *fiber.Ctx) error {
	var req preferencesRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	p, err := a.members.UpdatePreferences(c.UserContext(), principalOf(c), member.PreferencesUpdate{Results: req.Subscriptions, SMSOptOut: req.SMSOptOut})
	if err != nil {
		return err
	}
	return c.JSON(newPreferencesResponse(p))
}
