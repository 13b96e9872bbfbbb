package bot

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
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
	Action    string   `yaml:"action"`
	Dialogue  string   `yaml:"dialogue"`
}

type faqFile struct {
	Popular []string `yaml:"popular"`
	Pinned  []struct {
		Entry string   `yaml:"entry"`
		Texts []string `yaml:"texts"`
	} `yaml:"pinned"`
	Entries []Entry `yaml:"entries"`
}

// Links are the texts the answers show for the {bind} and {estimate_link} placeholders: an
// <a data-miniprogram-…> tag in WeChat, plain directions in the terminal chat.
type Links struct {
	Bind     string
	Estimate string
}

// Thresholds are the confidence cut-offs of Match: at or above Answer the best entry is
// answered; at or above Suggest the closest questions are offered ("您是不是想问"); below,
// the bot declines. Calibrated on testdata/bot/eval.yaml.
type Thresholds struct {
	Answer  float64
	Suggest float64
}

// DefaultThresholds returns the cut-offs calibrated on the evaluation set.
func DefaultThresholds() Thresholds { return Thresholds{Answer: 0.30, Suggest: 0.20} }

// KB is a parsed, checked knowledge base with its retrieval index. It is immutable and safe for
// concurrent use.
type KB struct {
	entries  []Entry
	byID     map[string]int
	pinned   map[string]int // compact text → entry
	popular  []int
	ix       *index
	th       Thresholds
	fill     map[string]*strings.Replacer // policy version code → placeholder filler
	versions []policy.Version
}

var placeholderRe = regexp.MustCompile(`\{[a-z_]+\}`)

// placeholders lists every placeholder an answer may use.
func placeholders() []string {
	return []string{"{cap}", "{cap_prev}", "{policy_from}", "{bonus}", "{ratio_outpatient}",
		"{ratio_inpatient}", "{ratio_special}", "{deductible}", "{ladder}", "{ladder_min}",
		"{ladder_max}", "{example_outpatient}", "{hotline}", "{bind}", "{estimate_link}"}
}

// ParseFAQ reads the knowledge base (config/faq.yaml), fills each answer's placeholders under
// every policy version of versions (oldest first, as policy.Engine.Versions returns them) and
// checks it: unique ids, known kinds, actions and placeholders, at least three phrasings per
// entry, no phrasing in two entries, pinned texts and popular ids that exist, and every rendered
// answer within MaxReplyBytes. The error joins every problem found.
func ParseFAQ(data []byte, versions []policy.Version, links Links, th Thresholds) (*KB, error) {
	var f faqFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("faq: not valid YAML: %w", err)
	}
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
	kb := &KB{byID: map[string]int{}, pinned: map[string]int{}, th: th, fill: map[string]*strings.Replacer{},
		versions: versions}
	for i, v := range versions {
		var prev *policy.Version
		if i > 0 {
			prev = &versions[i-1]
		}
		kb.fill[v.Code] = filler(v, prev, links)
	}
	var probs []error
	bad := func(format string, a ...any) { probs = append(probs, fmt.Errorf("faq: "+format, a...)) }
	known := placeholders()
	phrased := map[string]string{} // compact phrasing → entry id
	for i := range f.Entries {
		e := &f.Entries[i]
		e.ID = strings.TrimSpace(e.ID)
		e.Question = strings.TrimSpace(e.Question)
		e.Answer = strings.TrimSpace(e.Answer)
		who := e.ID
		if who == "" {
			who = fmt.Sprintf("entry #%d", i+1)
			bad("%s: id is empty (example: id: jingka_apply)", who)
		}
		if _, dup := kb.byID[e.ID]; dup && e.ID != "" {
			bad("%s: id is used twice", who)
		}
		kb.byID[e.ID] = i
		if !slices.Contains([]string{KindPlan, KindRedirect, KindPersonal, KindService}, e.Kind) {
			bad("%s: kind %q, want plan, redirect, personal or service", who, e.Kind)
		}
		if e.Question == "" || e.Answer == "" {
			bad("%s: question and answer are required", who)
		}
		if len(e.Phrasings) < 3 {
			bad("%s: has %d phrasings, want at least 3 similar ways of asking", who, len(e.Phrasings))
		}
		if e.Action != "" && !slices.Contains([]string{ActionArrival, ActionYearTotal, ActionRemaining, ActionNextDate,
			ActionEstimate, ActionBind, ActionMenu}, e.Action) {
			bad("%s: action %q is not known", who, e.Action)
		}
		if e.Dialogue != "" && e.Dialogue != DialogueEligibility {
			bad("%s: dialogue %q, want %s", who, e.Dialogue, DialogueEligibility)
		}
		for _, p := range placeholderRe.FindAllString(e.Answer, -1) {
			if !slices.Contains(known, p) {
				bad("%s: answer uses unknown placeholder %s (known: %s)", who, p, strings.Join(known, " "))
			}
		}
		for _, p := range append([]string{e.Question}, e.Phrasings...) {
			c := compact(p)
			if c == "" {
				bad("%s: a phrasing is empty", who)
				continue
			}
			if other, dup := phrased[c]; dup && other != e.ID {
				bad("%s: phrasing %q is also in %s", who, p, other)
			} else if dup {
				bad("%s: phrasing %q is given twice", who, p)
			}
			phrased[c] = e.ID
		}
		for _, v := range versions {
			out := kb.fill[v.Code].Replace(e.Answer)
			if n := len(out); n > MaxReplyBytes-200 {
				bad("%s: answer under policy %s is %d bytes, want at most %d (WeChat's limit, with room for a closing line)",
					who, v.Code, n, MaxReplyBytes-200)
			}
			if !utf8.ValidString(out) {
				bad("%s: answer is not valid UTF-8", who)
			}
		}
	}
	kb.entries = f.Entries
	for _, p := range f.Pinned {
		i, ok := kb.byID[p.Entry]
		if !ok {
			bad("pinned: entry %q does not exist", p.Entry)
			continue
		}
		for _, t := range p.Texts {
			c := compact(t)
			if j, dup := kb.pinned[c]; dup {
				bad("pinned: text %q is pinned to %s and %s", t, kb.entries[j].ID, p.Entry)
			}
			kb.pinned[c] = i
		}
	}
	for _, id := range f.Popular {
		i, ok := kb.byID[id]
		if !ok {
			bad("popular: entry %q does not exist", id)
			continue
		}
		kb.popular = append(kb.popular, i)
	}
	if len(probs) > 0 {
		return nil, errors.Join(probs...)
	}
	kb.ix = buildIndex(entryDocs(kb.entries))
	return kb, nil
}

