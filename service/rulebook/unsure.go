package rulebook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/bot"
	"huzhu/service/errs"
	"huzhu/service/staff"
)

// MaxUnsure is how many open questions UnsureQuestions returns at most.
const MaxUnsure = 200

// UnsureQuestions lists the open questions the bot was not sure of (bot_questions: masked,
// counted, one per normalised text), most asked first, at most MaxUnsure. Forbidden unless st may
// staff.EditFAQ (市总 admin): only they can act on them.
func (s *Service) UnsureQuestions(ctx context.Context, st model.Actor) ([]model.BotQuestion, error) {
	if err := need(st, staff.EditFAQ); err != nil {
		return nil, err
	}
	var out []model.BotQuestion
	err := s.db.WithContext(ctx).Where("resolved = ?", false).Order("count DESC, last_seen DESC, id").Limit(MaxUnsure).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list unsure questions: %w", err)
	}
	return out, nil
}

// openQuestion loads the open question id: NotFound faq.question_not_found when there is none,
// Conflict faq.question_resolved when staff already dealt with it.
func (s *Service) openQuestion(ctx context.Context, id uint64) (model.BotQuestion, error) {
	var q model.BotQuestion
	err := s.db.WithContext(ctx).Take(&q, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return q, errs.NotFound("faq.question_not_found", "没有这个问题")
	}
	if err != nil {
		return q, fmt.Errorf("load unsure question %d: %w", id, err)
	}
	if q.Resolved {
		return q, errs.New(errs.KindConflict, "faq.question_resolved", "这个问题已经处理过了（"+q.ResolvedBy+"）").
			WithFix("刷新页面看最新的列表")
	}
	return q, nil
}

// TeachPhrasing attaches the open question id to entry entryID as a new similar phrasing, through
// SaveEntry: the whole knowledge base with it is checked (Invalid faq.invalid when, say, another
// entry has the phrasing already), the change is audited and swapped in, so the bot's next answer
// uses it. The question is then marked resolved. Errors: those of SaveEntry, NotFound for an
// unknown question or entry, Conflict for a question already dealt with.
func (s *Service) TeachPhrasing(ctx context.Context, st model.Actor, id uint64, entryID string) (EntryRow, error) {
	if err := need(st, staff.EditFAQ); err != nil {
		return EntryRow{}, err
	}
	q, err := s.openQuestion(ctx, id)
	if err != nil {
		return EntryRow{}, err
	}
	row, err := s.Entry(ctx, entryID)
	if err != nil {
		return EntryRow{}, err
	}
	if row.State == StateRetired {
		return EntryRow{}, errs.New(errs.KindConflict, "faq.retired", "条目 "+entryID+" 已停用，不能加问法").WithFix("请选一条在用的条目，或先启用它")
	}
	e := row.Entry
	e.Phrasings = append(slices.Clone(e.Phrasings), q.Text)
	saved, err := s.SaveEntry(ctx, st, e, row.Revision)
	if err != nil {
		return EntryRow{}, err
	}
	if err := s.resolve(ctx, st, q, "phrasing:"+entryID); err != nil {
		return EntryRow{}, err
	}
	return saved, nil
}

// LexiconTerms returns the terms of the running lexicon (shipped, or as staff saved it), the
// groups a saying can be added to.
func (s *Service) LexiconTerms() []string {
	var out []string
	for _, t := range s.kb.Source().Lexicon() {
		out = append(out, t.Term)
	}
	return out
}

// TeachSaying adds saying, a way workers say term that the open question id showed (a word of
// it, not the whole question), to the lexicon group of term, and marks the question resolved.
// The whole knowledge base with the new lexicon is checked as the shipped file is (Invalid
// faq.invalid, field lexicon, when the saying is too long or another group's), the lexicon is
// saved as one row (key bot.LexiconKey, which `huzhu faq revert _lexicon` drops), audited and
// swapped in, so the bot's next answer reads the saying as term. Invalid term for a term the
// lexicon has not; NotFound and Conflict for the question as TeachPhrasing.
func (s *Service) TeachSaying(ctx context.Context, st model.Actor, id uint64, term, saying string) error {
	if err := need(st, staff.EditFAQ); err != nil {
		return err
	}
	saying = strings.TrimSpace(saying)
	if saying == "" {
		return errs.Invalid("saying", "请填写口语说法", "从问题里挑出职工的说法，例如“封顶线”")
	}
	q, err := s.openQuestion(ctx, id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	state, err := loadFAQ(ctx, s.db, s.shipped.FAQ)
	if err != nil {
		return err
	}
	lex := state.merged.Lexicon()
	i := slices.IndexFunc(lex, func(t bot.LexTerm) bool { return t.Term == term })
	if i < 0 {
		return errs.Invalid("term", "词表里没有“"+term+"”这一组", "从下拉框里选一组")
	}
	lex[i].Say = append(lex[i].Say, saying)
	cand := state.with("", nil)
	cand.SetLexicon(lex)
	body, err := bot.MarshalLexicon(lex)
	if err != nil {
		return err
	}
	o := bot.Override{Entry: bot.Entry{ID: bot.LexiconKey, Question: term + " ← " + saying}}
	err = s.swapFAQ(ctx, st, cand, o, "faq.lexicon", func(tx *gorm.DB) error {
		return upsertEntry(tx, bot.LexiconKey, string(body), st.Username, s.now())
	})
	if err != nil {
		return err
	}
	return s.resolve(ctx, st, q, "lexicon:"+term)
}

// DismissQuestion marks the open question id as dealt with without teaching the bot (chit-chat,
// a question the plan does not cover), audited. NotFound or Conflict as TeachPhrasing.
func (s *Service) DismissQuestion(ctx context.Context, st model.Actor, id uint64) error {
	if err := need(st, staff.EditFAQ); err != nil {
		return err
	}
	q, err := s.openQuestion(ctx, id)
	if err != nil {
		return err
	}
	return s.resolve(ctx, st, q, "dismissed")
}

// resolve marks q resolved with how, and audits it, in one transaction; a question resolved by
// someone else meanwhile is Conflict faq.question_resolved.
func (s *Service) resolve(ctx context.Context, st model.Actor, q model.BotQuestion, how string) error {
	now := s.now()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&model.BotQuestion{}).Where("id = ? AND resolved = ?", q.ID, false).
			Updates(map[string]any{"resolved": true, "resolved_at": now, "resolved_by": st.Username, "resolution": how})
		if res.Error != nil {
			return fmt.Errorf("resolve unsure question %d: %w", q.ID, res.Error)
		}
		if res.RowsAffected == 0 {
			return errs.New(errs.KindConflict, "faq.question_resolved", "这个问题刚被别人处理过了").WithFix("刷新页面看最新的列表")
		}
		e := audit.By(st)
		e.Action, e.Target, e.Detail = "faq.question", fmt.Sprintf("bot_question:%d", q.ID), map[string]any{"resolution": how, "count": q.Count}
		return audit.Write(ctx, tx, now, e)
	})
}
