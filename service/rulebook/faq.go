package rulebook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/bot"
	"huzhu/service/errs"
	"huzhu/service/staff"
)

// EntryState says where the text of an entry comes from.
type EntryState string

// Entry states.
const (
	StateShipped EntryState = "shipped" // as in config/faq.yaml
	StateEdited  EntryState = "edited"  // a shipped entry staff changed
	StateAdded   EntryState = "added"   // an entry staff added
	StateRetired EntryState = "retired" // retired by staff: the bot no longer answers with it
)

// Label returns the Chinese name of the state.
func (s EntryState) Label() string {
	switch s {
	case StateShipped:
		return "随附"
	case StateEdited:
		return "已修改"
	case StateAdded:
		return "新增"
	case StateRetired:
		return "已停用"
	}
	return string(s)
}

// EntryRow is an entry as the console lists and edits it.
type EntryRow struct {
	bot.Entry
	State     EntryState
	Shipped   bool   // config/faq.yaml has an entry with this id
	Required  bool   // the bot answers menu clicks or new followers with it: it cannot be retired
	Revision  string // send it back with an edit (see Service.SaveEntry)
	UpdatedBy string // "" for shipped text
	UpdatedAt time.Time
}

// faqState is the knowledge base as the database has it now.
type faqState struct {
	shipped *bot.Source
	rows    []model.FAQEntry        // in saved order
	saved   map[string]bot.Override // key → its override
	lexicon []bot.LexTerm           // staff's lexicon (row bot.LexiconKey), nil when none saved
	merged  *bot.Source
}

func loadFAQ(ctx context.Context, db *gorm.DB, shipped []byte) (faqState, error) {
	src, err := bot.ParseSource(shipped)
	if err != nil {
		return faqState{}, fmt.Errorf("shipped FAQ: %w", err)
	}
	st := faqState{shipped: src, saved: map[string]bot.Override{}, merged: src.Clone()}
	if err := db.WithContext(ctx).Order("id").Find(&st.rows).Error; err != nil {
		return faqState{}, fmt.Errorf("load FAQ entries: %w", err)
	}
	for _, r := range st.rows {
		if r.Key == bot.LexiconKey {
			lex, err := bot.ParseLexicon([]byte(r.Body))
			if err != nil {
				return faqState{}, fmt.Errorf("FAQ lexicon saved by %s: %w", r.UpdatedBy, err)
			}
			st.lexicon = lex
			st.merged.SetLexicon(lex)
			continue
		}
		o, err := bot.ParseOverride([]byte(r.Body))
		if err != nil {
			return faqState{}, fmt.Errorf("FAQ entry %s saved by %s: %w", r.Key, r.UpdatedBy, err)
		}
		if o.Entry.ID != r.Key {
			return faqState{}, fmt.Errorf("FAQ entry %s saved by %s: its id is %q", r.Key, r.UpdatedBy, o.Entry.ID)
		}
		st.saved[r.Key] = o
		st.merged.Apply(o)
	}
	return st, nil
}

// with returns the knowledge base as loadFAQ will read it once the row of id holds o (nil: once
// the row is deleted): the shipped file with the saved rows laid over it in saved order.
func (st faqState) with(id string, o *bot.Override) *bot.Source {
	src := st.shipped.Clone()
	if st.lexicon != nil {
		src.SetLexicon(st.lexicon)
	}
	found := false
	for _, r := range st.rows {
		switch {
		case r.Key == bot.LexiconKey:
		case r.Key != id:
			src.Apply(st.saved[r.Key])
		case o != nil:
			src.Apply(*o)
			found = true
		}
	}
	if o != nil && !found {
		src.Apply(*o)
	}
	return src
}

// row returns the entry id as the console shows it; false when there is none.
func (st faqState) row(id string) (EntryRow, bool) {
	shipped, isShipped := st.shipped.Entry(id)
	out := EntryRow{Shipped: isShipped, Required: slices.Contains(bot.Required(), id)}
	o, saved := st.saved[id]
	switch {
	case saved:
		out.Entry = o.Entry
		out.State = StateEdited
		if !isShipped {
			out.State = StateAdded
		}
		if o.Retired {
			out.State = StateRetired
		}
		for _, r := range st.rows {
			if r.Key == id {
				out.UpdatedBy, out.UpdatedAt = r.UpdatedBy, r.UpdatedAt
			}
		}
	case isShipped:
		out.Entry, out.State = shipped, StateShipped
		o = bot.Override{Entry: shipped}
	default:
		return EntryRow{}, false
	}
	out.Revision = o.Revision()
	return out, true
}

