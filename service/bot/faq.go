package bot

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"huzhu/model"
	"huzhu/service/policy"
)

// MaxReplyBytes is WeChat's limit on a passive text reply. Every rendered answer, and every reply
// the bot sends, stays within it.
const MaxReplyBytes = 2048

// Hotline is the plan's service telephone (12351, the trade unions' hotline).
const Hotline = "12351"

// Actions an entry may carry. An entry with an action is answered by the bot (from the worker's
// own data, or with a link) instead of its static answer; the static answer is the fallback text.
const (
	ActionArrival   = "arrival"    // 我的钱到了吗: latest transfers and lines
	ActionYearTotal = "year_total" // 今年报了多少
	ActionRemaining = "remaining"  // 还能报多少
	ActionNextDate  = "next_date"  // 下次什么时候到账
	ActionClaims    = "claims"     // 我的申请到哪一步了: the worker's supplementary claims
	ActionEstimate  = "estimate"   // 估算: the answer plus the estimate page link
	ActionBind      = "bind"       // 怎么绑定: the bind link
	ActionMenu      = "menu"       // 帮助 / 菜单: the list of what the bot can do
)

// DialogueEligibility is the dialogue an entry may start: the eligibility questions.
const DialogueEligibility = "eligibility"

// Entry kinds.
const (
	KindPlan     = "plan"     // about the plan itself
	KindRedirect = "redirect" // a neighbouring topic, answered by pointing elsewhere
	KindPersonal = "personal" // answered from the bound worker's own data
	KindService  = "service"  // greetings, help, hand-off
)

// Entry is one question of the knowledge base. Answer may hold placeholders ({cap}, {bonus}…)
// filled from the policy version in force; Phrasings are similar ways workers ask it.
type Entry struct {
	ID        string   `yaml:"id"`
	Kind      string   `yaml:"kind"`
	Question  string   `yaml:"question"`
	Phrasings []string `yaml:"phrasings"`
	Answer    string   `yaml:"answer"`
	Action    string   `yaml:"action,omitempty"`
	Dialogue  string   `yaml:"dialogue,omitempty"`
}

type pin struct {
	Entry string   `yaml:"entry"`
	Texts []string `yaml:"texts"`
}

type faqFile struct {
	Popular []string  `yaml:"popular"`
	Pinned  []pin     `yaml:"pinned"`
	Lexicon []LexTerm `yaml:"lexicon"`
	Words   []string  `yaml:"words"`
	// Offtopic are words of topics the knowledge base does not answer (落户, 加班费, 挂号): a
	// question that says one is declined, however much of the rest of it an entry shares.
	Offtopic []string `yaml:"offtopic"`
	// Needs are, per entry, words one of which a question must say for the entry to be answered
	// (相邻话题: "报销比例是多少" is the plan's ratio, "医保报销比例" basic insurance's).
	Needs map[string][]string `yaml:"needs"`
	// OfftopicExamples are questions no entry answers, the examples the relevance model learns
	// off-topic questions from (beside the offtopic words and the entries' own questions).
	OfftopicExamples []string `yaml:"offtopic_examples"`
	Entries          []Entry  `yaml:"entries"`
}

// Links are the texts the answers show for the {bind} and {estimate_link} placeholders: an
// <a data-miniprogram-…> tag in WeChat, plain directions in the terminal chat.
type Links struct {
	Bind     string
	Estimate string
}

// Thresholds are the confidence cut-offs of Match: at or above Answer the best entry is
// answered; at or above ClearMin it is answered too when it ranks ClearGap ahead of the second,
// and a story (a question of at least storyRunes letters and digits) at StoryMin when it leads by
// StoryGap; otherwise at or above Suggest the closest questions are offered ("您是不是想问"), and
// below it the bot declines. Calibrated on the development sets (testdata/bot/eval.yaml,
// dev_v2.yaml, dev_v3.yaml) by TestTuneThresholds.
type Thresholds struct {
	Answer  float64
	Suggest float64
	// A best entry below Answer but at or above ClearMin that ranks ClearGap ahead of the second
	// clearly wins and is answered; below it the two are close and the worker chooses.
	ClearMin, ClearGap float64
	// A story ("我上个月住院花了两万多 … 我的钱到了没有") covers only a small share of its words
	// with any one entry, because most of them tell what happened; its best entry is answered at
	// StoryMin when it leads the second by StoryGap.
	StoryMin, StoryGap float64
}

// DefaultThresholds returns the cut-offs calibrated on the development sets.
func DefaultThresholds() Thresholds {
	return Thresholds{Answer: 0.50, Suggest: 0.20, ClearMin: 0.30, ClearGap: 0.25, StoryMin: 0.16, StoryGap: 0.15}
}

// storyRunes is the length (letters and digits) from which a question is read as a story.
const storyRunes = 24

