package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/payout"
)

// State is the part of the kv store the bot uses: conversations and the de-duplication of
// WeChat's retries. kv.Store (Redis in production) satisfies it.
type State interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	SetNX(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error)
	Del(ctx context.Context, keys ...string) error
}

// Figures gives a worker's money figures of a year: payout.Service, so that the bot tells the
// same figures as the mini-program.
type Figures interface {
	Year(ctx context.Context, memberID uint64, year int) (payout.Totals, error)
}

// Menu click keys the official account's menu sends (see `huzhu wechat menu`).
const (
	MenuKeyArrival  = "MY_ARRIVAL" // 查到账
	MenuKeyEstimate = "ESTIMATE"   // 估算
	MenuKeyFAQ      = "FAQ"        // 常见问题
	MenuKeyHuman    = "HUMAN"      // 转人工
)

// Defaults of Options.
const (
	DefaultDialogueTTL = 10 * time.Minute
	DefaultDedupeTTL   = 5 * time.Minute
	DefaultDedupeWait  = 3 * time.Second
	DefaultKeyPrefix   = "bot:"
)

// Options configures a Bot; zero fields take the defaults.
type Options struct {
	// DialogueTTL is how long an unanswered dialogue (eligibility questions, numbered choices)
	// is kept.
	DialogueTTL time.Duration
	// DedupeTTL is how long a message id is remembered, with its reply; WeChat retries within
	// about 15 seconds.
	DedupeTTL time.Duration
	// DedupeWait is how long a retry that arrives while the first attempt is still being
	// answered waits for that answer.
	DedupeWait time.Duration
	// KeyPrefix is put before every key the bot stores.
	KeyPrefix string
}

// Message is one message or event pushed to the official account, as the callback parsed it.
type Message struct {
	OpenID     string // FromUserName
	UnionID    string // when WeChat sends one
	MsgID      int64  // 0 for events
	CreateTime int64
	Type       string // text, voice, image, event…
	Text       string // the text, or a voice message's recognition
	Event      string // subscribe, unsubscribe, CLICK… (for Type event)
	EventKey   string
}

// Reply is the bot's answer; an empty Text means no reply.
type Reply struct {
	Text string
}

// Bot answers workers. It is safe for concurrent use.
type Bot struct {
	kb      *KB
	cal     *calendar.Calendar
	db      *gorm.DB
	figures Figures
	state   State
	opts    Options
	now     func() time.Time
	log     *slog.Logger
}