// Entries lists the knowledge base as the database has it: the entries in the order the bot has
// them (shipped order, then added ones), then the retired ones.
func (s *Service) Entries(ctx context.Context) ([]EntryRow, error) {
	st, err := loadFAQ(ctx, s.db, s.shipped.FAQ)
	if err != nil {
		return nil, err
	}
	var out, retired []EntryRow
	seen := map[string]bool{}
	add := func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		if r, ok := st.row(id); ok && r.State == StateRetired {
			retired = append(retired, r)
		} else if ok {
			out = append(out, r)
		}
	}
	for _, id := range st.merged.IDs() {
		add(id)
	}
	for _, r := range st.rows {
		add(r.Key)
	}
	return append(out, retired...), nil
}

// Entry returns one entry, NotFound when there is none with id.
func (s *Service) Entry(ctx context.Context, id string) (EntryRow, error) {
	st, err := loadFAQ(ctx, s.db, s.shipped.FAQ)
	if err != nil {
		return EntryRow{}, err
	}
	r, ok := st.row(id)
	if !ok {
		return EntryRow{}, entryNotFound()
	}
	return r, nil
}

func entryNotFound() error { return errs.NotFound("faq.not_found", "没有这个问答条目") }

// Limits on the text of an entry, beyond what bot.Source.Build checks: a form is not a file.
const (
	maxQuestion  = 200 // characters
	maxPhrasings = 60
	maxAnswer    = 2000 // characters; Build holds the filled answer to WeChat's byte limit
)

// normalize trims the entry's texts and drops empty phrasings, as a person typing in a form
// expects; what remains is checked by Build.
func normalize(e bot.Entry) (bot.Entry, error) {
	e.ID = strings.TrimSpace(e.ID)
	e.Kind = strings.TrimSpace(e.Kind)
	e.Question = strings.TrimSpace(e.Question)
	e.Answer = strings.TrimSpace(strings.ReplaceAll(e.Answer, "\r\n", "\n"))
	e.Action = strings.TrimSpace(e.Action)
	e.Dialogue = strings.TrimSpace(e.Dialogue)
	var ph []string
	for _, p := range e.Phrasings {
		if p = strings.TrimSpace(p); p != "" {
			ph = append(ph, p)
		}
	}
	e.Phrasings = ph
	switch {
	case utf8.RuneCountInString(e.Question) > maxQuestion:
		return e, errs.Invalidf("question", "请把标准问法写短一些", "标准问法最长 %d 个字", maxQuestion)
	case len(e.Phrasings) > maxPhrasings:
		return e, errs.Invalidf("phrasings", "留下最常见的说法即可", "相似问法最多 %d 条", maxPhrasings)
	case utf8.RuneCountInString(e.Answer) > maxAnswer:
		return e, errs.Invalidf("answer", "请把回答写短一些", "回答最长 %d 个字", maxAnswer)
	}
	for _, p := range e.Phrasings {
		if utf8.RuneCountInString(p) > maxQuestion {
			return e, errs.Invalidf("phrasings", "请把这条相似问法写短一些", "每条相似问法最长 %d 个字", maxQuestion)
		}
	}
	return e, nil
}

