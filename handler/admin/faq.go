package admin

import (
	"huzhu/model"
	"huzhu/service/bot"
	"huzhu/service/errs"
	"huzhu/service/staff"
	"strings"

	"github.com/gofiber/fiber/v2"
)

type faqData struct {
	Q      string
	Band   string
	Hits   []bot.Hit
	Answer string
}

func (a *Admin) faq(c *fiber.Ctx, st staff.Staff) error {
	d := faqData{Q: strings.TrimSpace(c.Query("q"))}
	if d.Q != "" {
		if len([]rune(d.Q)) > 200 {
			return errs.Invalid("q", "问题太长了", "请控制在 200 字以内")
		}
		m := a.d.FAQ.Match(d.Q)
		d.Hits = m.Hits
		switch m.Band {
		case bot.BandAnswer:
			d.Band = "直接回答"
		case bot.BandSuggest:
			d.Band = "给出相近问题"
		default:
			d.Band = "无法回答（转人工 12351）"
		}
		if m.Band == bot.BandAnswer && len(m.Hits) > 0 {
			d.Answer, _ = a.d.FAQ.Render(m.Hits[0].ID, model.DateOf(a.d.Now()))
		}
	}
	return a.render(c, "faq", view{Title: "问答", Nav: "faq", Staff: st, Data: d})
}