// New returns a Bot over the knowledge base, the settlement calendar, the database (read for
// personal answers; WeChatAccount follow state written), the workers' money figures and the
// state store. now and log may be nil (time.Now, discard).
func New(kb *KB, cal *calendar.Calendar, db *gorm.DB, figures Figures, state State, opts Options, now func() time.Time, log *slog.Logger) *Bot {
	if opts.DialogueTTL <= 0 {
		opts.DialogueTTL = DefaultDialogueTTL
	}
	if opts.DedupeTTL <= 0 {
		opts.DedupeTTL = DefaultDedupeTTL
	}
	if opts.DedupeWait <= 0 {
		opts.DedupeWait = DefaultDedupeWait
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bot{kb: kb, cal: cal, db: db, figures: figures, state: state, opts: opts, now: now, log: log}
}

// KB returns the bot's knowledge base.
func (b *Bot) KB() *KB { return b.kb }

// user is who is asking. Bound workers are looked up lazily: most questions need no database.
type user struct {
	kb        *KB    // the knowledge base as it was when the message came: one answer, one version
	key       string // conversation key
	openID    string // official-account openid; "" in the terminal chat
	memberID  uint64
	accountID uint64
	resolved  bool
}

// member returns the bound member of u, 0 when not bound.
func (b *Bot) member(ctx context.Context, u *user) (uint64, error) {
	if u.resolved {
		return u.memberID, nil
	}
	a, _, err := accountByOpenID(ctx, b.db, u.openID)
	if err != nil {
		return 0, err
	}
	u.resolved, u.memberID, u.accountID = true, a.MemberID, a.ID
	return u.memberID, nil
}

// Stored values of the de-duplication key: a first byte saying whether the reply is known yet.
const (
	markPending = 'P'
	markReply   = 'R'
)

// Handle answers one message from the official account. WeChat retries a message it got no
// answer to within 5 seconds up to three times: the same MsgId (FromUserName+CreateTime+Event
// for events) is handled once, and a retry gets the first attempt's reply. When the state store
// fails, the message is answered without de-duplication or dialogue state rather than not at
// all. It returns an error only when the answer could not be computed (the database failed);
// the retry then computes it afresh.
func (b *Bot) Handle(ctx context.Context, m Message) (Reply, error) {
	key := b.opts.KeyPrefix + "seen:" + dedupeID(m)
	first, err := b.state.SetNX(ctx, key, []byte{markPending}, b.opts.DedupeTTL)
	if err != nil {
		b.log.Warn("bot: de-duplication unavailable", "err", err)
		return b.dispatch(ctx, m)
	}
	if !first {
		return b.awaitReply(ctx, key), nil
	}
	r, err := b.dispatch(ctx, m)
	if err != nil {
		_ = b.state.Del(context.WithoutCancel(ctx), key)
		return Reply{}, err
	}
	if err := b.state.Set(ctx, key, append([]byte{markReply}, r.Text...), b.opts.DedupeTTL); err != nil {
		b.log.Warn("bot: cache reply for retries", "err", err)
	}
	return r, nil
}

// dedupeID is the id WeChat keeps across retries of one push.
func dedupeID(m Message) string {
	if m.MsgID != 0 {
		return "m:" + strconv.FormatInt(m.MsgID, 10)
	}
	return "e:" + m.OpenID + ":" + strconv.FormatInt(m.CreateTime, 10) + ":" + m.Event + ":" + m.EventKey
}

// awaitReply returns the reply the first attempt stored, waiting for it at most DedupeWait; if it
// never comes the retry gets no reply (WeChat then shows nothing rather than a second answer).
func (b *Bot) awaitReply(ctx context.Context, key string) Reply {
	deadline := time.Now().Add(b.opts.DedupeWait)
	for {
		v, ok, err := b.state.Get(ctx, key)
		if err == nil && ok && len(v) > 0 && v[0] == markReply {
			return Reply{Text: string(v[1:])}
		}
		if err != nil || !ok || time.Now().After(deadline) {
			return Reply{}
		}
		select {
		case <-ctx.Done():
			return Reply{}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// dispatch answers a message by its type.
func (b *Bot) dispatch(ctx context.Context, m Message) (Reply, error) {
	u := &user{kb: b.kb.Snapshot(), key: "oa:" + m.OpenID, openID: m.OpenID}
	switch strings.ToLower(m.Type) {
	case "text":
		return b.answer(ctx, u, m.Text)
	case "voice":
		if strings.TrimSpace(m.Text) != "" {
			return b.answer(ctx, u, m.Text)
		}
		return Reply{Text: "没听清您的语音，请直接打字提问，比如“我能参加吗”。"}, nil
	case "event":
		return b.event(ctx, u, m)
	}
	return Reply{Text: "目前只能看懂文字消息，请直接打字提问，比如“我能参加吗”“我的钱到了吗”。"}, nil
}

// event handles follow, unfollow and menu clicks; other events get no reply.
func (b *Bot) event(ctx context.Context, u *user, m Message) (Reply, error) {
	switch strings.ToLower(m.Event) {
	case "subscribe":
		id, err := follow(ctx, b.db, m.OpenID, m.UnionID, b.now())
		if err != nil {
			return Reply{}, fmt.Errorf("subscribe: %w", err)
		}
		b.log.Info("bot: follow", "account_id", id)
		return b.finish(b.welcome(u)), nil
	case "unsubscribe":
		id, found, err := unfollow(ctx, b.db, m.OpenID, b.now())
		if err != nil {
			return Reply{}, fmt.Errorf("unsubscribe: %w", err)
		}
		if found {
			b.log.Info("bot: unfollow", "account_id", id)
		}
		return Reply{}, nil
	case "click":
		switch m.EventKey {
		case MenuKeyArrival:
			return b.entry(ctx, u, "my_arrival", "")
		case MenuKeyEstimate:
			return b.entry(ctx, u, "estimate", "")
		case MenuKeyFAQ:
			return b.common(ctx, u)
		case MenuKeyHuman:
			return b.entry(ctx, u, "human", "")
		}
	}
	return Reply{}, nil
}

// welcome is the reply to a new follower: what the bot can do and the bind link.
func (b *Bot) welcome(u *user) string {
	day := model.DateOf(b.now())
	help, _ := u.kb.Render("help", day)
	bind, _ := u.kb.Render("bind", day)
	return "感谢关注！这里可以了解北京市总工会的在职职工医疗互助保障计划（暖·互助“二次报销”）。\n\n" + help + "\n\n" + bind
}

// Chat answers one line of the terminal chat (`huzhu chat`) with the same engine as WeChat:
// session keys the conversation state, memberID (0: none) plays a bound worker.
func (b *Bot) Chat(ctx context.Context, session string, memberID uint64, text string) (string, error) {
	u := &user{kb: b.kb.Snapshot(), key: "chat:" + session, memberID: memberID, resolved: true}
	r, err := b.answer(ctx, u, text)
	return r.Text, err
}

// conv is the stored conversation of one user: a running eligibility dialogue, or numbered
// choices offered ("您是不是想问").
type conv struct {
	Dialogue *dialogueState `json:"d,omitempty"`
	Picks    []string       `json:"p,omitempty"`
}

func (b *Bot) convKey(u *user) string { return b.opts.KeyPrefix + "conv:" + u.key }

// loadConv returns the user's conversation; a store failure is logged and read as none.
func (b *Bot) loadConv(ctx context.Context, u *user) conv {
	var c conv
	v, ok, err := b.state.Get(ctx, b.convKey(u))
	if err != nil {
		b.log.Warn("bot: load conversation", "err", err)
		return c
	}
	if ok {
		_ = json.Unmarshal(v, &c) // a value from an older version reads as no conversation
	}
	return c
}

func (b *Bot) saveConv(ctx context.Context, u *user, c conv) {
	var err error
	if c.Dialogue == nil && len(c.Picks) == 0 {
		err = b.state.Del(ctx, b.convKey(u))
	} else {
		v, _ := json.Marshal(c)
		err = b.state.Set(ctx, b.convKey(u), v, b.opts.DialogueTTL)
	}
	if err != nil {
		b.log.Warn("bot: save conversation", "err", err)
	}
}

var rePick = regexp.MustCompile(`^\s*([1-9])\s*$`)

// answer replies to a text.
func (b *Bot) answer(ctx context.Context, u *user, text string) (Reply, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return b.finish("请直接打字提问，比如“我能参加吗”“最多能报多少”。"), nil
	}
	c := b.loadConv(ctx, u)
	if c.Dialogue != nil {
		return b.dialogue(ctx, u, c.Dialogue, text)
	}
	if len(c.Picks) > 0 {
		if m := rePick.FindStringSubmatch(normalize(text)); m != nil {
			// A pick whose entry staff retired since it was offered is read as a new question.
			if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= len(c.Picks) && hasEntry(u.kb, c.Picks[n-1]) {
				b.saveConv(ctx, u, conv{})
				return b.entry(ctx, u, c.Picks[n-1], "")
			}
		}
		b.saveConv(ctx, u, conv{})
	}
	m := u.kb.Match(text)
	switch m.Band {
	case BandAnswer:
		return b.entry(ctx, u, m.Best(), text)
	case BandSuggest:
		b.log.Info("bot: suggested", "best", m.Best(), "confidence", round2(m.Hits[0].Confidence), "question", maskDigits(text))
		b.noteUnsure(ctx, text, m)
		return b.offer(ctx, u, "您是不是想问：", m.Hits, "回复数字看答案，或者换个说法再问我。"), nil
	}
	conf := 0.0
	if len(m.Hits) > 0 {
		conf = m.Hits[0].Confidence
	}
	b.log.Info("bot: not sure", "best", m.Best(), "confidence", round2(conf), "question", maskDigits(text))
	b.noteUnsure(ctx, text, m)
	var close []Hit
	for _, h := range m.Hits {
		if h.Confidence >= u.kb.Thresholds().Suggest/2 {
			close = append(close, h)
		}
	}
	if len(close) == 0 {
		close = u.kb.Popular()
	}
	return b.offer(ctx, u, "这个问题我不太确定，没法准确回答。您可以看看这些问题：", close,
		"回复数字看答案；也可以拨打"+Hotline+"问工作人员。"), nil
}

// noteUnsure keeps a question the bot was not sure of for staff to teach it (console
// 机器人没答好的问题); a failure is logged, and the worker still gets the reply.
func (b *Bot) noteUnsure(ctx context.Context, text string, m Match) {
	if err := noteUnsure(ctx, b.db, text, m.Best(), m.Band, b.now()); err != nil {
		b.log.Warn("bot: keep unsure question", "err", err)
	}
}

// offer lists numbered questions and remembers them, so that "2" answers the second.
func (b *Bot) offer(ctx context.Context, u *user, head string, hits []Hit, tail string) Reply {
	if len(hits) > 3 {
		hits = hits[:3]
	}
	var sb strings.Builder
	sb.WriteString(head + "\n")
	picks := make([]string, len(hits))
	for i, h := range hits {
		fmt.Fprintf(&sb, "%d %s\n", i+1, h.Question)
		picks[i] = h.ID
	}
	sb.WriteString(tail)
	b.saveConv(ctx, u, conv{Picks: picks})
	return b.finish(sb.String())
}

// common lists the popular questions and a few more as numbered choices (menu 常见问题).
func (b *Bot) common(ctx context.Context, u *user) (Reply, error) {
	hits := u.kb.Popular()
	return b.offer(ctx, u, "常见问题：", hits, "回复数字看答案，也可以直接打字问我。"), nil
}

// entry answers the knowledge-base entry id: its action, its dialogue, or its rendered answer.
// text is the question that led here: the eligibility dialogue starts only when it asks about
// the worker's own case (aboutSelf), and the facts it states are not asked again.
func (b *Bot) entry(ctx context.Context, u *user, id, text string) (Reply, error) {
	e, ok := u.kb.Entry(id)
	if !ok {
		return Reply{}, fmt.Errorf("bot: no entry %q", id)
	}
	day := model.DateOf(b.now())
	switch e.Action {
	case ActionArrival, ActionYearTotal, ActionRemaining, ActionNextDate, ActionClaims:
		s, err := b.personal(ctx, u, e, day)
		if err != nil {
			return Reply{}, fmt.Errorf("personal answer %s: %w", id, err)
		}
		return b.finish(s), nil
	}
	answer, _ := u.kb.Render(id, day)
	if e.Dialogue == DialogueEligibility && aboutSelf(text) {
		return b.startDialogue(ctx, u, answer, text), nil
	}
	return b.finish(answer), nil
}

// startDialogue begins the eligibility questions after the entry's answer. Facts the question
// itself states ("我退休了…") are taken; when they already decide, the verdict follows at once.
func (b *Bot) startDialogue(ctx context.Context, u *user, intro, text string) Reply {
	st := &dialogueState{}
	st.apply(parseAnswers(text, "", true))
	d, slot, done := st.next(model.DateOf(b.now()))
	if done {
		b.saveConv(ctx, u, conv{})
		return b.finish(intro + "\n\n" + verdict(d))
	}
	st.Asking = slot
	b.saveConv(ctx, u, conv{Dialogue: st})
	return b.finish(intro + "\n\n想确认您自己能不能参加，我问您几个简单的问题（随时回复“退出”结束）：\n" + question(slot))
}

// dialogue takes one reply in the eligibility dialogue.
func (b *Bot) dialogue(ctx context.Context, u *user, st *dialogueState, text string) (Reply, error) {
	norm := strings.TrimSpace(normalize(text))
	switch {
	case reExit.MatchString(compact(norm)):
		b.saveConv(ctx, u, conv{})
		return b.finish("好的，不问了。还有问题随时问我，也可以拨打" + Hotline + "。"), nil
	case reRestart.MatchString(compact(norm)):
		st = &dialogueState{}
		_, slot, _ := st.next(model.DateOf(b.now()))
		st.Asking = slot
		b.saveConv(ctx, u, conv{Dialogue: st})
		return b.finish("好的，重新开始。\n" + question(slot)), nil
	}
	as, ok := []answer(nil), false
	if a, num := numbered(st.Asking, norm); num {
		as, ok = []answer{a}, true
	} else if as = parseAnswers(norm, st.Asking, false); len(as) > 0 {
		ok = true
	}
	if !ok {
		if m := u.kb.Match(norm); isQuestion(norm) || m.Band == BandAnswer {
			return b.aside(ctx, u, st, m)
		}
		b.saveConv(ctx, u, conv{Dialogue: st})
		return b.finish("没太明白您的意思。" + question(st.Asking) + "\n（回复“退出”可以结束）"), nil
	}
	st.apply(as)
	d, slot, done := st.next(model.DateOf(b.now()))
	if done {
		b.saveConv(ctx, u, conv{})
		return b.finish(verdict(d)), nil
	}
	st.Asking = slot
	b.saveConv(ctx, u, conv{Dialogue: st})
	return b.finish(question(slot)), nil
}

// aside answers a question asked in the middle of the dialogue from the knowledge base, then
// asks the pending question again. Personal questions and other dialogues are answered by
// their plain text, so the dialogue goes on.
func (b *Bot) aside(ctx context.Context, u *user, st *dialogueState, m Match) (Reply, error) {
	var ans string
	if m.Band == BandAnswer {
		e, _ := u.kb.Entry(m.Best())
		if e.Action == ActionArrival || e.Action == ActionYearTotal || e.Action == ActionRemaining || e.Action == ActionNextDate || e.Action == ActionClaims {
			s, err := b.personal(ctx, u, e, model.DateOf(b.now()))
			if err != nil {
				return Reply{}, err
			}
			ans = s
		} else {
			ans, _ = u.kb.Render(e.ID, model.DateOf(b.now()))
		}
	} else {
		ans = "这个问题我不太确定，可以拨打" + Hotline + "咨询。"
	}
	b.saveConv(ctx, u, conv{Dialogue: st})
	return b.finish(ans + "\n\n我们接着刚才的问题：" + question(st.Asking)), nil
}

// finish bounds a reply to WeChat's text limit, cutting at a character boundary.
func (b *Bot) finish(s string) Reply {
	if len(s) <= MaxReplyBytes {
		return Reply{Text: s}
	}
	const more = "…（详询12351）"
	cut := MaxReplyBytes - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return Reply{Text: s[:cut] + more}
}

var reDigits = regexp.MustCompile(`[0-9０-９]`)

// maskDigits prepares a question for the log: digits (which could be card, ID or phone numbers)
// become *, and it is cut to 40 characters.
func maskDigits(s string) string {
	s = reDigits.ReplaceAllString(s, "*")
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	return s
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }

func hasEntry(kb *KB, id string) bool {
	_, ok := kb.Entry(id)
	return ok
}
