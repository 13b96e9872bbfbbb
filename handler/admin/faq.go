package admin

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"huzhu/handler"
	"huzhu/model"
	"huzhu/service/bot"
	"huzhu/service/errs"
	"huzhu/service/rulebook"
	"huzhu/service/staff"
)

// reTag strips the <a data-miniprogram-…> links of WeChat answers for the console.
var reTag = regexp.MustCompile(`<[^>]+>`)

// choice is one option of a select.
type choice struct{ Value, Label string }

func kindChoices() []choice {
	labels := map[string]string{bot.KindPlan: "计划本身", bot.KindRedirect: "相邻话题（指向别处）",
		bot.KindPersonal: "个人数据", bot.KindService: "问候、帮助、转人工"}
	var out []choice
	for _, k := range bot.Kinds() {
		out = append(out, choice{k, k + " · " + labels[k]})
	}
	return out
}

func actionChoices() []choice {
	labels := map[string]string{bot.ActionArrival: "查到账", bot.ActionYearTotal: "今年报了多少", bot.ActionRemaining: "还能报多少",
		bot.ActionNextDate: "下次到账日期", bot.ActionEstimate: "估算链接", bot.ActionBind: "绑定链接", bot.ActionMenu: "菜单"}
	out := []choice{{"", "无（直接用回答）"}}
	for _, a := range bot.Actions() {
		out = append(out, choice{a, a + " · " + labels[a]})
	}
	return out
}

func dialogueChoices() []choice {
	return []choice{{"", "无"}, {bot.DialogueEligibility, bot.DialogueEligibility + " · 回答后问几个问题判断能否参加"}}
}

type faqData struct {
	Q       string
	Band    string
	Hits    []bot.Hit
	Chosen  string // the entry answered, in BandAnswer
	Answer  string
	Entries []rulebook.EntryRow
	CanEdit bool
}

func (a *Admin) faq(c *fiber.Ctx, st staff.Staff) error {
	d := faqData{Q: strings.TrimSpace(c.Query("q")), CanEdit: a.d.Rules != nil && st.Can(staff.EditFAQ)}
	if d.Q != "" {
		if len([]rune(d.Q)) > 200 {
			return errs.Invalid("q", "问题太长了", "请控制在 200 字以内")
		}
		kb := a.d.FAQ.Snapshot()
		m := kb.Match(d.Q)
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
			d.Chosen = m.Hits[0].ID
			ans, _ := kb.Render(d.Chosen, model.DateOf(a.d.Now()))
			d.Answer = reTag.ReplaceAllString(ans, "")
		}
	}
	if a.d.Rules != nil {
		rows, err := a.d.Rules.Entries(c.UserContext())
		if err != nil {
			return err
		}
		d.Entries = rows
	} else {
		for _, e := range a.d.FAQ.Entries() {
			d.Entries = append(d.Entries, rulebook.EntryRow{Entry: e, State: rulebook.StateShipped})
		}
	}
	return a.render(c, "faq", view{Title: "问答", Nav: "faq", Staff: st, Flash: c.Query("flash"), Data: d})
}

// entryForm is the edit page of one entry.
type entryForm struct {
	Row        rulebook.EntryRow
	New        bool
	Phrasings  string // one per line
	Preview    string // the answer as the bot gives it today
	CanEdit    bool
	Kinds      []choice
	Actions    []choice
	Dialogues  []choice
	Holders    string
	ErrField   string
	Submitting bool // the form shows what was sent, not what is saved
}

func (a *Admin) entryPage(c *fiber.Ctx, st staff.Staff, f entryForm, err *errs.Error) error {
	f.CanEdit = a.d.Rules != nil && st.Can(staff.EditFAQ)
	f.Kinds, f.Actions, f.Dialogues = kindChoices(), actionChoices(), dialogueChoices()
	f.Holders = "{cap} {cap_prev} {policy_from} {bonus} {ratio_outpatient} {ratio_inpatient} {ratio_special} {deductible} {ladder} {ladder_min} {ladder_max} {example_outpatient} {hotline} {bind} {estimate_link}"
	if f.Phrasings == "" {
		f.Phrasings = strings.Join(f.Row.Phrasings, "\n")
	}
	if !f.New && f.Row.State != rulebook.StateRetired {
		if ans, ok := a.d.FAQ.Render(f.Row.ID, model.DateOf(a.d.Now())); ok {
			f.Preview = reTag.ReplaceAllString(ans, "")
		}
	}
	title := "问答条目 " + f.Row.ID
	if f.New {
		title = "新增问答条目"
	}
	if err != nil {
		f.ErrField = err.Field
		c.Status(handler.Status(err.Kind))
	}
	return a.render(c, "faq_entry", view{Title: title, Nav: "faq", Staff: st, Flash: c.Query("flash"), Data: f, Err: err})
}

