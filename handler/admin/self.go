package admin

import (
	"encoding/base64"
	"html/template"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"huzhu/handler"
	"huzhu/service/errs"
	"huzhu/service/staff"
)

// A staff member's own account: the password they must change after an admin set it, the
// second factor they must enrol where the role needs one, and the code asked after the password.

// restrictedTo is the page st must finish before any other, "" when none.
func restrictedTo(st staff.Staff) string {
	switch {
	case st.MustChangePassword:
		return prefix + "/account/password"
	case st.MustEnrolTOTP:
		return prefix + "/account/totp"
	}
	return ""
}

// loginFailed renders page (the password or the code form) again with err's message, for the
// errors a person can act on; the answer is the same, byte for byte, whichever the cause.
func (a *Admin) loginFailed(c *fiber.Ctx, page, csrf string, err error) error {
	e, ok := errs.As(err)
	if !ok || e.Kind == errs.KindInternal {
		return err
	}
	c.Status(handler.Status(e.Kind))
	handler.RetryAfter(c, e)
	title := "登录"
	if page == "login_code" {
		title = "二次验证"
	}
	return a.render(c, page, view{Title: title, CSRF: csrf, Err: e, Data: safeNext(c.FormValue("next"))})
}

// loginCode takes the second factor after the password.
func (a *Admin) loginCode(c *fiber.Ctx) error {
	form, cookie := c.FormValue(csrfField), c.Cookies(loginCSRF)
	if form == "" || cookie == "" || form != cookie {
		return errs.New(errs.KindForbidden, "admin.csrf", "登录页面已过期").WithFix("请刷新登录页后重新登录")
	}
	s, err := a.d.Staff.SecondFactor(c.UserContext(), c.Cookies(pendingCookie), c.FormValue("code"), c.IP())
	if err != nil {
		if e, ok := errs.As(err); ok && e.Code == "staff.code_expired" {
			a.cookie(c, pendingCookie, "", -1)
			return a.loginFailed(c, "login", cookie, err)
		}
		return a.loginFailed(c, "login_code", cookie, err)
	}
	a.cookie(c, loginCSRF, "", -1)
	a.cookie(c, pendingCookie, "", -1)
	a.cookie(c, sessionCookie, s.Token, 0)
	return c.Redirect(safeNext(c.FormValue("next")), fiber.StatusSeeOther)
}

func (a *Admin) passwordPage(c *fiber.Ctx, st staff.Staff) error {
	return a.render(c, "password", view{Title: "修改密码", Staff: st})
}

// passwordChange sets the person's own password; the session is replaced, as every other
// session of the account ends.
func (a *Admin) passwordChange(c *fiber.Ctx, st staff.Staff) error {
	next := c.FormValue("password")
	if next != c.FormValue("password2") {
		c.Status(fiber.StatusBadRequest)
		return a.render(c, "password", view{Title: "修改密码", Staff: st, Err: errs.Invalid("password2", "两次输入的新密码不一样", "请重新输入")})
	}
	s, err := a.d.Staff.ChangePassword(c.UserContext(), st, c.Cookies(sessionCookie), c.FormValue("current_password"), next, c.IP())
	if e, ok := errs.As(err); ok && (e.Kind == errs.KindInvalid || e.Kind == errs.KindTooMany) {
		c.Status(handler.Status(e.Kind))
		return a.render(c, "password", view{Title: "修改密码", Staff: st, Err: e})
	}
	if err != nil {
		return err
	}
	a.cookie(c, sessionCookie, s.Token, 0)
	to := restrictedTo(s.Staff)
	if to == "" {
		to = prefix + "/"
	}
	return c.Redirect(to+"?flash="+url.QueryEscape("密码已修改，其他已登录的地方都已退出"), fiber.StatusSeeOther)
}

// totpView is what the enrolment page shows.
type totpView struct {
	QR     template.URL // data: URL of the PNG, which html/template would otherwise refuse
	Secret string
	Codes  []string // the recovery codes, once enrolment is done
}

// totpPage shows a new secret to scan. Staff who already have a second factor may replace it
// (a new phone): the old one works until the new one is confirmed.
func (a *Admin) totpPage(c *fiber.Ctx, st staff.Staff) error {
	return a.totpForm(c, st, nil)
}

func (a *Admin) totpForm(c *fiber.Ctx, st staff.Staff, e *errs.Error) error {
	en, err := a.d.Staff.BeginTOTP(c.UserContext(), st)
	if err != nil {
		return err
	}
	if e != nil {
		c.Status(handler.Status(e.Kind))
	}
	return a.render(c, "totp", view{Title: "设置二次验证", Staff: st, Err: e, Flash: c.Query("flash"), Data: totpView{
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(en.QR)), Secret: en.Secret}})
}

// totpConfirm turns the second factor on and shows the recovery codes, once.
func (a *Admin) totpConfirm(c *fiber.Ctx, st staff.Staff) error {
	s, codes, err := a.d.Staff.ConfirmTOTP(c.UserContext(), st, c.Cookies(sessionCookie), c.FormValue("code"), c.IP())
	if e, ok := errs.As(err); ok && e.Kind == errs.KindInvalid {
		return a.totpForm(c, st, e)
	}
	if err != nil {
		return err
	}
	a.cookie(c, sessionCookie, s.Token, 0)
	return a.render(c, "totp_codes", view{Title: "恢复码", Staff: s.Staff, Data: totpView{Codes: codes}})
}