// entryDocs returns one document per entry: the question and its phrasings as the first field,
// the answer (placeholders removed) as the second. (Scoring each phrasing on its own and keeping
// an entry's best measured two points lower on the evaluation set.)
func entryDocs(entries []Entry) []doc {
	docs := make([]doc, len(entries))
	for i, e := range entries {
		docs[i] = doc{q: e.Question + "\n" + strings.Join(e.Phrasings, "\n"), a: placeholderRe.ReplaceAllString(e.Answer, " ")}
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

// Entries returns a copy of the entries, in file order.
func (kb *KB) Entries() []Entry {
	out := make([]Entry, len(kb.entries))
	for i, e := range kb.entries {
		e.Phrasings = slices.Clone(e.Phrasings)
		out[i] = e
	}
	return out
}

// Entry returns the entry with id.
func (kb *KB) Entry(id string) (Entry, bool) {
	i, ok := kb.byID[id]
	if !ok {
		return Entry{}, false
	}
	return kb.entries[i], true
}

// Render returns the answer of entry id with its placeholders filled from the policy version in
// force on day (the oldest version when day is before every version).
func (kb *KB) Render(id string, day model.Date) (string, bool) {
	i, ok := kb.byID[id]
	if !ok {
		return "", false
	}
	return kb.replacer(day).Replace(kb.entries[i].Answer), true
}

// replacer returns the filler of the version in force on day.
func (kb *KB) replacer(day model.Date) *strings.Replacer { return kb.fill[kb.version(day).Code] }

// version returns the policy version in force on day: the latest starting on or before it, or
// the oldest when day is before every version.
func (kb *KB) version(day model.Date) *policy.Version {
	v := &kb.versions[0]
	for i := range kb.versions {
		if kb.versions[i].EffectiveFrom <= day {
			v = &kb.versions[i]
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
	if i, ok := kb.pinned[compact(q)]; ok {
		e := kb.entries[i]
		return Match{Band: BandAnswer, Pinned: true, Hits: []Hit{{ID: e.ID, Question: e.Question, Score: 1, Confidence: 1}}}
	}
	res := kb.ix.search(q, 3)
	m := Match{Band: BandDecline, Hits: make([]Hit, len(res))}
	for i, r := range res {
		e := kb.entries[r.doc]
		m.Hits[i] = Hit{ID: e.ID, Question: e.Question, Score: r.score, Confidence: r.confidence}
	}
	if len(res) == 0 {
		return m
	}
	switch c := res[0].confidence; {
	case c >= kb.th.Answer:
		m.Band = BandAnswer
	case c >= kb.th.Suggest:
		m.Band = BandSuggest
	}
	return m
}

// Popular returns the questions shown when the bot declines, in file order.
func (kb *KB) Popular() []Hit {
	out := make([]Hit, len(kb.popular))
	for i, j := range kb.popular {
		out[i] = Hit{ID: kb.entries[j].ID, Question: kb.entries[j].Question}
	}
	return out
}