// SaveEntry saves e, a new entry when revision is "" and otherwise a change of the entry with
// e.ID as it was at revision, and swaps it into the running knowledge base. The whole knowledge
// base with e is checked exactly as the shipped file is (bot.Source.Build): Invalid, code
// faq.invalid, with Field the first field at fault and every problem in the message. It returns
// Conflict when a new entry's id is taken (faq.id_taken, also by a retired entry) or when the
// entry changed since revision (faq.stale), NotFound for an unknown entry, Forbidden unless st may
// staff.EditFAQ.
func (s *Service) SaveEntry(ctx context.Context, st model.Actor, e bot.Entry, revision string) (EntryRow, error) {
	if err := need(st, staff.EditFAQ); err != nil {
		return EntryRow{}, err
	}
	e, err := normalize(e)
	if err != nil {
		return EntryRow{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	state, err := loadFAQ(ctx, s.db, s.shipped.FAQ)
	if err != nil {
		return EntryRow{}, err
	}
	cur, exists := state.row(e.ID)
	action := "faq.edit"
	switch {
	case revision == "" && exists:
		msg := "条目编号“" + e.ID + "”已经有了"
		if cur.State == StateRetired {
			msg += "（是一条已停用的条目，可以在列表里启用它）"
		}
		return EntryRow{}, errs.New(errs.KindConflict, "faq.id_taken", msg).WithFix("换一个编号；要改已有的条目，请在列表里点它的编号")
	case revision == "" && e.ID == "new":
		return EntryRow{}, errs.Invalid("id", "条目编号不能用 new（后台的“新增”页面用了这个名字）", "换一个编号，例如 new_policy")
	case revision == "":
		action = "faq.add"
	case !exists:
		return EntryRow{}, entryNotFound()
	case cur.Revision != revision:
		return EntryRow{}, stale(cur)
	case cur.State == StateRetired:
		return EntryRow{}, errs.New(errs.KindConflict, "faq.retired", "这一条已停用，不能修改").WithFix("请先启用它，再修改")
	}
	o := bot.Override{Entry: e}
	if err := s.swapFAQ(ctx, st, state.with(e.ID, &o), o, action, nil); err != nil {
		return EntryRow{}, err
	}
	return s.Entry(ctx, e.ID)
}

// RetireEntry stops the bot answering with entry id (its pinned texts and its place among the
// popular questions go with it), keeping the text so that it can be enabled again. Conflict for
// an entry of bot.Required (faq.required), one retired already or changed since revision.
func (s *Service) RetireEntry(ctx context.Context, st model.Actor, id, revision string) error {
	return s.setRetired(ctx, st, id, revision, true)
}

// EnableEntry lets the bot answer with the retired entry id again, with its last text.
func (s *Service) EnableEntry(ctx context.Context, st model.Actor, id, revision string) error {
	return s.setRetired(ctx, st, id, revision, false)
}

func (s *Service) setRetired(ctx context.Context, st model.Actor, id, revision string, retire bool) error {
	if err := need(st, staff.EditFAQ); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	state, err := loadFAQ(ctx, s.db, s.shipped.FAQ)
	if err != nil {
		return err
	}
	cur, ok := state.row(id)
	switch {
	case !ok:
		return entryNotFound()
	case cur.Revision != revision:
		return stale(cur)
	case retire && cur.Required:
		return errs.New(errs.KindConflict, "faq.required", "公众号菜单或关注欢迎语要用这一条，不能停用").WithFix("可以修改它的问法和回答")
	case retire && cur.State == StateRetired:
		return errs.New(errs.KindConflict, "faq.unchanged", "这一条已经停用了").WithFix("请刷新页面")
	case !retire && cur.State != StateRetired:
		return errs.New(errs.KindConflict, "faq.unchanged", "这一条没有停用").WithFix("请刷新页面")
	}
	o := bot.Override{Entry: cur.Entry, Retired: retire}
	cand := state.with(id, &o)
	action := "faq.enable"
	if retire {
		action = "faq.retire"
	}
	return s.swapFAQ(ctx, st, cand, o, action, nil)
}

// RevertEntry gives the shipped entry id its shipped text back, dropping staff's edit or
// retirement. NotFound for an entry the shipped file does not have; Conflict when it has no
// edit or changed since revision.
func (s *Service) RevertEntry(ctx context.Context, st model.Actor, id, revision string) error {
	if err := need(st, staff.EditFAQ); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	state, err := loadFAQ(ctx, s.db, s.shipped.FAQ)
	if err != nil {
		return err
	}
	cur, ok := state.row(id)
	shipped, isShipped := state.shipped.Entry(id)
	switch {
	case !ok || !isShipped:
		return entryNotFound()
	case cur.Revision != revision:
		return stale(cur)
	case cur.State == StateShipped:
		return errs.New(errs.KindConflict, "faq.unchanged", "这一条用的已经是随附的内容").WithFix("请刷新页面")
	}
	return s.swapFAQ(ctx, st, state.with(id, nil), bot.Override{Entry: shipped}, "faq.revert", func(tx *gorm.DB) error {
		if err := tx.Where(&model.FAQEntry{Key: id}).Delete(&model.FAQEntry{}).Error; err != nil {
			return fmt.Errorf("delete FAQ entry %s: %w", id, err)
		}
		return nil
	})
}

func stale(cur EntryRow) error {
	who := cur.UpdatedBy
	if who == "" {
		who = "其他人"
	}
	return errs.New(errs.KindConflict, "faq.stale", "这一条刚被"+who+"改过，您的修改没有保存").WithFix("请重新打开这一条，在最新内容上修改")
}

// swapFAQ checks cand, then in one transaction stores o as the entry's row (or runs write instead,
// when not nil) and writes the audit row, then swaps the new knowledge base in. It is called with
// s.mu held.
func (s *Service) swapFAQ(ctx context.Context, st model.Actor, cand *bot.Source, o bot.Override, action string,
	write func(tx *gorm.DB) error) error {
	next, err := s.kb.Rebuild(cand, s.engine.Versions())
	if err != nil {
		return faqInvalid(err, o.Entry.ID)
	}
	body, err := bot.MarshalOverride(o)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if write == nil {
			write = func(tx *gorm.DB) error { return upsertEntry(tx, o.Entry.ID, string(body), st.Username, now) }
		}
		if err := write(tx); err != nil {
			return err
		}
		e := audit.By(st)
		e.Action, e.Target = action, "faq:"+o.Entry.ID
		e.Detail = map[string]any{"id": o.Entry.ID, "question": o.Entry.Question, "phrasings": len(o.Entry.Phrasings), "retired": o.Retired}
		return audit.Write(ctx, tx, now, e)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return errs.New(errs.KindConflict, "faq.stale", "这一条刚被别人保存过，您的修改没有保存").WithFix("请重新打开这一条再修改")
	}
	if err != nil {
		if _, ok := errs.As(err); ok {
			return err
		}
		return fmt.Errorf("save FAQ entry %s: %w", o.Entry.ID, err)
	}
	s.kb.Swap(next)
	s.log.Info("rulebook: knowledge base changed", "action", action, "entry", o.Entry.ID, "by", st.Username)
	return nil
}

func upsertEntry(tx *gorm.DB, id, body, by string, now time.Time) error {
	res := tx.Model(&model.FAQEntry{}).Where(&model.FAQEntry{Key: id}).Updates(map[string]any{"body": body, "updated_by": by, "updated_at": now})
	if res.Error != nil {
		return fmt.Errorf("update FAQ entry %s: %w", id, res.Error)
	}
	if res.RowsAffected > 0 {
		return nil
	}
	row := model.FAQEntry{Key: id, Body: body, UpdatedBy: by, CreatedAt: now, UpdatedAt: now}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("insert FAQ entry %s: %w", id, err)
	}
	return nil
}

