package admin

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/job"
	"huzhu/service/staff"
)

type runView struct {
	model.SettlementRun
	CanApprove bool
}

func (a *Admin) runs(c *fiber.Ctx, st staff.Staff) error {
	rs, err := a.d.Settlement.Runs(c.UserContext(), 50)
	if err != nil {
		return err
	}
	out := make([]runView, 0, len(rs))
	for _, r := range rs {
		out = append(out, runView{SettlementRun: r, CanApprove: r.Status == model.RunDraft && !r.Computing && st.CanApprove(r.CreatedBy)})
	}
	return a.render(c, "runs", view{Title: "结算批次", Nav: "runs", Staff: st, Flash: c.Query("flash"), Data: struct {
		Runs     []runView
		CanRun   bool
		Username string
	}{out, st.Can(staff.Settle), st.Username}})
}

// compute starts the settlement job of the form's period and sends staff to its page.
func (a *Admin) compute(c *fiber.Ctx, st staff.Staff) error {
	if err := a.d.Jobs.May(a.actor(c, st), model.ActSettle); err != nil {
		return err
	}
	p, err := a.d.Calendar.ParsePeriod(c.FormValue("period"))
	if err != nil {
		return errs.Invalid("period", "结算期间格式不对", "门诊按季度，如 2025-Q1；住院按月，如 2025-03")
	}
	who := a.actor(c, st)
	return a.startJob(c, st, job.Spec{Kind: model.JobSettle, Subject: p.Label() + p.Class.Label(), Need: model.ActSettle}, func(ctx context.Context, t *job.Task) (any, error) {
		t.Stage("计算互助金")
		r, err := a.d.Settlement.Compute(ctx, p, who)
		if err != nil {
			return nil, err
		}
		return newSettleResult(r), nil
	})
}

func (a *Admin) run(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("run.not_found", "没有这个结算批次")
	}
	d, err := a.d.Staff.Run(c.UserContext(), st, id, 20)
	if err != nil {
		return err
	}
	return a.render(c, "run", view{Title: fmt.Sprintf("结算批次 %d", id), Nav: "runs", Staff: st, Data: struct {
		staff.RunDetail
		CanApprove bool
	}{d, d.Run.Status == model.RunDraft && !d.Run.Computing && st.CanApprove(d.Run.CreatedBy)}})
}

func (a *Admin) approve(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("run.not_found", "没有这个结算批次")
	}
	r, err := a.d.Settlement.Approve(c.UserContext(), id, a.actor(c, st))
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/runs?flash=%s", prefix, url.QueryEscape(fmt.Sprintf("批次 %d 已审核，合计 %s 元", r.ID, r.TotalFen.YuanGrouped()))), fiber.StatusSeeOther)
}
