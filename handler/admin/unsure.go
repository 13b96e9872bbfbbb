package admin

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/rulebook"
	"huzhu/service/staff"
)

// unsureData is the page 机器人没答好的问题.
type unsureData struct {
	Questions []model.BotQuestion
	Entries   []rulebook.EntryRow // entries a question can be attached to
	Terms     []string            // lexicon groups a saying can be added to
	Max       int
}

// unsure lists the questions the bot was not sure of, most asked first, each with a one-click
// form that adds it to an entry (preselected: the bot's closest guess) as a similar phrasing.
func (a *Admin) unsure(c *fiber.Ctx, st staff.Staff) error {
	return a.unsurePage(c, st, nil)
}

func (a *Admin) unsurePage(c *fiber.Ctx, st staff.Staff, ferr *errs.Error) error {
	if a.d.Rules == nil {
		return errReadOnly()
	}
	qs, err := a.d.Rules.UnsureQuestions(c.UserContext(), a.actor(c, st))
	if err != nil {
		return err
	}
	rows, err := a.d.Rules.Entries(c.UserContext())
	if err != nil {
		return err
	}
	d := unsureData{Questions: qs, Max: rulebook.MaxUnsure, Terms: a.d.Rules.LexiconTerms()}
	for _, r := range rows {
		if r.State != rulebook.StateRetired {
			d.Entries = append(d.Entries, r)
		}
	}
	return a.render(c, "unsure", view{Title: "机器人没答好的问题", Nav: "unsure", Staff: st, Flash: c.Query("flash"), Data: d, Err: ferr})
}

// unsureAct attaches a question to an entry (op teach, form field entry), adds a word of it to a
// lexicon group (op lexicon, fields term and saying) or sets it aside (op dismiss). A refused attachment (the phrasing is another entry's, the question was dealt with
// meanwhile) shows the page again with the reason.
func (a *Admin) unsureAct(c *fiber.Ctx, st staff.Staff) error {
	if a.d.Rules == nil {
		return errReadOnly()
	}
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("faq.question_not_found", "没有这个问题")
	}
	ctx := c.UserContext()
	var done string
	switch c.Params("op") {
	case "teach":
		entry := c.FormValue("entry")
		if entry == "" {
			return errs.Invalid("entry", "请选择要加到哪一条", "在问题右边的下拉框里选一条")
		}
		_, err = a.d.Rules.TeachPhrasing(ctx, a.actor(c, st), id, entry)
		done = "已加为条目 " + entry + " 的相似问法，机器人已开始用它回答"
	case "lexicon":
		term := c.FormValue("term")
		err = a.d.Rules.TeachSaying(ctx, a.actor(c, st), id, term, c.FormValue("saying"))
		done = "已加到词表“" + term + "”，机器人已开始这样理解"
	case "dismiss":
		err = a.d.Rules.DismissQuestion(ctx, a.actor(c, st), id)
		done = "已忽略"
	default:
		return errs.NotFound("route.not_found", "没有这个页面")
	}
	if ferr, ok := formError(err); ok {
		c.Status(fiber.StatusConflict)
		if ferr.Kind == errs.KindInvalid {
			c.Status(fiber.StatusBadRequest)
		}
		return a.unsurePage(c, st, ferr)
	}
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/bot-questions?flash=%s", prefix, url.QueryEscape(done)), fiber.StatusSeeOther)
}