// faqInvalid turns the problems Build found into one Invalid error for the console: Field is the
// first field of entry id at fault (else the first problem's), the message lists every problem.
func faqInvalid(err error, id string) error {
	ps := bot.Problems(err)
	if len(ps) == 0 {
		return fmt.Errorf("check knowledge base: %w", err)
	}
	field := ps[0].Field
	for _, p := range ps {
		if p.Entry == id {
			field = p.Field
			break
		}
	}
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Message
		if p.Entry != id && p.Entry != "" {
			msgs[i] = "条目 " + p.Entry + "：" + p.Message
		}
	}
	return &errs.Error{Kind: errs.KindInvalid, Code: "faq.invalid", Field: field,
		Message: "没有保存：" + strings.Join(msgs, "；"), Fix: "按提示改正后再保存；机器人仍按原来的内容回答"}
}

// SavedEntry is one entry staff changed in the console, as stored.
type SavedEntry struct {
	ID        string
	UpdatedBy string
	UpdatedAt time.Time
}

// SavedEntries lists the entries staff changed (edited, added or retired), by id. It reads the
// rows only, so it works when the knowledge base does not build with them.
func SavedEntries(ctx context.Context, db *gorm.DB) ([]SavedEntry, error) {
	var rows []model.FAQEntry
	if err := db.WithContext(ctx).Order(clause.OrderByColumn{Column: clause.Column{Name: "key"}}).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list saved FAQ entries: %w", err)
	}
	out := make([]SavedEntry, len(rows))
	for i, r := range rows {
		out[i] = SavedEntry{ID: r.Key, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt}
	}
	return out, nil
}

// DropSaved removes staff's saved change of entry id (back to the shipped text; an entry staff
// added is gone) with an audit row, without building the knowledge base: it is the way out when a
// release makes a saved change invalid and serve refuses to start. Running serve instances pick
// it up within their Watch interval. It returns NotFound faq.not_saved when id has no saved
// change, and Forbidden unless actor may EditFAQ.
func DropSaved(ctx context.Context, db *gorm.DB, id string, actor model.Actor, now time.Time) error {
	if err := need(actor, staff.EditFAQ); err != nil {
		return err
	}
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where(&model.FAQEntry{Key: id}).Delete(&model.FAQEntry{})
		if res.Error != nil {
			return fmt.Errorf("delete FAQ entry %s: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return errs.NotFound("faq.not_saved", "这一条没有在后台改过").WithFix("huzhu faq edits 列出改过的条目")
		}
		e := audit.By(actor)
		e.Action, e.Target, e.Detail = "faq.drop_saved", "faq:"+id, map[string]any{"id": id}
		return audit.Write(ctx, tx, now, e)
	})
}
