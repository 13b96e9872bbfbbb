package bot

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// relevance tells questions about the plan from questions about anything else, beyond the
// off-topic word list: a naive Bayes model over the characters and adjacent character pairs of
// the question (as the analyzer reads it), trained on the knowledge base's questions and
// phrasings (about the plan) and on faq.yaml's offtopic_examples and offtopic words (not). The
// off-topic list catches the topics someone thought of; the model catches their neighbours
// (a question about a dormitory's air conditioning shares no listed word, but its characters
// and pairs look like the examples' and not like the phrasings').
type relevance struct {
	logOdds map[string]float64 // feature → log P(f | off-topic) − log P(f | plan)
}

// relevanceAlpha is the additive smoothing of the feature counts.
const relevanceAlpha = 0.5

// relevanceFeatures returns the features of analyzed text: its characters and adjacent pairs.
func relevanceFeatures(chars []string) []string {
	out := make([]string, 0, 2*len(chars))
	out = append(out, chars...)
	for i := 1; i < len(chars); i++ {
		out = append(out, chars[i-1]+chars[i])
	}
	return out
}

// newRelevance trains the model on the lines about the plan (in, as the index analyzed them) and
// on off-topic texts (out).
func newRelevance(an *analyzer, in []line, out []string) *relevance {
	cin, cout := map[string]float64{}, map[string]float64{}
	var nin, nout float64
	for _, l := range in {
		for _, f := range relevanceFeatures(l.chars) {
			cin[f]++
			nin++
		}
	}
	for _, t := range out {
		chars, _ := an.terms(an.prepare(t, true))
		for _, f := range relevanceFeatures(chars) {
			cout[f]++
			nout++
		}
	}
	vocab := map[string]bool{}
	for f := range cin {
		vocab[f] = true
	}
	for f := range cout {
		vocab[f] = true
	}
	v := float64(len(vocab))
	r := &relevance{logOdds: make(map[string]float64, len(vocab))}
	for f := range vocab {
		r.logOdds[f] = math.Log((cout[f]+relevanceAlpha)/(nout+relevanceAlpha*v)) - math.Log((cin[f]+relevanceAlpha)/(nin+relevanceAlpha*v))
	}
	return r
}

// offtopic returns the mean log-odds of analyzed text's known features (chars: its characters)
// being off-topic rather than about the plan (above 0: more like the off-topic examples), and how
// many features it knew.
func (r *relevance) offtopic(chars []string) (float64, int) {
	if r == nil {
		return 0, 0
	}
	var sum float64
	n := 0
	for _, f := range relevanceFeatures(chars) {
		if lo, ok := r.logOdds[f]; ok {
			sum += lo
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}

// exampleMaxRunes bounds an off-topic example: a question, not a document.
const exampleMaxRunes = 200

// checkExamples adds a problem for each off-topic example that is empty, longer than
// exampleMaxRunes or also a question or phrasing of an entry (which would teach the model that a
// question the bot answers is off-topic).
func checkExamples(examples []string, entries []Entry, bad func(entry, field, message, format string, a ...any)) {
	asked := map[string]string{}
	for _, e := range entries {
		for _, q := range append([]string{e.Question}, e.Phrasings...) {
			asked[compact(q)] = e.ID
		}
	}
	for i, x := range examples {
		switch n := utf8.RuneCountInString(strings.TrimSpace(x)); {
		case n == 0:
			bad("", "offtopic_examples", fmt.Sprintf("不答的问题例子第 %d 条是空的", i+1), "example #%d is empty", i+1)
		case n > exampleMaxRunes:
			bad("", "offtopic_examples", fmt.Sprintf("不答的问题例子第 %d 条有 %d 个字，最多 %d 个", i+1, n, exampleMaxRunes),
				"example #%d has %d characters, at most %d", i+1, n, exampleMaxRunes)
		default:
			if id, ok := asked[compact(x)]; ok {
				bad(id, "offtopic_examples", "“"+x+"”既是不答的例子，又是这一条的问法：请删掉其中一个",
					"example %q is also a question or phrasing of %s", x, id)
			}
		}
	}
}