// band decides how sure a ranked result is: the best entry's confidence against the thresholds,
// and its lead over the second. runes is the length of the question (letters and digits).
func (th Thresholds) band(res []scored, runes int) Band {
	c := res[0].confidence
	gap := math.Inf(1)
	if len(res) > 1 {
		gap = res[0].rank - res[1].rank
	}
	switch {
	case c >= th.Answer:
		return BandAnswer
	case c >= th.ClearMin && gap >= th.ClearGap:
		return BandAnswer
	case runes >= storyRunes && c >= th.StoryMin && gap >= th.StoryGap:
		return BandAnswer
	case c >= th.Suggest:
		return BandSuggest
	}
	return BandDecline
}

// KB is a checked knowledge base with its retrieval index. It is safe for concurrent use. Its
// content changes only through Swap, which replaces all of it at once: every method call sees
// one whole knowledge base, and a caller that makes several calls for one answer takes a
// Snapshot first so that an edit saved in between cannot split them.
type KB struct {
	cur atomic.Pointer[kbData]
}

// kbData is one immutable knowledge base.
type kbData struct {
	src      *Source // what it was built from, for the console's editor
	links    Links
	entries  []Entry
	byID     map[string]int
	pinned   map[string]int // compact text → entry
	popular  []int
	ix       *index
	offtopic wordSet    // normalized words of topics not answered
	needs    [][]string // entry → normalized words one of which a question must say (nil: none)
	rel      *relevance // tells questions about the plan from others
	th       Thresholds
	fill     map[string]*strings.Replacer // policy version code → placeholder filler
	versions []policy.Version
}

