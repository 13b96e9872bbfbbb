package admin

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/job"
	"huzhu/service/member"
	"huzhu/service/notify"
	"huzhu/service/staff"
	"huzhu/service/wechat/fakewechat"

	"github.com/gofiber/fiber/v2"
)

func (a *Admin) notices(c *fiber.Ctx, st staff.Staff) error {
	ctx := c.UserContext()
	counts, err := a.d.Notices.Stats(ctx)
	if err != nil {
		return err
	}
	reach, err := a.d.Notices.Reach(ctx)
	if err != nil {
		return err
	}
	failed, err := a.d.Notices.Failed(ctx, 100)
	if err != nil {
		return err
	}
	ids := make([]uint64, 0, len(failed))
	for _, n := range failed {
		ids = append(ids, n.MemberID)
	}
	names, err := a.d.Staff.MemberNames(ctx, st, ids)
	if err != nil {
		return err
	}
	rows := make([]failedNotice, 0, len(failed))
	for _, n := range failed {
		rows = append(rows, failedNotice{Notification: n, MemberName: names[n.MemberID]})
	}
	var demo []fakewechat.Sent
	if a.d.DemoWeChat != nil {
		demo = a.d.DemoWeChat.Sent(50)
	}
	return a.render(c, "notifications", view{Title: "通知", Nav: "notifications", Staff: st, Flash: c.Query("flash"), Data: struct {
		Counts      []notify.Count
		Reach       notify.Reach
		Failed      []failedNotice
		CanRetry    bool
		CanBackfill bool
		Demo        bool
		DemoSent    []fakewechat.Sent
	}{counts, reach, rows, st.Can(staff.RetryNotice), st.Can(staff.RetryNotice) && a.d.Followers != nil, a.d.DemoWeChat != nil, demo}})
}

// failedNotice is a failed notice with the member's masked name, empty when the member is not
// one the staff member may see (or no longer on the roster).
type failedNotice struct {
	model.Notification
	MemberName string
}

// backfill starts the job that links existing official-account followers to workers (a run
// stops at its call budget or WeChat's quota and goes on from there the next time).
func (a *Admin) backfill(c *fiber.Ctx, st staff.Staff) error {
	if a.d.Followers == nil {
		return errs.New(errs.KindUnavailable, "wechat.not_configured", "公众号未配置，无法关联关注者")
	}
	f := a.d.Followers
	return a.startJob(c, st, job.Spec{Kind: model.JobBackfillFollowers, Subject: "公众号关注者"}, func(ctx context.Context, t *job.Task) (any, error) {
		res, err := f.Backfill(ctx, member.BackfillOptions{Actor: st.Username})
		if err != nil {
			return res, errs.Wrap(errs.KindUnavailable, "wechat.backfill_failed", "调用微信接口失败，已处理的进度已保存，请稍后再运行一次", err)
		}
		return res, nil
	})
}

func (a *Admin) retry(c *fiber.Ctx, st staff.Staff) error {
	ctx := c.UserContext()
	if c.FormValue("id") == "all" {
		n, err := a.d.Notices.RetryAllFailed(ctx, a.actor(c, st))
		if err != nil {
			return err
		}
		return c.Redirect(prefix+"/notifications?flash="+url.QueryEscape(fmt.Sprintf("已重新排队 %d 条通知", n)), fiber.StatusSeeOther)
	}
	id, err := strconv.ParseUint(c.FormValue("id"), 10, 64)
	if err != nil {
		return errs.NotFound("notice.not_found", "没有这条通知")
	}
	if err := a.d.Notices.Retry(ctx, id, a.actor(c, st)); err != nil {
		return err
	}
	return c.Redirect(prefix+"/notifications?flash="+url.QueryEscape(fmt.Sprintf("通知 %d 已重新排队", id)), fiber.StatusSeeOther)
}
