package admin

import (
	"huzhu/model"
	"huzhu/service/staff"
	"huzhu/service/stats"
	"strconv"

	"github.com/gofiber/fiber/v2"
)

type dashboardData struct {
	Overview stats.Overview
	Year     int
	Years    []int
	Unions   []stats.Group
	Types    []stats.Group
	AllTypes bool
}

func (a *Admin) dashboard(c *fiber.Ctx, st staff.Staff) error {
	ctx := c.UserContext()
	ov, err := a.d.Stats.Overview(ctx)
	if err != nil {
		return err
	}
	year := a.d.Now().In(model.Shanghai).Year()
	if y, err := strconv.Atoi(c.Query("year")); err == nil && y >= 2000 && y <= 2100 {
		year = y
	}
	b, err := a.d.Stats.Breakdown(ctx, year)
	if err != nil {
		return err
	}
	d := dashboardData{Overview: ov, Year: year, Unions: b.ByUnion, Types: b.ByClaimType, AllTypes: st.Can(staff.ViewAllFigures)}
	if !st.Can(staff.ViewAllFigures) {
		d.Unions = nil
		for _, g := range b.ByUnion {
			if g.Key == st.UnionCode {
				d.Unions = append(d.Unions, g)
			}
		}
		d.Types = nil
	}
	for _, y := range ov.Years {
		d.Years = append(d.Years, y.Year)
	}
	return a.render(c, "dashboard", view{Title: "概览", Nav: "dashboard", Staff: st, Data: d})
}