var (
	placeholderRe = regexp.MustCompile(`\{[a-z_]+\}`)
	idRe          = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// placeholders lists every placeholder an answer may use.
func placeholders() []string {
	return []string{"{cap}", "{cap_prev}", "{policy_from}", "{bonus}", "{ratio_outpatient}",
		"{ratio_inpatient}", "{ratio_special}", "{deductible}", "{ladder}", "{ladder_min}",
		"{ladder_max}", "{example_outpatient}", "{hotline}", "{bind}", "{estimate_link}"}
}

// Kinds returns the entry kinds, in the order the console offers them.
func Kinds() []string { return []string{KindPlan, KindRedirect, KindPersonal, KindService} }

// Actions returns the actions an entry may carry.
func Actions() []string {
	return []string{ActionArrival, ActionYearTotal, ActionRemaining, ActionNextDate, ActionClaims, ActionEstimate, ActionBind, ActionMenu}
}

// Dialogues returns the dialogues an entry may start.
func Dialogues() []string { return []string{DialogueEligibility} }

// Required returns the ids of the entries the bot itself answers with (the menu's clicks, the
// welcome of a new follower), which staff may edit but not retire.
func Required() []string { return []string{"my_arrival", "estimate", "human", "help", "bind"} }

// Problem is one thing wrong with a knowledge base, as Build reports it. Entry is the entry's id
// ("entry #3" when it has none, "" for the pinned and popular lists), Field the key at fault (id,
// kind, question, phrasings, answer, action, dialogue, pinned, popular), Text the problem in
// English for the file's error and Message it in Chinese for the console.
type Problem struct {
	Entry   string
	Field   string
	Text    string
	Message string
}

// Error returns "faq: <entry>: <text>", or "faq: <field>: <text>" for the lists.
func (p *Problem) Error() string {
	if p.Entry == "" {
		return "faq: " + p.Field + ": " + p.Text
	}
	return "faq: " + p.Entry + ": " + p.Text
}

// Problems returns the problems inside an error of Build or ParseFAQ, none for other errors.
func Problems(err error) []*Problem {
	var out []*Problem
	var walk func(error)
	walk = func(err error) {
		var p *Problem
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		} else if errors.As(err, &p) {
			out = append(out, p)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// Source is a knowledge base as text: the shipped file (config/faq.yaml), with staff's edits laid
// over it by Put and Retire. It is a value to build from, not safe for concurrent changes; Build
// checks it and makes the KB.
type Source struct {
	f faqFile
}

// ParseSource reads a knowledge-base file without checking it (Build checks). It fails only on
// YAML that does not read, or on keys the file does not know.
func ParseSource(data []byte) (*Source, error) {
	var f faqFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("faq: not valid YAML: %w", err)
	}
	return &Source{f: f}, nil
}

// Clone returns a deep copy of s.
func (s *Source) Clone() *Source {
	c := &Source{f: faqFile{Popular: slices.Clone(s.f.Popular), Entries: make([]Entry, len(s.f.Entries)),
		Words: slices.Clone(s.f.Words), Offtopic: slices.Clone(s.f.Offtopic), OfftopicExamples: slices.Clone(s.f.OfftopicExamples)}}
	for _, t := range s.f.Lexicon {
		c.f.Lexicon = append(c.f.Lexicon, LexTerm{Term: t.Term, Say: slices.Clone(t.Say)})
	}
	for i, e := range s.f.Entries {
		e.Phrasings = slices.Clone(e.Phrasings)
		c.f.Entries[i] = e
	}
	for _, p := range s.f.Pinned {
		c.f.Pinned = append(c.f.Pinned, pin{Entry: p.Entry, Texts: slices.Clone(p.Texts)})
	}
	if s.f.Needs != nil {
		c.f.Needs = map[string][]string{}
		for id, ws := range s.f.Needs {
			c.f.Needs[id] = slices.Clone(ws)
		}
	}
	return c
}

// Entry returns the entry with id.
func (s *Source) Entry(id string) (Entry, bool) {
	for _, e := range s.f.Entries {
		if e.ID == id {
			e.Phrasings = slices.Clone(e.Phrasings)
			return e, true
		}
	}
	return Entry{}, false
}

// IDs returns the ids of the entries, in order.
func (s *Source) IDs() []string {
	ids := make([]string, len(s.f.Entries))
	for i, e := range s.f.Entries {
		ids[i] = e.ID
	}
	return ids
}

// Put replaces the entry with e's id, in its place, or adds e at the end.
func (s *Source) Put(e Entry) {
	e.Phrasings = slices.Clone(e.Phrasings)
	for i := range s.f.Entries {
		if s.f.Entries[i].ID == e.ID {
			s.f.Entries[i] = e
			return
		}
	}
	s.f.Entries = append(s.f.Entries, e)
}

// Retire removes the entry with id, with its pinned texts and its place among the popular
// questions, and reports whether it was there.
func (s *Source) Retire(id string) bool {
	i := slices.IndexFunc(s.f.Entries, func(e Entry) bool { return e.ID == id })
	if i < 0 {
		return false
	}
	s.f.Entries = slices.Delete(s.f.Entries, i, i+1)
	s.f.Popular = slices.DeleteFunc(s.f.Popular, func(p string) bool { return p == id })
	s.f.Pinned = slices.DeleteFunc(s.f.Pinned, func(p pin) bool { return p.Entry == id })
	return true
}

// ParseFAQ reads the knowledge base (config/faq.yaml) and builds it: ParseSource, then Build.
func ParseFAQ(data []byte, versions []policy.Version, links Links, th Thresholds) (*KB, error) {
	s, err := ParseSource(data)
	if err != nil {
		return nil, err
	}
	return s.Build(versions, links, th)
}

// Build checks the knowledge base and indexes it, filling each answer's placeholders under every
// policy version of versions (oldest first, as policy.Engine.Versions returns them). It checks:
// ids of lowercase letters, digits and _, used once; known kinds, actions, dialogues and
// placeholders; a question, an answer and at least three phrasings per entry; no phrasing in two
// entries; pinned texts and popular ids that exist; and every rendered answer within
// MaxReplyBytes. The error joins a *Problem for every problem found (see
// Problems). s is not kept: later changes to it do not reach the KB.
func (s *Source) Build(versions []policy.Version, links Links, th Thresholds) (*KB, error) {
	key, keyed := buildKey(s, versions, links, th)
	if keyed {
		if d := built.get(key); d != nil {
			out := &KB{}
			out.cur.Store(d)
			return out, nil
		}
	}
	out, err := s.build(versions, links, th)
	if err == nil && keyed {
		built.put(key, out.cur.Load())
	}
	return out, err
}

// built remembers the last knowledge bases built, by what they were built from: a process
// builds the same one again and again (each instance start, each minute's re-read of unchanged
// edits, every test), and a build takes 0.1–0.2 s (0.5 s under the race detector). A kbData is
// immutable once built, so one can serve several KBs.
var built = &buildCache{m: map[[sha256.Size]byte]*kbData{}}

// buildCacheSize bounds the cache: a few sources (the shipped file, its edited versions).
const buildCacheSize = 8

type buildCache struct {
	mu    sync.Mutex
	m     map[[sha256.Size]byte]*kbData
	order [][sha256.Size]byte
}

func (c *buildCache) get(k [sha256.Size]byte) *kbData {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *buildCache) put(k [sha256.Size]byte, d *kbData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	if len(c.order) >= buildCacheSize {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[k] = d
	c.order = append(c.order, k)
}

// buildKey digests everything a build reads. keyed is false when it cannot be encoded (then the
// build is not remembered).
func buildKey(s *Source, versions []policy.Version, links Links, th Thresholds) (key [sha256.Size]byte, keyed bool) {
	b, err := json.Marshal(struct {
		F        faqFile
		Versions []policy.Version
		Links    Links
		Th       Thresholds
	}{s.f, versions, links, th})
	if err != nil {
		return key, false
	}
	return sha256.Sum256(b), true
}

// build is Build without the cache.
func (s *Source) build(versions []policy.Version, links Links, th Thresholds) (*KB, error) {
	if len(versions) == 0 {
		return nil, errors.New("faq: no policy versions to fill the answers from")
	}
	if th == (Thresholds{}) {
		th = DefaultThresholds()
	}
	if links.Bind == "" {
		links.Bind = "打开微信小程序「暖·互助」，在「我的」里绑定京卡"
	}
	if links.Estimate == "" {
		links.Estimate = "打开微信小程序「暖·互助」，点「估算」"
	}
	src := s.Clone()
	f := src.Clone().f
	kb := &kbData{src: src, links: links, byID: map[string]int{}, pinned: map[string]int{}, th: th,
		fill: map[string]*strings.Replacer{}, versions: slices.Clone(versions)}
	for i, v := range versions {
		var prev *policy.Version
		if i > 0 {
			prev = &versions[i-1]
		}
		kb.fill[v.Code] = filler(v, prev, links)
	}
	var probs []error
	bad := func(entry, field, message, format string, a ...any) {
		probs = append(probs, &Problem{Entry: entry, Field: field, Text: fmt.Sprintf(format, a...), Message: message})
	}
	known := placeholders()
	phrased := map[string]string{} // compact phrasing → entry id
	for i := range f.Entries {
		e := &f.Entries[i]
		e.ID = strings.TrimSpace(e.ID)
		e.Question = strings.TrimSpace(e.Question)
		e.Answer = strings.TrimSpace(e.Answer)
		who := e.ID
		switch {
		case e.ID == "":
			who = fmt.Sprintf("entry #%d", i+1)
			bad(who, "id", "条目编号不能为空", "id is empty (example: id: jingka_apply)")
		case !idRe.MatchString(e.ID):
			bad(who, "id", "条目编号只能用小写英文字母、数字和下划线，以字母开头，最长 64 个字符",
				"id %q is not lowercase letters, digits and _ starting with a letter, at most 64 (example: id: jingka_apply)", e.ID)
		}
		if _, dup := kb.byID[e.ID]; dup && e.ID != "" {
			bad(who, "id", "条目编号“"+e.ID+"”已经有别的条目在用", "id is used twice")
		}
		kb.byID[e.ID] = i
		if !slices.Contains(Kinds(), e.Kind) {
			bad(who, "kind", "类别不对，应为 plan（计划本身）、redirect（相邻话题）、personal（个人数据）或 service（问候、帮助）",
				"kind %q, want plan, redirect, personal or service", e.Kind)
		}
		if e.Question == "" {
			bad(who, "question", "标准问法不能为空", "question is required")
		}
		if e.Answer == "" {
			bad(who, "answer", "回答不能为空", "answer is required")
		}
		if len(e.Phrasings) < 3 {
			bad(who, "phrasings", fmt.Sprintf("相似问法只有 %d 条，至少要 3 条（职工平时可能怎么问）", len(e.Phrasings)),
				"has %d phrasings, want at least 3 similar ways of asking", len(e.Phrasings))
		}
		if e.Action != "" && !slices.Contains(Actions(), e.Action) {
			bad(who, "action", "动作“"+e.Action+"”不存在", "action %q is not known", e.Action)
		}
		if e.Dialogue != "" && !slices.Contains(Dialogues(), e.Dialogue) {
			bad(who, "dialogue", "对话“"+e.Dialogue+"”不存在，只能是 "+DialogueEligibility, "dialogue %q, want %s", e.Dialogue, DialogueEligibility)
		}
		for _, p := range placeholderRe.FindAllString(e.Answer, -1) {
			if !slices.Contains(known, p) {
				bad(who, "answer", "回答里的占位符 "+p+" 不存在，可用的有："+strings.Join(known, " "),
					"answer uses unknown placeholder %s (known: %s)", p, strings.Join(known, " "))
			}
		}
		for j, p := range append([]string{e.Question}, e.Phrasings...) {
			c := compact(p)
			switch {
			case c == "" && j == 0 && e.Question != "":
				bad(who, "question", "标准问法里没有文字（只有空格或标点）", "question has no words")
			case c == "" && j > 0:
				bad(who, "phrasings", "有一条相似问法是空的（只有空格或标点）", "a phrasing is empty")
			}
			if c == "" {
				continue
			}
			if other, dup := phrased[c]; dup && other != e.ID {
				bad(who, "phrasings", fmt.Sprintf("问法“%s”和条目 %s 重复：同一个问法只能属于一条", p, other), "phrasing %q is also in %s", p, other)
			} else if dup {
				bad(who, "phrasings", fmt.Sprintf("问法“%s”写了两遍", p), "phrasing %q is given twice", p)
			}
			phrased[c] = e.ID
		}
		for _, v := range versions {
			out := kb.fill[v.Code].Replace(e.Answer)
			if n := len(out); n > MaxReplyBytes-200 {
				bad(who, "answer", fmt.Sprintf("按政策 %s 填好数字后回答有 %d 字节，最多 %d 字节（微信文字回复的上限，还要留出结尾一行），请缩短",
					v.Code, n, MaxReplyBytes-200),
					"answer under policy %s is %d bytes, want at most %d (WeChat's limit, with room for a closing line)",
					v.Code, n, MaxReplyBytes-200)
			}
			if !utf8.ValidString(out) {
				bad(who, "answer", "回答含有无法识别的字符", "answer is not valid UTF-8")
			}
		}
	}
	kb.entries = f.Entries
	for _, p := range f.Pinned {
		i, ok := kb.byID[p.Entry]
		if !ok {
			bad("", "pinned", "固定回复指向的条目 "+p.Entry+" 不存在", "entry %q does not exist", p.Entry)
			continue
		}
		for _, t := range p.Texts {
			c := compact(t)
			if j, dup := kb.pinned[c]; dup {
				bad("", "pinned", fmt.Sprintf("固定回复“%s”同时指向 %s 和 %s", t, kb.entries[j].ID, p.Entry),
					"text %q is pinned to %s and %s", t, kb.entries[j].ID, p.Entry)
			}
			kb.pinned[c] = i
		}
	}
	for _, id := range f.Popular {
		i, ok := kb.byID[id]
		if !ok {
			bad("", "popular", "常见问题里的条目 "+id+" 不存在", "entry %q does not exist", id)
			continue
		}
		kb.popular = append(kb.popular, i)
	}
	var curated, phrasings []string
	for _, e := range kb.entries {
		curated = append(curated, e.Question, e.Answer)
		phrasings = append(phrasings, e.Phrasings...)
	}
	texts := append(slices.Clone(curated), phrasings...)
	rewrite := newAnalyzer(f.Lexicon, nil, nil, nil).rewrite
	kbText := rewrite.Replace(normalize(strings.Join(texts, "\n")))
	checkLexicon(f.Lexicon, f.Words, kbText, bad)
	kb.offtopic = newWordSet(checkOfftopic(f.Offtopic, kbText, bad))
	kb.needs = checkNeeds(f.Needs, kb.entries, kb.byID, bad)
	if len(probs) > 0 {
		return nil, errors.Join(probs...)
	}
	an := newAnalyzer(f.Lexicon, f.Words, curated, phrasings)
	docs := entryDocs(kb.entries, an)
	kb.ix = buildIndex(docs, an)
	var about []line // the questions and phrasings, as analyzed for the index
	for _, dc := range docs {
		about = append(about, dc.q...)
	}
	kb.rel = newRelevance(an, about, append(slices.Clone(f.OfftopicExamples), f.Offtopic...))
	checkExamples(f.OfftopicExamples, kb.entries, bad)
	for i, ws := range kb.needs {
		if ws == nil {
			continue
		}
		e := kb.entries[i]
		for _, q := range append([]string{e.Question}, e.Phrasings...) {
			if !kb.saysNeeds(i, kb.ix.an.prepare(q, true), normalize(q)) {
				bad(e.ID, "needs", "“"+q+"”里没有 needs 的任何一个词（"+strings.Join(ws, "、")+"），这样问就找不到这一条：请在问法里写出话题词，或在 needs 里加词",
					"needs: %q says none of %v, so it could never find its entry", q, ws)
			}
		}
	}
	if len(probs) > 0 {
		return nil, errors.Join(probs...)
	}
	out := &KB{}
	out.cur.Store(kb)
	return out, nil
}

// entryDocs returns one document per entry: the question and its phrasings as the first field,
// the answer (placeholders removed) as the second. (Scoring each phrasing on its own and keeping
// an entry's best measured two points lower on the evaluation set.)
func entryDocs(entries []Entry, an *analyzer) []doc {
	docs := make([]doc, len(entries))
	for i, e := range entries {
		docs[i] = doc{q: an.lines(e.Question + "\n" + strings.Join(e.Phrasings, "\n")), a: an.lines(placeholderRe.ReplaceAllString(e.Answer, " "))}
	}
	return docs
}

// filler returns the placeholder filler of version v (prev is the version before it, if any).
func filler(v policy.Version, prev *policy.Version, links Links) *strings.Replacer {
	capPrev := yuanText(v.AnnualCapFen)
	if prev != nil {
		capPrev = yuanText(prev.AnnualCapFen)
	}
	ratio := func(c model.ClaimType) string { return v.Claims[c].RatioBP.Percent() }
	deductible := "不设起付线"
	var deds []string
	for _, c := range model.ClaimTypes {
		if d := v.Claims[c].DeductibleFen; d > 0 {
			deds = append(deds, c.Label()+"起付"+yuanText(d))
		}
	}
	if len(deds) > 0 {
		deductible = strings.Join(deds, "，")
	}
	var ladder []string
	var lo model.Fen
	minR, maxR := model.BP(0), model.BP(0)
	for i, s := range v.Ladder {
		if i == 0 || s.RatioBP < minR {
			minR = s.RatioBP
		}
		if s.RatioBP > maxR {
			maxR = s.RatioBP
		}
		switch {
		case s.UpToFen == 0:
			ladder = append(ladder, wanText(lo)+"以上"+s.RatioBP.Percent())
		case lo == 0:
			ladder = append(ladder, wanText(s.UpToFen)+"以下"+s.RatioBP.Percent())
		default:
			ladder = append(ladder, wanText(lo)+"至"+wanText(s.UpToFen)+s.RatioBP.Percent())
		}
		lo = s.UpToFen
	}
	example := model.Fen(100000)
	return strings.NewReplacer(
		"{cap}", yuanText(v.AnnualCapFen),
		"{cap_prev}", capPrev,
		"{policy_from}", chineseDate(v.EffectiveFrom),
		"{bonus}", strings.TrimSuffix(v.BonusBP.Percent(), "%")+"个百分点",
		"{ratio_outpatient}", ratio(model.ClaimOutpatient),
		"{ratio_inpatient}", ratio(model.ClaimInpatient),
		"{ratio_special}", ratio(model.ClaimSpecialInpatient),
		"{deductible}", deductible,
		"{ladder}", strings.Join(ladder, "，"),
		"{ladder_min}", minR.Percent(),
		"{ladder_max}", maxR.Percent(),
		"{example_outpatient}", fmt.Sprintf("门诊自付一%s，按%s大约可得%s", yuanText(example), ratio(model.ClaimOutpatient),
			yuanText(model.MulBP(example, v.Claims[model.ClaimOutpatient].RatioBP))),
		"{hotline}", Hotline,
		"{bind}", links.Bind,
		"{estimate_link}", links.Estimate,
	)
}

// yuanText writes an amount for people: "200653元", "12.50元".
func yuanText(f model.Fen) string {
	if f%100 == 0 {
		return fmt.Sprintf("%d元", f/100)
	}
	return f.Yuan() + "元"
}

// wanText writes an amount in 万元 when it is whole ten-thousands ("5万元"), else in 元.
func wanText(f model.Fen) string {
	if f > 0 && f%1_000_000 == 0 {
		return fmt.Sprintf("%d万元", f/1_000_000)
	}
	return yuanText(f)
}

// chineseDate writes "2021-07-01" as "2021年7月1日".
func chineseDate(d model.Date) string {
	t := d.Time()
	if t.IsZero() {
		return string(d)
	}
	return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
}

// Swap makes kb answer from next's content from now on (see KB). next stays usable.
func (kb *KB) Swap(next *KB) { kb.cur.Store(next.cur.Load()) }

// Rebuild builds src under versions with kb's links and thresholds, as Build does: it is how an
// edit of the knowledge base, or a new policy version, is checked against the running one. kb is
// not changed; Swap the result in.
func (kb *KB) Rebuild(src *Source, versions []policy.Version) (*KB, error) {
	d := kb.cur.Load()
	return src.Build(versions, d.links, d.th)
}

// Snapshot returns a KB that keeps kb's present content whatever is swapped into kb later.
func (kb *KB) Snapshot() *KB {
	s := &KB{}
	s.cur.Store(kb.cur.Load())
	return s
}

// Source returns a copy of the source kb was built from.
func (kb *KB) Source() *Source { return kb.cur.Load().src.Clone() }

// Versions returns the policy versions kb fills its answers from, oldest first.
func (kb *KB) Versions() []policy.Version { return slices.Clone(kb.cur.Load().versions) }

// Thresholds returns kb's confidence cut-offs.
func (kb *KB) Thresholds() Thresholds { return kb.cur.Load().th }

// Entries returns a copy of the entries, in file order.
func (kb *KB) Entries() []Entry {
	d := kb.cur.Load()
	out := make([]Entry, len(d.entries))
	for i, e := range d.entries {
		e.Phrasings = slices.Clone(e.Phrasings)
		out[i] = e
	}
	return out
}

// Entry returns the entry with id.
func (kb *KB) Entry(id string) (Entry, bool) {
	d := kb.cur.Load()
	i, ok := d.byID[id]
	if !ok {
		return Entry{}, false
	}
	e := d.entries[i]
	e.Phrasings = slices.Clone(e.Phrasings)
	return e, true
}

// Render returns the answer of entry id with its placeholders filled from the policy version in
// force on day (the oldest version when day is before every version).
func (kb *KB) Render(id string, day model.Date) (string, bool) {
	d := kb.cur.Load()
	i, ok := d.byID[id]
	if !ok {
		return "", false
	}
	return d.fill[d.version(day).Code].Replace(d.entries[i].Answer), true
}

// AnnualCap returns the annual cap of the policy version in force on day, as the answers state it.
func (kb *KB) AnnualCap(day model.Date) model.Fen { return kb.cur.Load().version(day).AnnualCapFen }

// version returns the policy version in force on day: the latest starting on or before it, or
// the oldest when day is before every version.
func (d *kbData) version(day model.Date) *policy.Version {
	v := &d.versions[0]
	for i := range d.versions {
		if d.versions[i].EffectiveFrom <= day {
			v = &d.versions[i]
		}
	}
	return v
}

// Band is how sure a Match is.
type Band int

// Bands, from sure to unsure.
const (
	BandAnswer  Band = iota // answer the best entry
	BandSuggest             // offer the closest questions ("您是不是想问")
	BandDecline             // say so, offer the hotline and popular questions
)

// String returns "answer", "suggest" or "decline".
func (b Band) String() string {
	switch b {
	case BandAnswer:
		return "answer"
	case BandSuggest:
		return "suggest"
	}
	return "decline"
}

// Hit is one retrieved entry with its BM25F score and confidence (the share of the query's IDF
// weight the entry covers, 0 to 1).
type Hit struct {
	ID         string
	Question   string
	Score      float64
	Confidence float64
}

// Match is the outcome of looking a question up: the band, and the hits best first (the first is
// the entry to answer in BandAnswer). Pinned is true when the text was in the pinned table.
type Match struct {
	Band   Band
	Hits   []Hit
	Pinned bool
}

// Best returns the first hit's id, or "" when there is none.
func (m Match) Best() string {
	if len(m.Hits) == 0 {
		return ""
	}
	return m.Hits[0].ID
}

// Match looks q up: the pinned table first (exact text, ignoring spaces and punctuation), then
// retrieval with the thresholds. It returns at most three hits.
func (kb *KB) Match(q string) Match {
	d := kb.cur.Load()
	if i, ok := d.pinned[compact(q)]; ok {
		e := d.entries[i]
		return Match{Band: BandAnswer, Pinned: true, Hits: []Hit{{ID: e.ID, Question: e.Question, Score: 1, Confidence: 1}}}
	}
	p := d.ix.an.prepare(q, true)
	raw := normalize(q)
	ranked, who := d.lookup(p, raw)
	res := ranked[:min(len(ranked), 3)]
	m := Match{Band: BandDecline, Hits: make([]Hit, len(res))}
	for i, r := range res {
		e := d.entries[r.doc]
		m.Hits[i] = Hit{ID: e.ID, Question: e.Question, Score: r.score, Confidence: r.confidence}
	}
	if len(res) == 0 {
		return m
	}
	runes := utf8.RuneCountInString(compact(q))
	m.Band = d.th.band(res, runes)
	if othersIn(raw) {
		who = whoseOthers
	}
	// Someone else's money is never answered from data nor guessed: a personal entry for another
	// person, or any question about what happened to another person's payment.
	others := who == whoseOthers && (d.entries[res[0].doc].Kind == KindPersonal || asksState(p))
	if m.Band != BandAnswer && runes >= storyRunes && !others {
		if c, ok := d.clauseAnswer(p, ranked[:min(len(ranked), clauseTop)]); ok {
			res = c
			m.Hits = m.Hits[:0]
			for _, r := range res {
				e := d.entries[r.doc]
				m.Hits = append(m.Hits, Hit{ID: e.ID, Question: e.Question, Score: r.score, Confidence: r.confidence})
			}
			m.Band = BandAnswer
		}
	}
	switch {
	case others:
		m.Band = BandDecline // someone else's money: never from data, never guessed
	case m.Band != BandDecline && !namesPlan(p) && (d.offtopicIn(p) || d.offtopicIn(raw)):
		m.Band = BandDecline
	case m.Band != BandDecline && !namesPlan(p) && res[0].confidence < relevanceBelow && d.unrelated(p):
		m.Band = BandDecline
	}
	return m
}

// lookup ranks the entries for p (prepared text; raw is the question normalized) and returns the best three, with the cue of
// whose money p asks about, which moves the personal entries (intent.go).
func (d *kbData) lookup(p, raw string) ([]scored, int) {
	res := d.ix.searchPrepared(p, len(d.entries))
	res = slices.DeleteFunc(res, func(r scored) bool { return !d.saysNeeds(r.doc, p, raw) })
	who := whose(p)
	for i := range res {
		if d.entries[res[i].doc].Kind != KindPersonal {
			continue
		}
		switch who {
		case whoseOwn:
			res[i].rank += personalBoost
		case whoseGeneral:
			res[i].rank -= personalBoost
		}
	}
	sortScored(res)
	return res, who
}

// clauseAnswer looks for the question buried in a story: the last clause of p (prepared text,
// split at spaces and punctuation) that asks something (a question word, or 不/没 closing it) is
// looked up alone (every clause when none asks, the most confident winning), and its best entry
// is answered if it would be as a question of its own and is among the whole story's best eight
// (what the rest of the story says must not contradict it).
func (d *kbData) clauseAnswer(p string, whole []scored) ([]scored, bool) {
	clauses := clausesOf(p)
	// The clauses that ask something carry the question; the rest tell what happened.
	if asking := slices.DeleteFunc(slices.Clone(clauses), func(c string) bool { return !asks(c) }); len(asking) > 0 {
		clauses = asking[len(asking)-1:] // the last: a story ends with what it asks
	}
	var best []scored
	for _, c := range clauses {
		n := utf8.RuneCountInString(c)
		if n < clauseMinRunes {
			continue
		}
		res, _ := d.lookup(c, c)
		res = res[:min(len(res), 3)]
		if len(res) == 0 || d.th.band(res, n) != BandAnswer {
			continue
		}
		if best == nil || res[0].confidence > best[0].confidence {
			best = res
		}
	}
	if best == nil {
		return nil, false
	}
	for _, w := range whole {
		if w.doc == best[0].doc {
			return best, true
		}
	}
	return nil, false
}

// clauseTop: a clause's entry is answered only if the whole story ranks it this high.
const clauseTop = 8

// clausesOf splits text at punctuation and spaces. Text typed with a space between most words
// ("我 是 环卫 工人 …", as some older workers write) is split at punctuation only.
func clausesOf(text string) []string {
	clauses := strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(clauses) > 2 && utf8.RuneCountInString(text) < minClauseAvg*len(clauses) {
		clauses = strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsSpace(r) })
		for i, c := range clauses {
			clauses[i] = strings.Join(strings.Fields(c), "")
		}
	}
	return clauses
}

// minClauseAvg: text whose space-separated pieces average fewer runes than this is words typed
// apart, not clauses.
const minClauseAvg = 4

// askCues mark a clause that asks something.
var askCues = []string{"吗", "么", "呢", "咋", "怎", "啥", "什么", "多少", "几", "哪", "谁", "能不能", "是不是", "有没有", "要不要", "可不可以", "行不行", "?"}

// asks reports whether clause c asks something: a question word, or 不/没 closing it (能报不).
func asks(c string) bool {
	return containsAny(c, askCues) || strings.HasSuffix(c, "不") || strings.HasSuffix(c, "没") || strings.HasSuffix(c, "没有")
}

// clauseMinRunes is the shortest clause looked up alone.
const clauseMinRunes = 4

// saysNeeds reports whether p (prepared) or raw (normalized) says one of entry i's needs, or the
// entry has none.
func (d *kbData) saysNeeds(i int, p, raw string) bool {
	if d.needs[i] == nil {
		return true
	}
	return containsAny(p, d.needs[i]) || containsAny(raw, d.needs[i])
}

// The relevance model declines a question its retrieval answers below relevanceBelow
// confidence when the question's mean log-odds of being off-topic is above unrelatedAbove. Chosen
// on the five development sets with the off-topic words switched off (so that it measures topics
// nobody listed): retrieval alone declined 228 of their 278 off-topic questions and answered
// 1,393 of 1,513 others right; with the model at these values, 264 and 1,388 (without the
// confidence bound: 271 and 1,368).
const (
	unrelatedAbove = 0.0
	relevanceBelow = 0.7
)

// unrelated reports whether the relevance model reads p (prepared) as off-topic. A question that
// says one of the lexicon's terms or domain words (家属, 京卡, 新农合…) is not: staff taught the
// bot those words, and a saying they add from the unsure questions must be answered next time.
// (On the dev sets with the word list off: one more right answer, two fewer declines.)
func (d *kbData) unrelated(p string) bool {
	chars, words := d.ix.an.terms(p)
	if len(words) > 0 {
		return false // says a lexicon term or domain word: the plan's own vocabulary
	}
	score, n := d.rel.offtopic(chars)
	return n > 0 && score > unrelatedAbove
}

// planNames are the plan's own names. A question that says one is about the plan even when it
// mentions a topic the plan does not answer on the way ("二次报销要自己掏钱吗 工资条上会扣吗").
var planNames = []string{"二次报销", "互助金", "暖互助", "暖·互助", "互助保障", "医疗互助"}

// namesPlan reports whether q (prepared) names the plan.
func namesPlan(q string) bool { return containsAny(q, planNames) }

// offtopicIn reports whether q (prepared by the analyzer, or normalized) says a word of a topic
// the knowledge base does not answer.
func (d *kbData) offtopicIn(q string) bool { return d.offtopic.in(q) }

// Popular returns the questions shown when the bot declines, in file order.
func (kb *KB) Popular() []Hit {
	d := kb.cur.Load()
	out := make([]Hit, len(d.popular))
	for i, j := range d.popular {
		out[i] = Hit{ID: d.entries[j].ID, Question: d.entries[j].Question}
	}
	return out
}
