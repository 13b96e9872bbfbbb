package bot

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	heldOut(t, "holdout_v2.yaml", 120, holdoutV2Top1Floor, holdoutV2DeclineFloor)
}

// heldOut measures a held-out set of at least min questions and fails below its floors. It
// prints the figures only, never a miss: nobody reads what a held-out set's misses are.
func heldOut(t *testing.T, name string, min int, top1Floor, declineFloor float64) {
	t.Helper()
	kb := shippedKB(t)
	cases := loadCases(t, name)
	if len(cases) < min {
		t.Fatalf("%s has %d questions, want at least %d", name, len(cases), min)
	}
	for _, c := range cases {
		if _, ok := kb.Entry(c.Expect); !ok && c.Expect != "decline" {
			t.Errorf("%s: a question expects unknown entry %q", name, c.Expect)
		}
	}
	r := runEval(kb, cases)
	top1, recall, prec := pct(r.top1, r.answerable), pct(r.declineOK, r.declineWant), pct(r.declinedRight, r.declined)
	t.Logf("%s: %d questions; top-1 %d/%d = %.1f%% (in top 3: %.1f%%); decline recall %d/%d = %.1f%%, decline precision %d/%d = %.1f%%",
		name, len(cases), r.top1, r.answerable, top1, pct(r.top3, r.answerable), r.declineOK, r.declineWant, recall, r.declinedRight, r.declined, prec)
	if top1 < top1Floor || recall < declineFloor {
		t.Errorf("%s top-1 %.1f%%, decline recall %.1f%%: want at least %.0f%% and %.0f%%", name, top1, recall, top1Floor, declineFloor)
	}
}

// Floors of TestHoldoutV2, a margin below the figures at the commit that set them (91.9% and
// 97.3%; 70.5% before the retrieval work).
const (
	holdoutV2Top1Floor    = 89.0
	holdoutV2DeclineFloor = 94.0
)

// TestDevV2 measures retrieval on testdata/bot/dev_v2.yaml, the second development set: questions
// in workers' own voice (typing slips, very short and very long ones, dialect) written by someone
// who never saw the FAQ. The team tunes on it, so it is a development set, not a held-out one:
// its floors guard what tuning reached (set a little below the figures at the commit that set
// them), and a miss is fixed by general means (phrasings in new words, lexicon, ranking), never
// by copying its sentences into the knowledge base (checked here as TestEvalDisjoint checks
// eval.yaml).
func TestDevV2(t *testing.T) {
	devSet(t, "dev_v2.yaml", 500, devV2Top1Floor, devV2DeclineFloor, devV2SharedWithFAQ)
}

// devSet measures retrieval on a development set of at least min questions, fails below its
// floors, and fails when one of its questions is also a phrasing of the knowledge base (tuning
// writes phrasings in other words), unless it is one of shared: short everyday questions the
// set's writer and the FAQ's wrote alike on their own.
func devSet(t *testing.T, name string, min int, top1Floor, declineFloor float64, shared []string) {
	t.Helper()
	kb := shippedKB(t)
	cases := loadCases(t, name)
	if len(cases) < min {
		t.Fatalf("%s has %d questions, want at least %d", name, len(cases), min)
	}
	faq := map[string]string{}
	for _, e := range kb.Entries() {
		for _, p := range append([]string{e.Question}, e.Phrasings...) {
			faq[compact(p)] = e.ID
		}
	}
	for _, c := range cases {
		if _, ok := kb.Entry(c.Expect); !ok && c.Expect != "decline" {
			t.Errorf("%s question %q expects unknown entry %q", name, c.Q, c.Expect)
		}
		if id, ok := faq[compact(c.Q)]; ok && !slices.Contains(shared, c.Q) {
			t.Errorf("%s question %q is also a phrasing of %s: write the phrasing in other words", name, c.Q, id)
		}
	}
	r := runEval(kb, cases)
	top1, recall, prec := pct(r.top1, r.answerable), pct(r.declineOK, r.declineWant), pct(r.declinedRight, r.declined)
	t.Logf("%s: %d questions (%d answerable, %d to decline)", name, len(cases), r.answerable, r.declineWant)
	t.Logf("top-1 answered correctly: %d/%d = %.1f%% (best entry ranked first: %.1f%%, in top 3: %.1f%%)",
		r.top1, r.answerable, top1, pct(r.rank1, r.answerable), pct(r.top3, r.answerable))
	t.Logf("decline precision: %d/%d = %.1f%%; decline recall: %d/%d = %.1f%%",
		r.declinedRight, r.declined, prec, r.declineOK, r.declineWant, recall)
	for _, m := range r.misses {
		t.Logf("miss: %s", m)
	}
	if top1 < top1Floor || recall < declineFloor {
		t.Errorf("%s top-1 %.1f%%, decline recall %.1f%%: want at least %.0f%% and %.0f%%", name, top1, recall, top1Floor, declineFloor)
	}
}

// devV2SharedWithFAQ are the dev v2 questions that were already phrasings of the knowledge base
// when the set came in: short everyday questions its writer and the FAQ's wrote alike on their
// own. They stay; any other dev v2 question found among the phrasings was copied and fails.
var devV2SharedWithFAQ = []string{"我能参加不", "农民工能参加吗", "医保不在北京交的能参加吗", "家属能用吗", "怎么缴费参保",
	"自付一是什么", "得了重大疾病能多报吗", "二次报销怎么申请", "几号发钱", "到账短信是真的吗", "有多少人受益",
	"多少人领过互助金", "京卡是什么", "怎么办京卡", "京卡丢了怎么办", "能用其他银行卡领吗", "我的钱到了吗",
	"今年报了多少", "还能报多少", "离封顶还差多少", "下次什么时候到账", "怎么绑定", "估算能报多少", "您好 有人吗",
	"哈喽", "太感谢了", "你能做什么", "我要找真人", "客服电话", "社保卡丢了怎么补办", "怎么参加医保", "养老金的问题",
	"工伤怎么认定", "生育保险怎么报", "商业保险能同时报吗"}

