package admin

import (
	"fmt"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"huzhu/handler"
	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/policy"
	"huzhu/service/staff"
)

type figure struct {
	Key, Source string
	Assumed     bool
}

type versionView struct {
	policy.Version
	Figures []figure
	Types   []model.ClaimType
	Assumed int
}

type policyData struct {
	Versions []versionView // newest first
	CanAdd   bool
	Draft    string // the text of the new-version form
	Today    model.Date
}

func (a *Admin) policy(c *fiber.Ctx, st staff.Staff) error {
	return a.policyPage(c, st, "", nil)
}

// policyPage renders the versions and, for staff who may add one, the form with body (the
// draft when empty) and err beside it.
func (a *Admin) policyPage(c *fiber.Ctx, st staff.Staff, body string, err *errs.Error) error {
	d := policyData{CanAdd: a.d.Rules != nil && st.Can(staff.EditPolicy), Draft: body, Today: model.DateOf(a.d.Now())}
	vs := a.d.Policy.Versions()
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		vv := versionView{Version: v, Types: model.ClaimTypes}
		for _, k := range policy.SourceKeys(v) {
			src := v.Sources[k]
			f := figure{Key: k, Source: src, Assumed: src == policy.SourceAssumed}
			if f.Assumed {
				vv.Assumed++
			}
			vv.Figures = append(vv.Figures, f)
		}
		d.Versions = append(d.Versions, vv)
	}
	if d.CanAdd && d.Draft == "" {
		draft, derr := a.d.Rules.DraftVersion()
		if derr != nil {
			return derr
		}
		d.Draft = draft
	}
	if err != nil {
		c.Status(handler.Status(err.Kind))
	}
	return a.render(c, "policy", view{Title: "政策版本", Nav: "policy", Staff: st, Flash: c.Query("flash"), Data: d, Err: err})
}

func (a *Admin) policyAdd(c *fiber.Ctx, st staff.Staff) error {
	if a.d.Rules == nil {
		return errReadOnly()
	}
	body := c.FormValue("body")
	v, err := a.d.Rules.AddVersion(c.UserContext(), a.actor(c, st), body)
	if ferr, ok := formError(err); ok {
		return a.policyPage(c, st, body, ferr)
	}
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/policy?flash=%s", prefix, url.QueryEscape(fmt.Sprintf(
		"已添加政策版本 %s（%s 起）：本服务器的结算、估算和公众号机器人已开始使用", v.Code, v.EffectiveFrom))), fiber.StatusSeeOther)
}
