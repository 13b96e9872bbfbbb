package admin

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"huzhu/handler"
	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/staff"
)

func roleChoices() []choice {
	var out []choice
	for _, r := range []model.Role{model.RoleAdmin, model.RoleOperator, model.RoleUnion, model.RoleAuditor} {
		out = append(out, choice{string(r), r.Label()})
	}
	return out
}

// accountsData is the account list with the create form.
type accountsData struct {
	Accounts []staff.Account
	Roles    []choice
	Form     staff.NewUser // what the create form shows (after an error: what was sent)
	ErrField string
}

func (a *Admin) accounts(c *fiber.Ctx, st staff.Staff) error {
	return a.accountsPage(c, st, staff.NewUser{Role: model.RoleOperator}, nil)
}

func (a *Admin) accountsPage(c *fiber.Ctx, st staff.Staff, form staff.NewUser, err *errs.Error) error {
	rows, lerr := a.d.Staff.Accounts(c.UserContext(), a.actor(c, st))
	if lerr != nil {
		return lerr
	}
	form.Password = ""
	d := accountsData{Accounts: rows, Roles: roleChoices(), Form: form}
	if err != nil {
		d.ErrField = err.Field
		c.Status(handler.Status(err.Kind))
	}
	return a.render(c, "staff", view{Title: "账号", Nav: "staff", Staff: st, Flash: c.Query("flash"), Data: d, Err: err})
}

func (a *Admin) accountCreate(c *fiber.Ctx, st staff.Staff) error {
	u := staff.NewUser{Username: strings.TrimSpace(c.FormValue("username")), DisplayName: c.FormValue("display_name"),
		Role: model.Role(c.FormValue("role")), UnionCode: strings.TrimSpace(c.FormValue("union_code")), Password: c.FormValue("password")}
	if u.Role != model.RoleUnion {
		u.UnionCode = "" // the field stays on the form whatever the role chosen
	}
	row, err := a.d.Staff.CreateAccount(c.UserContext(), a.actor(c, st), u)
	if ferr, ok := formError(err); ok {
		return a.accountsPage(c, st, u, ferr)
	}
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/staff?flash=%s", prefix, url.QueryEscape(fmt.Sprintf("已创建账号 %s（%s），请把初始密码当面或电话告诉本人",
		row.Username, row.Role.Label()))), fiber.StatusSeeOther)
}

// accountData is one account's page.
type accountData struct {
	A        staff.Account
	Roles    []choice
	Self     bool
	ErrField string
}

func accountID(c *fiber.Ctx) (uint64, error) {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return 0, errs.NotFound("staff.not_found", "没有这个账号")
	}
	return id, nil
}

func (a *Admin) account(c *fiber.Ctx, st staff.Staff) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	return a.accountPage(c, st, id, nil, nil)
}

// accountPage renders account id; sent, after an error, replaces the saved role, union and name
// in the form.
func (a *Admin) accountPage(c *fiber.Ctx, st staff.Staff, id uint64, sent *staff.AccountChange, err *errs.Error) error {
	acc, lerr := a.d.Staff.Account(c.UserContext(), a.actor(c, st), id)
	if lerr != nil {
		return lerr
	}
	d := accountData{A: acc, Roles: roleChoices(), Self: acc.ID == st.ID}
	if sent != nil {
		d.A.DisplayName, d.A.Role, d.A.UnionCode = sent.DisplayName, sent.Role, sent.UnionCode
	}
	if err != nil {
		d.ErrField = err.Field
		c.Status(handler.Status(err.Kind))
	}
	return a.render(c, "staff_account", view{Title: "账号 " + acc.Username, Nav: "staff", Staff: st, Flash: c.Query("flash"), Data: d, Err: err})
}

func (a *Admin) accountChange(c *fiber.Ctx, st staff.Staff) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	ch := staff.AccountChange{DisplayName: c.FormValue("display_name"), Role: model.Role(c.FormValue("role")),
		UnionCode: strings.TrimSpace(c.FormValue("union_code"))}
	if ch.Role != model.RoleUnion {
		ch.UnionCode = ""
	}
	err = a.d.Staff.ChangeAccount(c.UserContext(), a.actor(c, st), id, ch)
	if ferr, ok := formError(err); ok {
		return a.accountPage(c, st, id, &ch, ferr)
	}
	if err != nil {
		return err
	}
	return a.accountDone(c, id, "已保存：下一次操作起按新的角色和工会生效")
}

// accountOp disables, enables or resets the password of an account.
func (a *Admin) accountOp(c *fiber.Ctx, st staff.Staff) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	var done string
	switch c.Params("op") {
	case "disable":
		err, done = a.d.Staff.SetDisabled(ctx, a.actor(c, st), id, true), "已停用：这个账号不能再登录，已登录的也立即退出"
	case "enable":
		err, done = a.d.Staff.SetDisabled(ctx, a.actor(c, st), id, false), "已启用"
	case "password":
		err, done = a.d.Staff.ResetPassword(ctx, a.actor(c, st), id, c.FormValue("password")), "已重设密码：这个账号已登录的地方都已退出，请把新密码当面或电话告诉本人"
	case "totp":
		err, done = a.d.Staff.ResetTOTP(ctx, a.actor(c, st), id), "已重置二次验证：这个账号已登录的地方都已退出，下次登录时需重新设置"
	default:
		return errs.NotFound("route.not_found", "没有这个页面")
	}
	if ferr, ok := formError(err); ok {
		return a.accountPage(c, st, id, nil, ferr)
	}
	if err != nil {
		return err
	}
	return a.accountDone(c, id, done)
}

func (a *Admin) accountDone(c *fiber.Ctx, id uint64, msg string) error {
	return c.Redirect(fmt.Sprintf("%s/staff/%d?flash=%s", prefix, id, url.QueryEscape(msg)), fiber.StatusSeeOther)
}