// Floors of TestDevV2, a little below the figures at the commit that set them (91.3% top-1,
// 100% decline recall; 74.8% and 82.1% before any tuning for the set).
const (
	devV2Top1Floor    = 89.0
	devV2DeclineFloor = 95.0
)

// TestMatchRules checks the rules of Match beside retrieval on the shipped knowledge base, each
// against the same question without the rule's cue: whose money a question is about (a personal
// entry for the asker's own payment, its general twin otherwise, a decline for someone else's),
// off-topic words, and a long story's clear best entry.
func TestMatchRules(t *testing.T) {
	kb := shippedKB(t)
	tests := []struct {
		q, want string // want: an entry id answered, or "no answer" (suggested or declined)
	}{
		{"下回几号能到账", "my_next"},
		{"一般几号能到账", "when_paid"},
		{"我的那笔钱到了吗", "my_arrival"},
		{"同事的那笔钱到了吗", "no answer"},
		{"工友今年报了多少", "no answer"},
		{"同事说二次报销能报一半", "ratio"},
		{"加班费怎么算", "no answer"},
		{"工伤怎么算", "r_work_injury"},
		{"北京落户要什么条件", "no answer"},
		{"参加二次报销要什么条件", "who_covered"},
		{"我上个月在单位附近的医院做了个小手术 医保结算完自己又掏了三千多 听说有个二次报销能返一部分 这个钱一般过多久能打到卡上", "when_paid"},
		// a redirect entry only when its topic is named
		{"报销比例是多少", "ratio"},
		{"医保报销比例是多少", "r_basic_insurance"},
		// someone else's payment, asked about or to be looked up
		{"我的二次报销到了没", "my_arrival"},
		{"我老婆的二次报销到了没", "no answer"},
		{"帮我查一下我们班组每个人的互助金", "no answer"},
		// an off-topic word is found as typed, before slip correction reads 核酸 as 核算
		{"核酸在哪做", "no answer"},
		// … but not in a question that names the plan
		{"工资条上会扣钱吗", "no answer"},
		{"参加二次报销 工资条上会扣钱吗", "cost"},
		// the question buried in a story is found clause by clause
		{"我们厂里今年换了新的人事 什么都不清楚 我去年住了两次院 一直也没人跟我说 这个二次报销到底怎么申请", "how_to_claim"},
	}
	for _, tc := range tests {
		m := kb.Match(tc.q)
		got := "no answer"
		if m.Band == BandAnswer {
			got = m.Best()
		}
		if got != tc.want {
			t.Errorf("Match(%q) = %s (best %s, conf %.2f), want %s", tc.q, got, m.Best(), m.Hits[0].Confidence, tc.want)
		}
	}
}

// TestTuneThresholds searches the thresholds on the development sets (eval.yaml, dev_v2.yaml …
// dev_v5.yaml; never a held-out set) and prints the best settings by questions answered right
// plus twice the questions declined right. It only reports: set DefaultThresholds from it by
// hand. Run with HUZHU_BOT_TUNE=1.
func TestTuneThresholds(t *testing.T) {
	if os.Getenv("HUZHU_BOT_TUNE") == "" {
		t.Skip("set HUZHU_BOT_TUNE=1 to search the thresholds")
	}
	base := shippedKB(t)
	var cases []evalCase
	for _, name := range []string{"eval.yaml", "dev_v2.yaml", "dev_v3.yaml", "dev_v4.yaml", "dev_v5.yaml"} {
		cases = append(cases, loadCases(t, name)...)
	}
	type result struct {
		th    Thresholds
		score int
		r     evalResult
	}
	var results []result
	for _, answer := range []float64{0.35, 0.4, 0.45, 0.5, 0.55, 0.6} {
		for _, clearMin := range []float64{0.20, 0.25, 0.3, 0.35} {
			for _, clearGap := range []float64{0.2, 0.25, 0.3, 0.4} {
				for _, storyMin := range []float64{0.12, 0.16, 0.2} {
					for _, storyGap := range []float64{0.1, 0.15, 0.2} {
						th := Thresholds{Answer: answer, Suggest: 0.20, ClearMin: clearMin, ClearGap: clearGap, StoryMin: storyMin, StoryGap: storyGap}
						d := *base.cur.Load()
						d.th = th
						var kb KB
						kb.cur.Store(&d)
						r := runEval(&kb, cases)
						results = append(results, result{th, r.top1 + 2*r.declineOK, r})
					}
				}
			}
		}
	}
	slices.SortStableFunc(results, func(a, b result) int { return b.score - a.score })
	for _, x := range append(results[:10], results[len(results)-1]) {
		t.Logf("%+v: top-1 %d/%d, declines %d/%d", x.th, x.r.top1, x.r.answerable, x.r.declineOK, x.r.declineWant)
	}
	def := DefaultThresholds()
	for _, x := range results {
		if x.th == def {
			t.Logf("default %+v: top-1 %d/%d, declines %d/%d", x.th, x.r.top1, x.r.answerable, x.r.declineOK, x.r.declineWant)
		}
	}
}
