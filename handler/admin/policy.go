package admin

import (
	"huzhu/model"
	"huzhu/service/policy"
	"huzhu/service/staff"

	"github.com/gofiber/fiber/v2"
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

func (a *Admin) policy(c *fiber.Ctx, st staff.Staff) error {
	var out []versionView
	for _, v := range a.d.Policy.Versions() {
		vv := versionView{Version: v, Types: model.ClaimTypes}
		for _, k := range policy.SourceKeys(v) {
			src := v.Sources[k]
			f := figure{Key: k, Source: src, Assumed: src == policy.SourceAssumed}
			if f.Assumed {
				vv.Assumed++
			}
			vv.Figures = append(vv.Figures, f)
		}
		out = append(out, vv)
	}
	return a.render(c, "policy", view{Title: "政策版本", Nav: "policy", Staff: st, Data: out})
}
