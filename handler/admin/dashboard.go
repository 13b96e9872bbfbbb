package admin

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/claim"
	"huzhu/service/staff"
	"huzhu/service/stats"
)

type dashboardData struct {
	Overview stats.Overview
	Year     int
	Years    []int
	Unions   []stats.Group
	Types    []stats.Group
	AllTypes bool
	Series   stats.Series // by month of arrival: the plan's, or one union's
	Months   []chart      // paid money and payouts by month
	ByUnion  chart
	ByType   chart
	// CalendarGaps are this year or next when the holiday calendar has no official data for
	// them, so that staff add calendar.extra_days before promised dates go wrong.
	CalendarGaps []int
	// Claims are the supplementary claims per union and status the staff member may see.
	Claims        []claim.UnionCount
	ClaimStatuses []model.ClaimStatus
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
	all := st.Can(staff.ViewAllFigures)
	union := st.UnionCode // a union's staff see their own union whatever the URL says
	if all {
		union = strings.Clone(strings.TrimSpace(c.Query("union")))
	}
	series, err := a.d.Stats.Monthly(ctx, year, union)
	if err != nil {
		return err
	}
	b, err := a.d.Stats.Breakdown(ctx, year)
	if err != nil {
		return err
	}
	d := dashboardData{Overview: ov, Year: year, Unions: b.ByUnion, Types: b.ByClaimType, AllTypes: all, Series: series}
	if a.d.Calendar != nil {
		d.CalendarGaps = a.d.Calendar.Gaps(a.d.Now())
	}
	if !all {
		d.Unions = nil
		for _, g := range b.ByUnion {
			if g.Key == st.UnionCode {
				d.Unions = append(d.Unions, g)
			}
		}
		d.Types = nil
	}
	seen := map[int]bool{}
	for _, y := range append([]int{year}, yearsOf(ov)...) {
		if !seen[y] {
			seen[y] = true
			d.Years = append(d.Years, y)
		}
	}
	d.Months = monthCharts(series)
	d.ByUnion = groupChart("chart-by-union", fmt.Sprintf("%d 年各工会已到账金额（元）", year), d.Unions, 10)
	if all {
		d.ByType = groupChart("chart-by-type", fmt.Sprintf("%d 年各报销类型已到账金额（元）", year), d.Types, 0)
	}
	if a.d.Claims != nil {
		if d.Claims, err = a.d.Claims.Counts(ctx, a.actor(c, st)); err != nil {
			return err
		}
		d.ClaimStatuses = claim.CountedStatuses
	}
	return a.render(c, "dashboard", view{Title: "概览", Nav: "dashboard", Staff: st, Data: d})
}

func yearsOf(ov stats.Overview) []int {
	out := make([]int, 0, len(ov.Years))
	for _, y := range ov.Years {
		out = append(out, y.Year)
	}
	return out
}

// chart is a bar chart the dashboard template draws as inline SVG. The geometry is computed
// here, in whole SVG units, so the template only places it and the page needs no script: the
// console's CSP allows none inline, and no chart library is loaded.
type chart struct {
	ID         string
	Title      string // the chart's accessible name, also its <title>
	Width      int
	Height     int
	Horizontal bool
	Axis       chartLine
	Bars       []chartBar
}

type chartLine struct{ X1, Y1, X2, Y2 int }

// chartBar is one bar with its label (the month, the union), a short figure at its end and the
// full figures in its <title>, which browsers show as a tooltip and screen readers read.
type chartBar struct {
	X, Y, W, H int
	Label      string
	LX, LY     int
	Value      string
	VX, VY     int
	Tip        string
}

// Sizes of the charts, in SVG units (the CSS scales them down on narrow screens).
const (
	chartWidth   = 720 // horizontal charts
	columnWidth  = 520 // column charts, two side by side on a wide screen
	columnHeight = 240
	columnTop    = 22 // room for the figures above the bars
	columnBottom = 26 // room for the month labels
	rowHeight    = 28
	rowLabel     = 170 // width of the label column of horizontal charts
	rowFigure    = 110 // room for the figure after the longest bar
)

