package bot

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mozillazg/go-pinyin"
)

// LexTerm is one group of the lexicon: the knowledge base's own word for a thing (Term) and the
// ways workers say it (Say). Before retrieval, every Say in the question and in the knowledge
// base is read as Term, so "封顶线是多少" finds the entry that says "年度最高".
type LexTerm struct {
	Term string   `yaml:"term"`
	Say  []string `yaml:"say"`
}

// Lexicon limits: a term or saying is a short phrase, not a sentence.
const (
	lexMinRunes = 2
	lexMaxRunes = 12
)

// analyzer turns text into retrieval terms the way workers type:
//
//   - homophone and typing slips are read as the knowledge base's own spelling when their
//     pinyin (with the fuzzy pairs of Chinese input methods: z/zh, c/ch, s/sh, n/l, in/ing,
//     en/eng) equals a 2–4 character phrase the knowledge base uses and the typed phrase is not
//     itself one of its phrases ("保销" → "报销", "农名工" → "农民工", "到帐" → "到账");
//   - the lexicon's sayings are rewritten to their terms ("封顶线" → "年度最高");
//   - characters are the terms (notes: characters beat words when workers make slips), and
//     each lexicon term and domain word found in the text adds one whole-word term, so that a
//     phrase that matches as a whole outweighs its characters scattered over an entry.
//
// An analyzer is immutable once built and safe for concurrent use.
type analyzer struct {
	rewrite  *strings.Replacer // sayings → terms, longest first
	words    []string          // whole words (lexicon terms and domain words), longest first
	phrases  map[string]int    // every 2–4 character run of the knowledge base (after rewrite): how often it is used
	curated  map[string]bool   // the runs of questions, answers and the lexicon: never a slip
	sounds   map[string]string // fuzzy pinyin key → the knowledge base's most frequent phrase
	py       map[rune]string   // fuzzy pinyin of the knowledge base's characters
	toneless *strings.Replacer
}

// minSlipTarget is how often the knowledge base must use a phrase for a slip to be read as it.
// Lexicon terms, sayings and words are always targets: staff wrote them as wanted spellings
// ("封定线" is read as the saying "封顶线", then as its term).
const minSlipTarget = 3

// wordPrefix marks a whole-word term, so that it never equals a character or an ASCII run.
const wordPrefix = "w:"

// newAnalyzer builds the analyzer of a knowledge base whose questions and answers are curated and
// whose similar phrasings are phrasings (written the way workers type, slips included).
func newAnalyzer(lex []LexTerm, words []string, curated, phrasings []string) *analyzer {
	a := &analyzer{phrases: map[string]int{}, curated: map[string]bool{}, sounds: map[string]string{}, py: map[rune]string{}, toneless: newToneless()}
	var pairs []string
	type say struct{ from, to string }
	var says []say
	for _, t := range lex {
		for _, s := range t.Say {
			says = append(says, say{normalize(s), normalize(t.Term)})
		}
		a.words = append(a.words, normalize(t.Term))
	}
	slices.SortStableFunc(says, func(x, y say) int { return len(y.from) - len(x.from) })
	for _, s := range says {
		pairs = append(pairs, s.from, s.to)
	}
	a.rewrite = strings.NewReplacer(pairs...)
	for _, w := range words {
		a.words = append(a.words, normalize(w))
	}
	slices.SortStableFunc(a.words, func(x, y string) int { return len(y) - len(x) })
	a.words = slices.Compact(a.words)

	freq := map[string]int{}
	count := func(texts []string, curated bool) {
		for _, t := range texts {
			t = a.rewrite.Replace(normalize(t))
			for _, run := range hanRuns(t) {
				for i := range run {
					for n := 2; n <= 4 && i+n <= len(run); n++ {
						freq[string(run[i:i+n])]++
						if curated {
							a.curated[string(run[i:i+n])] = true
						}
					}
				}
			}
		}
	}
	count(curated, true)
	count(phrasings, false)
	for _, t := range lex {
		for _, s := range append([]string{t.Term}, t.Say...) {
			freq[normalize(s)] += minSlipTarget // the lexicon's phrases are wanted spellings
			a.curated[normalize(s)] = true
		}
	}
	for _, w := range words {
		freq[normalize(w)] += minSlipTarget
		a.curated[normalize(w)] = true
	}
	best := map[string]int{}
	for p, n := range freq {
		a.phrases[p] = n
		if n < minSlipTarget {
			continue // a phrase the knowledge base uses once is often two words side by side
		}
		k := a.soundOf([]rune(p), true)
		if k == "" {
			continue
		}
		// The target of a sound is the most used phrase, a curated one before any only phrasings
		// use (phrasings may hold slips on purpose: "我们公会" must never be what "我们工会" is read as).
		if a.curated[p] {
			n += curatedFirst
		}
		if n > best[k] || (n == best[k] && p < a.sounds[k]) {
			best[k], a.sounds[k] = n, p
		}
	}
	return a
}

