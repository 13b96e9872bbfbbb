package admin

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"huzhu/handler"
	"huzhu/service/errs"
	"huzhu/service/member"
	"huzhu/service/staff"
)

// bindForm is the page "为职工绑定" of one member: bind the member to the WeChat account whose
// desk code the worker shows, after checking their papers in person, and lift a binding
// lock-out. Both are decided and audited by member.Service.
type bindForm struct {
	Member   staff.MemberRow
	Code     string
	Reason   string
	Account  string
	IP       string
	ErrField string
	Form     string // which form the error belongs to: bind or unlock
}

func (a *Admin) bindPage(c *fiber.Ctx, st staff.Staff) error {
	return a.renderBind(c, st, bindForm{}, nil)
}

// renderBind shows the page for the member in the URL, with err (an Invalid or Conflict answer
// of the last form) above the form it belongs to.
func (a *Admin) renderBind(c *fiber.Ctx, st staff.Staff, f bindForm, err *errs.Error) error {
	if a.d.Members == nil {
		return errs.New(errs.KindUnavailable, "binding.unavailable", "这个后台没有连接小程序服务，不能办理绑定")
	}
	id, perr := strconv.ParseUint(c.Params("id"), 10, 64)
	if perr != nil {
		return errs.NotFound("member.not_found", "没有找到这位会员")
	}
	m, lerr := a.d.Staff.Member(c.UserContext(), st, id)
	if lerr != nil {
		return lerr
	}
	f.Member = m
	if err != nil {
		f.ErrField = err.Field
		c.Status(handler.Status(err.Kind))
	}
	return a.render(c, "member_bind", view{Title: "为职工绑定", Nav: "members", Staff: st, Flash: c.Query("flash"), Data: f, Err: err})
}

func (a *Admin) bindMember(c *fiber.Ctx, st staff.Staff) error {
	if a.d.Members == nil {
		return errs.New(errs.KindUnavailable, "binding.unavailable", "这个后台没有连接小程序服务，不能办理绑定")
	}
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("member.not_found", "没有找到这位会员")
	}
	f := bindForm{Code: strings.Clone(c.FormValue("code")), Reason: strings.Clone(c.FormValue("reason")), Form: "bind"}
	out, err := a.d.Members.StaffBind(c.UserContext(), a.actor(c, st), member.StaffBindRequest{MemberID: id, Code: f.Code, Reason: f.Reason})
	if e, ok := formError(err); ok {
		return a.renderBind(c, st, f, e)
	}
	if err != nil {
		return err
	}
	flash := "已为职工绑定微信"
	if out.TookFrom != 0 {
		flash += "；原来绑定的微信已解除，下次登录时会看到提醒"
	}
	return c.Redirect(fmt.Sprintf("%s/members/%d?flash=%s", prefix, id, url.QueryEscape(flash)), fiber.StatusSeeOther)
}

func (a *Admin) unlockMember(c *fiber.Ctx, st staff.Staff) error {
	if a.d.Members == nil {
		return errs.New(errs.KindUnavailable, "binding.unavailable", "这个后台没有连接小程序服务，不能办理绑定")
	}
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("member.not_found", "没有找到这位会员")
	}
	f := bindForm{Account: strings.TrimSpace(strings.Clone(c.FormValue("account_id"))), IP: strings.Clone(c.FormValue("ip")),
		Reason: strings.Clone(c.FormValue("reason")), Form: "unlock"}
	acct, perr := strconv.ParseUint(f.Account, 10, 64)
	if perr != nil || acct == 0 {
		return a.renderBind(c, st, f, errs.Invalid("account_id", "微信账号编号应为数字", "锁定提示里写有职工的微信账号编号"))
	}
	err = a.d.Members.LiftLock(c.UserContext(), a.actor(c, st), member.LockLift{MemberID: id, AccountID: acct, IP: f.IP, Reason: f.Reason})
	if e, ok := formError(err); ok {
		return a.renderBind(c, st, f, e)
	}
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/members/%d/bind?flash=%s", prefix, id, url.QueryEscape("已解除绑定锁定，职工可以重新绑定")), fiber.StatusSeeOther)
}