// monthCharts draws the series as two column charts: money arrived and payouts (人次).
func monthCharts(s stats.Series) []chart {
	who := "全市"
	if s.UnionName != "" {
		who = s.UnionName
	}
	paid := make([]int64, 12)
	count := make([]int64, 12)
	tips := make([]string, 12)
	for i, m := range s.Months {
		paid[i], count[i] = int64(m.PaidFen), m.Payouts
		tips[i] = fmt.Sprintf("%d 年 %d 月：到账 %s 元，%s 人次，受助 %s 人", s.Year, m.Month, m.PaidFen.YuanGrouped(), group(m.Payouts), group(m.Helped))
	}
	labels := make([]string, 12)
	for i := range labels {
		labels[i] = strconv.Itoa(i+1) + "月"
	}
	return []chart{
		columns("chart-month-paid", fmt.Sprintf("%s %d 年每月到账金额（元）", who, s.Year), labels, paid, tips, shortYuan),
		columns("chart-month-payouts", fmt.Sprintf("%s %d 年每月到账人次", who, s.Year), labels, count, tips, shortCount),
	}
}

// columns draws one vertical bar per value, scaled to the largest.
func columns(id, title string, labels []string, values []int64, tips []string, short func(int64) string) chart {
	c := chart{ID: id, Title: title, Width: columnWidth, Height: columnHeight}
	plot := columnHeight - columnTop - columnBottom
	base := columnTop + plot
	c.Axis = chartLine{X1: 0, Y1: base, X2: columnWidth, Y2: base}
	top := maxOf(values)
	slot := columnWidth / max(len(values), 1)
	w := slot * 3 / 5
	for i, v := range values {
		h := scale(v, top, plot)
		x := i*slot + (slot-w)/2
		b := chartBar{X: x, Y: base - h, W: w, H: h, Label: labels[i], LX: x + w/2, LY: columnHeight - 8, Tip: tips[i], VX: x + w/2, VY: base - h - 5}
		if v > 0 {
			b.Value = short(v)
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// groupChart draws groups (unions, claim types) as horizontal bars of money paid, the first n
// of them (all when n is 0).
func groupChart(id, title string, groups []stats.Group, n int) chart {
	if n > 0 && len(groups) > n {
		groups = groups[:n]
	}
	c := chart{ID: id, Title: title, Width: chartWidth, Height: max(len(groups), 1) * rowHeight, Horizontal: true}
	c.Axis = chartLine{X1: rowLabel, Y1: 0, X2: rowLabel, Y2: c.Height}
	values := make([]int64, len(groups))
	for i, g := range groups {
		values[i] = int64(g.PaidFen)
	}
	top, span := maxOf(values), chartWidth-rowLabel-rowFigure
	for i, g := range groups {
		w := scale(values[i], top, span)
		y := i * rowHeight
		c.Bars = append(c.Bars, chartBar{X: rowLabel, Y: y + 5, W: w, H: rowHeight - 10, Label: clipLabel(g.Label, 12), LX: rowLabel - 8, LY: y + rowHeight/2 + 5,
			Value: shortYuan(values[i]), VX: rowLabel + w + 6, VY: y + rowHeight/2 + 5,
			Tip: fmt.Sprintf("%s：到账 %s 元，%s 人次，受助 %s 人", g.Label, g.PaidFen.YuanGrouped(), group(g.Payouts), group(g.Helped))})
	}
	return c
}

func maxOf(values []int64) int64 {
	var m int64
	for _, v := range values {
		m = max(m, v)
	}
	return m
}

// scale maps v in [0, top] onto [0, span]; a value above zero gets at least one unit so that it
// shows.
func scale(v, top int64, span int) int {
	if v <= 0 || top <= 0 {
		return 0
	}
	return max(int(v*int64(span)/top), 1)
}

func clipLabel(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// shortYuan writes an amount of fen the way a chart label has room for: whole yuan below
// 10,000 yuan, then 万 and 亿 with one decimal, rounded half up, in integer arithmetic.
func shortYuan(fen int64) string {
	switch {
	case fen < 1_000_000: // below 1万元
		return group((fen + 50) / 100)
	case fen < 10_000_000_000: // below 1亿元
		return tenths((fen+50_000)/100_000) + "万"
	default:
		return tenths((fen+500_000_000)/1_000_000_000) + "亿"
	}
}

// shortCount writes a count like shortYuan: whole below 10,000, then 万 with one decimal.
func shortCount(n int64) string {
	if n < 10_000 {
		return group(n)
	}
	return tenths((n+500)/1000) + "万"
}

// tenths writes t tenths as "12.3", or "12" when the tenth is zero.
func tenths(t int64) string {
	if t%10 == 0 {
		return group(t / 10)
	}
	return group(t/10) + "." + strconv.FormatInt(t%10, 10)
}
