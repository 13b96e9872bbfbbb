package admin

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/staff"
)

// listLinks are the URLs of a paged, sortable table: the neighbouring pages, and per sortable
// column the URL that sorts by it (ascending, or descending when it is the ascending sort
// already) with the mark of the current sort.
type listLinks struct {
	Prev, Next string
	Sort       map[string]string
	Mark       map[string]string
}

// newListLinks builds the links of a table at path whose filters are q; keys are the sortable
// columns. Changing the sort goes back to the first page.
func newListLinks(path string, q url.Values, p staff.Paging, keys ...string) listLinks {
	link := func(sort string, page int) string {
		v := url.Values{}
		for k, vs := range q {
			if len(vs) > 0 && vs[0] != "" {
				v.Set(k, vs[0])
			}
		}
		if sort != "" {
			v.Set("sort", sort)
		}
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	l := listLinks{Sort: map[string]string{}, Mark: map[string]string{}}
	if n := p.Prev(); n > 0 {
		l.Prev = link(p.Sort, n)
	}
	if n := p.Next(); n > 0 {
		l.Next = link(p.Sort, n)
	}
	for _, k := range keys {
		switch p.Sort {
		case k:
			l.Sort[k], l.Mark[k] = link("-"+k, 1), "▲"
		case "-" + k:
			l.Sort[k], l.Mark[k] = link(k, 1), "▼"
		default:
			l.Sort[k] = link(k, 1)
		}
	}
	return l
}

// pageParam reads the page number; anything that is not a page number is the first page.
func pageParam(c *fiber.Ctx) int {
	n, err := strconv.Atoi(c.Query("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func (a *Admin) members(c *fiber.Ctx, st staff.Staff) error {
	q := strings.Clone(strings.TrimSpace(c.Query("q")))
	sort := strings.Clone(c.Query("sort"))
	var list staff.MemberList
	// Staff who see every union search first: listing millions of members helps nobody.
	searched := q != "" || st.Role == model.RoleUnion
	if searched {
		var err error
		if list, err = a.d.Staff.SearchMembers(c.UserContext(), st, staff.MemberQuery{Name: q, Page: pageParam(c), Sort: sort}); err != nil {
			return err
		}
	}
	return a.render(c, "members", view{Title: "会员", Nav: "members", Staff: st, Data: struct {
		Q        string
		Searched bool
		List     staff.MemberList
		Links    listLinks
	}{q, searched, list, newListLinks(prefix+"/members", url.Values{"q": {q}}, list.Page, "id", "name", "union", "bound")}})
}

func (a *Admin) member(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("member.not_found", "没有找到这位会员")
	}
	d, err := a.d.Staff.MemberDetail(c.UserContext(), st, id, staff.PayoutQuery{Page: pageParam(c), Sort: strings.Clone(c.Query("sort"))})
	if err != nil {
		return err
	}
	return a.render(c, "member", view{Title: "会员详情", Nav: "members", Staff: st, Flash: c.Query("flash"), Data: struct {
		staff.MemberDetail
		CanUnbind bool
		Links     listLinks
	}{d, st.Can(staff.UnbindMember), newListLinks(fmt.Sprintf("%s/members/%d", prefix, id), nil, d.Payouts.Page,
		"bill_date", "year", "period", "amount", "status", "arrived")}})
}

func (a *Admin) unbind(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("member.not_found", "没有找到这位会员")
	}
	if err := a.d.Members.UnbindMember(c.UserContext(), a.actor(c, st), id); err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/members/%d?flash=%s", prefix, id, url.QueryEscape("已解除微信绑定")), fiber.StatusSeeOther)
}
