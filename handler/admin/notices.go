package admin

import (
	"fmt"
	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/notify"
	"huzhu/service/staff"
	"huzhu/service/wechat/fakewechat"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"
)

func (a *Admin) notices(c *fiber.Ctx, st staff.Staff) error {
	ctx := c.UserContext()
	counts, err := a.d.Notices.Stats(ctx)
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
		Counts   []notify.Count
		Failed   []failedNotice
		CanRetry bool
		Demo     bool
		DemoSent []fakewechat.Sent
	}{counts, rows, st.Can(staff.RetryNotice), a.d.DemoWeChat != nil, demo}})
}

// failedNotice is a failed notice with the member's masked name, empty when the member is not
// one the staff member may see (or no longer on the roster).
type failedNotice struct {
	model.Notification
	MemberName string
}

func (a *Admin) retry(c *fiber.Ctx, st staff.Staff) error {
	ctx := c.UserContext()
	if c.FormValue("id") == "all" {
		n, err := a.d.Notices.RetryAllFailed(ctx, st.Username)
		if err != nil {
			return err
		}
		return c.Redirect(prefix+"/notifications?flash="+url.QueryEscape(fmt.Sprintf("已重新排队 %d 条通知", n)), fiber.StatusSeeOther)
	}
	id, err := strconv.ParseUint(c.FormValue("id"), 10, 64)
	if err != nil {
		return errs.NotFound("notice.not_found", "没有这条通知")
	}
	if err := a.d.Notices.Retry(ctx, id, st.Username); err != nil {
		return err
	}
	return c.Redirect(prefix+"/notifications?flash="+url.QueryEscape(fmt.Sprintf("通知 %d 已重新排队", id)), fiber.StatusSeeOther)
}
