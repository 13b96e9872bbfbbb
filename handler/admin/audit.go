package admin

import (
	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/staff"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

func (a *Admin) auditLog(c *fiber.Ctx, st staff.Staff) error {
	f := audit.Filter{Actor: strings.TrimSpace(c.Query("actor")), Action: strings.TrimSpace(c.Query("action")), Limit: 100}
	if d, err := time.ParseInLocation(time.DateOnly, c.Query("from"), model.Shanghai); err == nil {
		f.From = d
	}
	if d, err := time.ParseInLocation(time.DateOnly, c.Query("to"), model.Shanghai); err == nil {
		f.To = d.AddDate(0, 0, 1)
	}
	page := 1
	if p, err := strconv.Atoi(c.Query("page")); err == nil && p > 1 && p < 100000 {
		page = p
		f.Offset = (p - 1) * f.Limit
	}
	rows, total, err := a.d.Staff.AuditLog(c.UserContext(), st, f)
	if err != nil {
		return err
	}
	q := url.Values{"actor": {f.Actor}, "action": {f.Action}, "from": {c.Query("from")}, "to": {c.Query("to")}}
	d := struct {
		Rows                    []model.AuditLog
		Total                   int64
		Actor, Action, From, To string
		Prev, Next              string
	}{Rows: rows, Total: total, Actor: f.Actor, Action: f.Action, From: c.Query("from"), To: c.Query("to")}
	if page > 1 {
		q.Set("page", strconv.Itoa(page-1))
		d.Prev = prefix + "/audit?" + q.Encode()
	}
	if int64(f.Offset+len(rows)) < total {
		q.Set("page", strconv.Itoa(page+1))
		d.Next = prefix + "/audit?" + q.Encode()
	}
	return a.render(c, "audit", view{Title: "审计日志", Nav: "audit", Staff: st, Data: d})
}
