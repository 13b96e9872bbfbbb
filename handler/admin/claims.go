package admin

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"huzhu/handler"
	"huzhu/model"
	"huzhu/service/claim"
	"huzhu/service/errs"
	"huzhu/service/staff"
)

// The review of supplementary claims: a queue per grassroots union (union staff see their own
// union's claims only; 办事处 and 市总 see all), one claim with its documents shown inline, and
// the decisions. Who may do what is decided by claim.Service; these handlers only parse.

func (a *Admin) mountClaims(g fiber.Router) {
	g.Get("/claims", a.auth(a.claimQueue))
	g.Get("/claims/:id", a.auth(a.claimPage))
	g.Get("/claims/:id/documents/:doc", a.auth(a.claimDocument))
	g.Post("/claims/:id/approve", a.auth(a.claimApprove))
	g.Post("/claims/:id/return", a.auth(a.claimReturn))
	g.Post("/claims/:id/confirm", a.auth(a.claimConfirm))
}

func (a *Admin) claimsService() (*claim.Service, error) {
	if a.d.Claims == nil {
		return nil, errs.New(errs.KindUnavailable, "claim.unavailable", "这个后台没有连接补充申请服务")
	}
	return a.d.Claims, nil
}

type claimQueueView struct {
	Status   string
	Statuses []model.ClaimStatus
	Claims   []claim.Claim
}

func (a *Admin) claimQueue(c *fiber.Ctx, st staff.Staff) error {
	svc, err := a.claimsService()
	if err != nil {
		return err
	}
	status := model.ClaimStatus(c.Query("status"))
	if status != "" && !status.Valid() {
		return errs.Invalid("status", "没有这个状态", "请从列表中选择")
	}
	cs, err := svc.Queue(c.UserContext(), a.actor(c, st), claim.QueueFilter{Status: status})
	if err != nil {
		return err
	}
	return a.render(c, "claims", view{Title: "补充申请", Nav: "claims", Staff: st, Flash: c.Query("flash"),
		Data: claimQueueView{Status: string(status), Statuses: model.ClaimStatuses, Claims: cs}})
}

type claimPageView struct {
	Claim      claim.Claim
	Reasons    []claim.ReturnReason
	CanApprove bool // offered to the union (and 市总); the service decides
	CanConfirm bool
	CanReturn  bool
}

func pathID(c *fiber.Ctx, name, code, msg string) (uint64, error) {
	id, err := strconv.ParseUint(c.Params(name), 10, 64)
	if err != nil || id == 0 {
		return 0, errs.NotFound(code, msg)
	}
	return id, nil
}

func (a *Admin) claimPage(c *fiber.Ctx, st staff.Staff) error {
	return a.renderClaim(c, st, nil)
}

func (a *Admin) renderClaim(c *fiber.Ctx, st staff.Staff, formErr *errs.Error) error {
	svc, err := a.claimsService()
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "claim.not_found", "没有找到这个申请")
	if err != nil {
		return err
	}
	cl, err := svc.Review(c.UserContext(), a.actor(c, st), id)
	if err != nil {
		return err
	}
	v := claimPageView{Claim: cl, Reasons: claim.ReturnReasons}
	switch cl.Status {
	case model.ClaimSubmitted:
		v.CanApprove = st.Role == model.RoleUnion || st.Role == model.RoleAdmin
		v.CanReturn = v.CanApprove
	case model.ClaimUnionApproved:
		v.CanConfirm = (st.Role == model.RoleOperator || st.Role == model.RoleAdmin) && cl.UnionApprovedBy != st.Username
		v.CanReturn = st.Role == model.RoleOperator || st.Role == model.RoleAdmin
	}
	if formErr != nil {
		c.Status(handler.Status(formErr.Kind))
	}
	return a.render(c, "claim", view{Title: fmt.Sprintf("补充申请 %d", cl.ID), Nav: "claims", Staff: st, Flash: c.Query("flash"), Data: v, Err: formErr})
}

// claimDocument shows a document inline, to staff the service lets see it.
func (a *Admin) claimDocument(c *fiber.Ctx, st staff.Staff) error {
	svc, err := a.claimsService()
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "claim.not_found", "没有找到这个申请")
	if err != nil {
		return err
	}
	doc, err := pathID(c, "doc", "claim.doc_not_found", "没有找到这份材料")
	if err != nil {
		return err
	}
	r, err := svc.StaffDocument(c.UserContext(), a.actor(c, st), id, doc)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, r.MIME)
	c.Set(fiber.HeaderContentDisposition, "inline")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Content-Security-Policy", "default-src 'none'")
	return c.SendStream(r, int(r.Size))
}

func (a *Admin) claimDecision(c *fiber.Ctx, st staff.Staff, do func(svc *claim.Service, id uint64) (claim.Claim, error), flash string) error {
	svc, err := a.claimsService()
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "claim.not_found", "没有找到这个申请")
	if err != nil {
		return err
	}
	if _, err := do(svc, id); err != nil {
		if e, ok := errs.As(err); ok && (e.Kind == errs.KindInvalid || e.Kind == errs.KindConflict || e.Code == "claim.four_eyes") {
			return a.renderClaim(c, st, e)
		}
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/claims/%d?flash=%s", prefix, id, url.QueryEscape(flash)), fiber.StatusSeeOther)
}

func (a *Admin) claimApprove(c *fiber.Ctx, st staff.Staff) error {
	return a.claimDecision(c, st, func(svc *claim.Service, id uint64) (claim.Claim, error) {
		return svc.Approve(c.UserContext(), a.actor(c, st), id)
	}, "已审核通过，等待办事处确认")
}

func (a *Admin) claimReturn(c *fiber.Ctx, st staff.Staff) error {
	reason, note := strings.Clone(c.FormValue("reason")), strings.Clone(c.FormValue("note"))
	return a.claimDecision(c, st, func(svc *claim.Service, id uint64) (claim.Claim, error) {
		return svc.Return(c.UserContext(), a.actor(c, st), id, reason, note)
	}, "已退回职工补充")
}

func (a *Admin) claimConfirm(c *fiber.Ctx, st staff.Staff) error {
	return a.claimDecision(c, st, func(svc *claim.Service, id uint64) (claim.Claim, error) {
		return svc.Confirm(c.UserContext(), a.actor(c, st), id)
	}, "已确认，将在所属期间的结算中核算")
}
