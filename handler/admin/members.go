package admin

import (
	"fmt"
	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/staff"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

func (a *Admin) members(c *fiber.Ctx, st staff.Staff) error {
	q := strings.TrimSpace(c.Query("q"))
	var rows []staff.MemberRow
	if q != "" || st.Role == model.RoleUnion {
		var err error
		if rows, err = a.d.Staff.Members(c.UserContext(), st, staff.MemberQuery{Name: q}); err != nil {
			return err
		}
	}
	return a.render(c, "members", view{Title: "会员", Nav: "members", Staff: st, Data: struct {
		Q    string
		Rows []staff.MemberRow
	}{q, rows}})
}

func (a *Admin) member(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("member.not_found", "没有找到这位会员")
	}
	m, err := a.d.Staff.Member(c.UserContext(), st, id)
	if err != nil {
		return err
	}
	return a.render(c, "member", view{Title: "会员详情", Nav: "members", Staff: st, Flash: c.Query("flash"), Data: struct {
		M         staff.MemberRow
		CanUnbind bool
	}{m, st.Can(staff.UnbindMember)}})
}

func (a *Admin) unbind(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("member.not_found", "没有找到这位会员")
	}
	if err := a.d.Staff.Unbind(c.UserContext(), st, id, c.IP()); err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/members/%d?flash=%s", prefix, id, url.QueryEscape("已解除微信绑定")), fiber.StatusSeeOther)
}