func (a *Admin) faqNew(c *fiber.Ctx, st staff.Staff) error {
	if a.d.Rules == nil {
		return errReadOnly()
	}
	return a.entryPage(c, st, entryForm{New: true, Row: rulebook.EntryRow{Entry: bot.Entry{Kind: bot.KindPlan}}}, nil)
}

func (a *Admin) faqEntry(c *fiber.Ctx, st staff.Staff) error {
	id := c.Params("id")
	var row rulebook.EntryRow
	if a.d.Rules != nil {
		r, err := a.d.Rules.Entry(c.UserContext(), id)
		if err != nil {
			return err
		}
		row = r
	} else {
		e, ok := a.d.FAQ.Entry(id)
		if !ok {
			return errs.NotFound("faq.not_found", "没有这个问答条目")
		}
		row = rulebook.EntryRow{Entry: e, State: rulebook.StateShipped}
	}
	return a.entryPage(c, st, entryForm{Row: row}, nil)
}

// entryOf reads the entry form.
func entryOf(c *fiber.Ctx, id string) bot.Entry {
	return bot.Entry{ID: id, Kind: c.FormValue("kind"), Question: c.FormValue("question"),
		Phrasings: strings.Split(c.FormValue("phrasings"), "\n"), Answer: c.FormValue("answer"),
		Action: c.FormValue("action"), Dialogue: c.FormValue("dialogue")}
}

func (a *Admin) faqCreate(c *fiber.Ctx, st staff.Staff) error {
	return a.saveEntry(c, st, strings.TrimSpace(c.FormValue("id")), true)
}

func (a *Admin) faqSave(c *fiber.Ctx, st staff.Staff) error {
	return a.saveEntry(c, st, c.Params("id"), false)
}

func (a *Admin) saveEntry(c *fiber.Ctx, st staff.Staff, id string, isNew bool) error {
	if a.d.Rules == nil {
		return errReadOnly()
	}
	e := entryOf(c, id)
	rev := ""
	if !isNew {
		rev = c.FormValue("revision")
		if rev == "" {
			return errs.Invalid("revision", "表单缺少版本信息", "请重新打开这一条再修改")
		}
	}
	row, err := a.d.Rules.SaveEntry(c.UserContext(), a.actor(c, st), e, rev)
	if ferr, ok := formError(err); ok {
		f := entryForm{New: isNew, Row: rulebook.EntryRow{Entry: e, Revision: rev}, Phrasings: c.FormValue("phrasings"), Submitting: true}
		if !isNew {
			if cur, cerr := a.d.Rules.Entry(c.UserContext(), id); cerr == nil {
				f.Row.State, f.Row.Shipped, f.Row.Required, f.Row.UpdatedBy, f.Row.UpdatedAt = cur.State, cur.Shipped, cur.Required, cur.UpdatedBy, cur.UpdatedAt
			}
		}
		return a.entryPage(c, st, f, ferr)
	}
	if err != nil {
		return err
	}
	verb := "已保存"
	if isNew {
		verb = "已新增"
	}
	return c.Redirect(fmt.Sprintf("%s/faq/%s?flash=%s", prefix, url.PathEscape(row.ID),
		url.QueryEscape(verb+"：公众号机器人和本后台已开始使用新内容")), fiber.StatusSeeOther)
}

// faqState retires, enables or reverts an entry.
func (a *Admin) faqState(c *fiber.Ctx, st staff.Staff) error {
	if a.d.Rules == nil {
		return errReadOnly()
	}
	id, rev := c.Params("id"), c.FormValue("revision")
	ctx := c.UserContext()
	var err error
	var done string
	switch c.Params("op") {
	case "retire":
		err, done = a.d.Rules.RetireEntry(ctx, a.actor(c, st), id, rev), "已停用：机器人不再用这一条回答"
	case "enable":
		err, done = a.d.Rules.EnableEntry(ctx, a.actor(c, st), id, rev), "已启用"
	case "revert":
		err, done = a.d.Rules.RevertEntry(ctx, a.actor(c, st), id, rev), "已恢复为随附的内容"
	default:
		return errs.NotFound("route.not_found", "没有这个页面")
	}
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("%s/faq/%s?flash=%s", prefix, url.PathEscape(id), url.QueryEscape(done)), fiber.StatusSeeOther)
}

func errReadOnly() error {
	return errs.New(errs.KindUnavailable, "admin.read_only", "这个后台只能查看，不能修改").WithFix("请在正式的管理后台修改")
}

// formError returns the error to show beside a form: bad input or a conflict the person can
// resolve there. Other errors go to the error page.
func formError(err error) (*errs.Error, bool) {
	e, ok := errs.As(err)
	if !ok || (e.Kind != errs.KindInvalid && e.Kind != errs.KindConflict) {
		return nil, false
	}
	return e, true
}
