package admin

import (
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/staff"
)

func (a *Admin) auditLog(c *fiber.Ctx, st staff.Staff) error {
	q := staff.AuditQuery{Filter: audit.Filter{Actor: strings.Clone(strings.TrimSpace(c.Query("actor"))),
		Action: strings.Clone(strings.TrimSpace(c.Query("action"))), Limit: 100}, Page: pageParam(c), Sort: strings.Clone(c.Query("sort"))}
	from, to := strings.Clone(c.Query("from")), strings.Clone(c.Query("to"))
	if d, err := time.ParseInLocation(time.DateOnly, from, model.Shanghai); err == nil {
		q.Filter.From = d
	} else {
		from = ""
	}
	if d, err := time.ParseInLocation(time.DateOnly, to, model.Shanghai); err == nil {
		q.Filter.To = d.AddDate(0, 0, 1)
	} else {
		to = ""
	}
	l, err := a.d.Staff.SearchAudit(c.UserContext(), st, q)
	if err != nil {
		return err
	}
	filters := url.Values{"actor": {q.Filter.Actor}, "action": {q.Filter.Action}, "from": {from}, "to": {to}}
	return a.render(c, "audit", view{Title: "审计日志", Nav: "audit", Staff: st, Data: struct {
		List                    staff.AuditList
		Actor, Action, From, To string
		Links                   listLinks
	}{l, q.Filter.Actor, q.Filter.Action, from, to, newListLinks(prefix+"/audit", filters, l.Page, "at", "actor", "action", "outcome")}})
}