// hanRuns returns the runs of CJK characters in s.
func hanRuns(s string) [][]rune {
	var out [][]rune
	var cur []rune
	for _, r := range s {
		if isHan(r) {
			cur = append(cur, r)
			continue
		}
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// soundOf returns the fuzzy pinyin key of rs ("" when a character has no reading). learn
// records the characters' readings in a.py (only while building).
func (a *analyzer) soundOf(rs []rune, learn bool) string {
	var b strings.Builder
	for _, r := range rs {
		p, ok := a.py[r]
		if !ok {
			p = a.fuzzyPinyin(r)
			if learn {
				a.py[r] = p
			}
		}
		if p == "" {
			return ""
		}
		b.WriteString(p)
		b.WriteByte(' ')
	}
	return b.String()
}

// newToneless returns the replacer that folds pinyin's toned vowels to plain letters.
func newToneless() *strings.Replacer {
	return strings.NewReplacer("ā", "a", "á", "a", "ǎ", "a", "à", "a", "ē", "e", "é", "e", "ě", "e", "è", "e",
		"ī", "i", "í", "i", "ǐ", "i", "ì", "i", "ō", "o", "ó", "o", "ǒ", "o", "ò", "o", "ū", "u", "ú", "u", "ǔ", "u", "ù", "u",
		"ǖ", "v", "ǘ", "v", "ǚ", "v", "ǜ", "v", "ü", "v", "ń", "n", "ň", "n", "ǹ", "n", "ḿ", "m")
}

// fuzzyPinyin returns r's first reading without tone, folded by the fuzzy pairs input methods
// offer (z/zh, c/ch, s/sh, n/l, in/ing, en/eng), or "" when r has none. It reads go-pinyin's
// dictionary directly: its SinglePinyin strips tones with regular expressions, several times
// slower on the answering path.
func (a *analyzer) fuzzyPinyin(r rune) string {
	v, ok := pinyin.PinyinDict[int(r)]
	if !ok || v == "" {
		return ""
	}
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	p := a.toneless.Replace(v)
	switch {
	case strings.HasPrefix(p, "zh"), strings.HasPrefix(p, "ch"), strings.HasPrefix(p, "sh"):
		p = p[:1] + p[2:]
	case strings.HasPrefix(p, "n"):
		p = "l" + p[1:]
	}
	if strings.HasSuffix(p, "ing") || strings.HasSuffix(p, "eng") {
		p = p[:len(p)-1]
	}
	return p
}

// correct rewrites homophone slips in s (normalized) to the knowledge base's spelling: at each
// position of a run of CJK characters, the longest 4–2 character phrase that is not the
// knowledge base's own but sounds like one of its phrases, and differs from it in one character
// (two of four), is replaced by it.
func (a *analyzer) correct(s string) string {
	rs := []rune(s)
	keys := make([]string, len(rs)) // each character's fuzzy pinyin; "" for none or a stop character
	for i, r := range rs {
		if !isHan(r) || strings.ContainsRune(stopChars, r) {
			continue
		}
		p, ok := a.py[r]
		if !ok {
			p = a.fuzzyPinyin(r)
		}
		keys[i] = p
	}
	fixed := make([]bool, len(rs)) // inside a phrase the knowledge base uses: not a slip
	// First every character inside a curated phrase the knowledge base uses often is fixed, so
	// that a run across a word boundary cannot rewrite it ("我们工会" must not become "我们公会"
	// because phrasings say "我们公司").
	for i := range rs {
		for n := 4; n >= 2; n-- {
			if i+n <= len(rs) && a.curated[string(rs[i:i+n])] && a.phrases[string(rs[i:i+n])] >= minSlipTarget {
				for j := i; j < i+n; j++ {
					fixed[j] = true
				}
				break
			}
		}
	}
	changed := false
	var key strings.Builder
	for i := range rs {
	lengths:
		for n := 4; n >= 2; n-- {
			if i+n > len(rs) {
				continue
			}
			key.Reset()
			for _, k := range keys[i : i+n] {
				if k == "" {
					continue lengths
				}
				key.WriteString(k)
				key.WriteByte(' ')
			}
			typed := string(rs[i : i+n])
			w, ok := a.sounds[key.String()]
			seen := a.phrases[typed]
			switch {
			case a.curated[typed] || (seen > 0 && ok && (w == typed || seen*slipRatio > a.phrases[w])):
				for j := i; j < i+n; j++ {
					fixed[j] = true // the knowledge base's own spelling
				}
				break lengths
			case !ok:
				continue // no phrase sounds like it (a phrasing's own run is no proof of spelling)
			}
			if want := []rune(w); slip(rs[i:i+n], want, fixed[i:i+n]) {
				copy(rs[i:i+n], want)
				for j := i; j < i+n; j++ {
					fixed[j] = true
				}
				changed = true
				break
			}
		}
	}
	if !changed {
		return s
	}
	return string(rs)
}

// A phrase only the similar phrasings use is still read as a slip when a phrase that sounds the
// same is used at least slipRatio times as often: a phrasing written with a slip on purpose
// ("二次保销", "门珍") must not make the slip a spelling of its own, which would tie every question
// with that slip to the entries that have it. Questions, answers and the lexicon are written with
// care: their phrases are never slips.
const slipRatio = 3

// curatedFirst ranks any curated phrase above every phrase only phrasings use as a sound's target.
const curatedFirst = 1 << 20

// slip reports whether typed is a plausible slip for want: same length, and at most one
// character different (two in four), as when an input method offers the wrong homophone, and
// none of the different ones fixed (part of a phrase the knowledge base uses).
func slip(typed, want []rune, fixed []bool) bool {
	if len(typed) != len(want) {
		return false
	}
	diff := 0
	for i := range typed {
		if typed[i] != want[i] {
			if fixed[i] {
				return false
			}
			diff++
		}
	}
	return diff >= 1 && diff <= max(1, len(typed)/2)
}

// prepare is the text retrieval reads: normalized, slips corrected (query only), sayings
// rewritten to terms.
func (a *analyzer) prepare(s string, query bool) string {
	s = normalize(s)
	if query {
		s = a.correct(s)
	}
	return a.rewrite.Replace(s)
}

// terms returns the retrieval terms of prepared text: its characters and runs (tokens), and its
// whole words (longest first, each occurrence once, not overlapping a longer one).
func (a *analyzer) terms(prepared string) (chars, words []string) {
	chars = tokens(prepared)
	if len(a.words) == 0 {
		return chars, nil
	}
	rest := prepared
	for _, w := range a.words {
		if n := strings.Count(rest, w); n > 0 {
			for range n {
				words = append(words, wordPrefix+w)
			}
			rest = strings.ReplaceAll(rest, w, "\x00")
		}
	}
	return chars, words
}

// checkLexicon returns the problems of the lexicon and the domain words: terms and sayings of
// 2–12 characters, a saying in one group only and never itself a term, at least one saying per
// term, each term and word found in the knowledge base's text (kbText, after rewriting), so that
// a rewrite always leads somewhere.
func checkLexicon(lex []LexTerm, words []string, kbText string, bad func(entry, field, message, format string, a ...any)) {
	said := map[string]string{} // saying → its term
	terms := map[string]bool{}
	size := func(s string) bool { n := utf8.RuneCountInString(s); return n >= lexMinRunes && n <= lexMaxRunes }
	for i, t := range lex {
		who := fmt.Sprintf("lexicon #%d", i+1)
		term := strings.TrimSpace(t.Term)
		switch {
		case term == "":
			bad("", "lexicon", fmt.Sprintf("词表第 %d 组没有写标准说法（term）", i+1), "%s: term is empty (example: term: 年度最高)", who)
			continue
		case !size(term):
			bad("", "lexicon", fmt.Sprintf("词表的标准说法“%s”要 %d 到 %d 个字", term, lexMinRunes, lexMaxRunes),
				"%s: term %q must be %d to %d characters", who, term, lexMinRunes, lexMaxRunes)
		case terms[term]:
			bad("", "lexicon", "词表的标准说法“"+term+"”写了两组，请合并", "%s: term %q is given twice; merge the groups", who, term)
		case !strings.Contains(kbText, normalize(term)):
			bad("", "lexicon", "词表的标准说法“"+term+"”在问答里一处也没有：改写过去也找不到答案，请用问答里的说法",
				"%s: term %q appears in no entry, so rewriting to it leads nowhere (use a phrase the entries use)", who, term)
		}
		terms[term] = true
		if len(t.Say) == 0 {
			bad("", "lexicon", "词表的“"+term+"”没有口语说法（say）", "%s: term %q has no sayings (example: say: [封顶线, 最高额度])", who, term)
		}
		for _, s := range t.Say {
			s = strings.TrimSpace(s)
			switch other, dup := said[s]; {
			case !size(s):
				bad("", "lexicon", fmt.Sprintf("词表的口语说法“%s”要 %d 到 %d 个字", s, lexMinRunes, lexMaxRunes),
					"%s: saying %q must be %d to %d characters", who, s, lexMinRunes, lexMaxRunes)
			case dup && other == term:
				bad("", "lexicon", fmt.Sprintf("口语说法“%s”在“%s”里已经有了", s, term), "%s: saying %q is given twice", who, s)
			case dup:
				bad("", "lexicon", fmt.Sprintf("口语说法“%s”同时属于“%s”和“%s”，只能属于一组", s, other, term),
					"%s: saying %q is in the groups of %q and %q", who, s, other, term)
			case s == term:
				bad("", "lexicon", "口语说法“"+s+"”和标准说法一样，删掉它", "%s: saying %q equals its term", who, s)
			}
			said[s] = term
		}
	}
	for s, term := range said {
		if terms[s] {
			bad("", "lexicon", fmt.Sprintf("“%s”既是标准说法又是“%s”的口语说法", s, term), "saying %q of %q is also a term", s, term)
		}
	}
	for _, w := range words {
		w = strings.TrimSpace(w)
		switch {
		case !size(w):
			bad("", "words", fmt.Sprintf("词“%s”要 %d 到 %d 个字", w, lexMinRunes, lexMaxRunes), "word %q must be %d to %d characters", w, lexMinRunes, lexMaxRunes)
		case !strings.Contains(kbText, normalize(w)):
			bad("", "words", "词“"+w+"”在问答里一处也没有，留着没用", "word %q appears in no entry", w)
		}
	}
}

// checkOfftopic returns the off-topic words normalized, adding a problem for each that is not
// 2–12 characters or that the knowledge base's text (kbText, after rewriting) uses: a word of a
// topic the bot answers would decline its own questions.
func checkOfftopic(words []string, kbText string, bad func(entry, field, message, format string, a ...any)) []string {
	norm := make([]string, len(words))
	for i, w := range words {
		norm[i] = normalize(strings.TrimSpace(w))
	}
	inKB := newWordSet(norm).found(kbText) // one pass over the text, not one per word
	var out []string
	for _, w := range norm {
		switch n := utf8.RuneCountInString(w); {
		case n < lexMinRunes || n > lexMaxRunes:
			bad("", "offtopic", fmt.Sprintf("不答的话题词“%s”要 %d 到 %d 个字", w, lexMinRunes, lexMaxRunes),
				"word %q must be %d to %d characters", w, lexMinRunes, lexMaxRunes)
		case inKB[w]:
			bad("", "offtopic", "不答的话题词“"+w+"”在问答里出现了：带这个词的问题会被拒答，请删掉它或换个更具体的词",
				"word %q appears in the entries, so questions they answer would be declined", w)
		default:
			out = append(out, w)
		}
	}
	return out
}

// checkNeeds returns, per entry, the normalized words of faq.yaml's needs: each names an existing
// entry and each word is 1–12 characters. (Build checks, once the analyzer is built, that the
// entry's question and every phrasing say one of its words: one without could never find it.)
func checkNeeds(needs map[string][]string, entries []Entry, byID map[string]int, bad func(entry, field, message, format string, a ...any)) [][]string {
	out := make([][]string, len(entries))
	ids := slices.Sorted(maps.Keys(needs))
	for _, id := range ids {
		i, ok := byID[id]
		if !ok {
			bad("", "needs", "needs 里的条目 "+id+" 不存在", "needs: entry %q does not exist", id)
			continue
		}
		if len(needs[id]) == 0 {
			bad(id, "needs", "needs 里的“"+id+"”没有写词", "needs: entry %q has no words", id)
			continue
		}
		for _, w := range needs[id] {
			w = normalize(strings.TrimSpace(w))
			if n := utf8.RuneCountInString(w); n < 1 || n > lexMaxRunes {
				bad(id, "needs", fmt.Sprintf("needs 的词“%s”要 1 到 %d 个字", w, lexMaxRunes), "needs: word %q must be 1 to %d characters", w, lexMaxRunes)
				continue
			}
			out[i] = append(out[i], w)
		}
	}
	return out
}
