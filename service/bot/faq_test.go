package bot

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"huzhu/config"
	"huzhu/service/policy"
)

// shippedKB parses the shipped knowledge base under the shipped policy versions.
func shippedKB(t testing.TB) *KB {
	t.Helper()
	kb, err := ParseFAQ(config.FAQYAML, shippedVersions(t), Links{}, Thresholds{})
	if err != nil {
		t.Fatalf("ParseFAQ(config/faq.yaml): %v", err)
	}
	return kb
}

func shippedVersions(t testing.TB) []policy.Version {
	t.Helper()
	vs, err := policy.ParseYAML(config.PolicyYAML)
	if err != nil {
		t.Fatalf("policy.ParseYAML: %v", err)
	}
	return vs
}

type evalCase struct {
	Q      string `yaml:"q"`
	Expect string `yaml:"expect"`
}

func loadEval(t testing.TB) []evalCase { return loadCases(t, "eval.yaml") }

func loadCases(t testing.TB, name string) []evalCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "bot", name))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Questions []evalCase `yaml:"questions"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f.Questions
}

// evalResult are the figures TestEval prints.
type evalResult struct {
	answerable, top1, rank1, top3 int
	declineWant, declineOK        int // expected declines, and how many the bot declined
	declined, declinedRight       int // the bot's declines, and how many were expected
	misses                        []string
}

func runEval(kb *KB, cases []evalCase) evalResult {
	var r evalResult
	for _, c := range cases {
		m := kb.Match(c.Q)
		if m.Band != BandAnswer {
			r.declined++
			if c.Expect == "decline" {
				r.declinedRight++
			}
		}
		if c.Expect == "decline" {
			r.declineWant++
			if m.Band != BandAnswer {
				r.declineOK++
			} else {
				r.misses = append(r.misses, fmt.Sprintf("%q: want decline, answered %s (conf %.2f)", c.Q, m.Best(), m.Hits[0].Confidence))
			}
			continue
		}
		r.answerable++
		if m.Best() == c.Expect {
			r.rank1++
		}
		for _, h := range m.Hits {
			if h.ID == c.Expect {
				r.top3++
			}
		}
		if m.Band == BandAnswer && m.Best() == c.Expect {
			r.top1++
			continue
		}
		got, conf := "nothing", 0.0
		if len(m.Hits) > 0 {
			got, conf = m.Best(), m.Hits[0].Confidence
		}
		r.misses = append(r.misses, fmt.Sprintf("%q: want %s, got %s %s (conf %.2f)", c.Q, c.Expect, m.Band, got, conf))
	}
	return r
}

func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

// TestEval measures retrieval on testdata/bot/eval.yaml. Top-1 counts a question as right only
// when the bot answers it directly with the expected entry; decline precision is the share of
// the bot's declines that were expected, decline recall the share of expected declines the bot
// made.
func TestEval(t *testing.T) {
	kb := shippedKB(t)
	cases := loadEval(t)
	if len(cases) < 150 {
		t.Fatalf("eval set has %d questions, want at least 150", len(cases))
	}
	for _, c := range cases {
		if _, ok := kb.Entry(c.Expect); !ok && c.Expect != "decline" {
			t.Errorf("eval question %q expects unknown entry %q", c.Q, c.Expect)
		}
	}
	r := runEval(kb, cases)
	top1 := pct(r.top1, r.answerable)
	prec := pct(r.declinedRight, r.declined)
	recall := pct(r.declineOK, r.declineWant)
	t.Logf("eval: %d questions (%d answerable, %d to decline)", len(cases), r.answerable, r.declineWant)
	t.Logf("top-1 answered correctly: %d/%d = %.1f%% (best entry ranked first: %.1f%%, in top 3: %.1f%%)",
		r.top1, r.answerable, top1, pct(r.rank1, r.answerable), pct(r.top3, r.answerable))
	t.Logf("decline precision: %d/%d = %.1f%%; decline recall: %d/%d = %.1f%%",
		r.declinedRight, r.declined, prec, r.declineOK, r.declineWant, recall)
	for _, m := range r.misses {
		t.Logf("miss: %s", m)
	}
	if top1 < 90 {
		t.Errorf("top-1 = %.1f%%, want at least 90%%", top1)
	}
	if prec < 95 {
		t.Errorf("decline precision = %.1f%%, want at least 95%%", prec)
	}
	if recall < 95 {
		t.Errorf("decline recall = %.1f%%, want at least 95%%", recall)
	}
}

// TestHoldout reports the figures on questions nobody tuned on (testdata/bot/holdout.yaml). Its
// floor is lower than TestEval's: it guards against a collapse, not a score.
func TestHoldout(t *testing.T) {
	kb := shippedKB(t)
	cases := loadCases(t, "holdout.yaml")
	for _, c := range cases {
		if _, ok := kb.Entry(c.Expect); !ok && c.Expect != "decline" {
			t.Errorf("held-out question %q expects unknown entry %q", c.Q, c.Expect)
		}
	}
	r := runEval(kb, cases)
	top1, recall := pct(r.top1, r.answerable), pct(r.declineOK, r.declineWant)
	t.Logf("held-out: %d questions; top-1 %d/%d = %.1f%% (in top 3: %.1f%%); declines %d/%d, decline precision %d/%d",
		len(cases), r.top1, r.answerable, top1, pct(r.top3, r.answerable), r.declineOK, r.declineWant, r.declinedRight, r.declined)
	for _, m := range r.misses {
		t.Logf("miss: %s", m)
	}
	if top1 < 70 || recall < 80 {
		t.Errorf("held-out top-1 %.1f%%, decline recall %.1f%%: want at least 70%% and 80%%", top1, recall)
	}
}

// TestEvalDisjoint keeps the evaluation honest: no eval question may equal a question or
// phrasing of the knowledge base (ignoring spaces and punctuation), or a pinned text.
func TestEvalDisjoint(t *testing.T) {
	kb := shippedKB(t)
	faq := map[string]string{}
	for _, e := range kb.Entries() {
		for _, p := range append([]string{e.Question}, e.Phrasings...) {
			faq[compact(p)] = e.ID
		}
	}
	for _, c := range loadEval(t) {
		if id, ok := faq[compact(c.Q)]; ok {
			t.Errorf("eval question %q is also a phrasing of %s: write a different one", c.Q, id)
		}
	}
	seen := map[string]bool{}
	for _, c := range loadEval(t) {
		if seen[compact(c.Q)] {
			t.Errorf("eval question %q is given twice", c.Q)
		}
		seen[compact(c.Q)] = true
	}
}

// TestHoldoutV2 reports strict top-1 and declines on testdata/bot/holdout_v2.yaml: questions in
// workers' own voice (typos, homophones, very short and very long ones) written by someone who
// never saw the FAQ, committed before any tuning for it. Nobody tunes on it: a miss is fixed by
// improving retrieval or the FAQ from other evidence, never by copying these sentences. Its
// floors are the goal less a margin for noise, so a regression shows.
func TestHoldoutV2(t *testing.T) {
	kb := shippedKB(t)
	cases := loadCases(t, "holdout_v2.yaml")
	if len(cases) < 120 {
		t.Fatalf("held-out v2 has %d questions, want at least 120", len(cases))
	}
	for _, c := range cases {
		if _, ok := kb.Entry(c.Expect); !ok && c.Expect != "decline" {
			t.Errorf("held-out v2 question %q expects unknown entry %q", c.Q, c.Expect)
		}
	}
	r := runEval(kb, cases)
	top1, recall, prec := pct(r.top1, r.answerable), pct(r.declineOK, r.declineWant), pct(r.declinedRight, r.declined)
	t.Logf("held-out v2: %d questions; top-1 %d/%d = %.1f%% (in top 3: %.1f%%); decline recall %d/%d = %.1f%%, decline precision %d/%d = %.1f%%",
		len(cases), r.top1, r.answerable, top1, pct(r.top3, r.answerable), r.declineOK, r.declineWant, recall, r.declinedRight, r.declined, prec)
	if top1 < holdoutV2Top1Floor || recall < holdoutV2DeclineFloor {
		t.Errorf("held-out v2 top-1 %.1f%%, decline recall %.1f%%: want at least %.0f%% and %.0f%%", top1, recall, holdoutV2Top1Floor, holdoutV2DeclineFloor)
	}
}

// Floors of TestHoldoutV2, set from the figures at the commit that added the set (see README).
const (
	holdoutV2Top1Floor    = 72.0
	holdoutV2DeclineFloor = 88.0
)
