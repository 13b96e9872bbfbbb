package bot

import (
	"slices"
	"strings"
	"testing"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/policy"
)

func TestParseFAQRejects(t *testing.T) {
	entry := func(id, q string, ph ...string) string {
		return "  - id: " + id + "\n    kind: plan\n    question: " + q + "\n    phrasings: [" + strings.Join(ph, ", ") +
			"]\n    answer: 每年最多{cap}。\n"
	}
	ok := entry("a", "问题甲", "甲一", "甲二", "甲三") + entry("b", "问题乙", "乙一", "乙二", "乙三")
	tests := []struct {
		name  string
		yaml  string
		wants []string
	}{
		{"valid", "entries:\n" + ok, nil},
		{"duplicate id", "entries:\n" + ok + entry("a", "问题丙", "丙一", "丙二", "丙三"), []string{"a: id is used twice"}},
		{"phrasing in two entries", "entries:\n" + ok + entry("c", "问题丙", "丙一", "甲二！", "丙三"), []string{`phrasing "甲二！" is also in a`}},
		{"too few phrasings", "entries:\n" + entry("a", "问题甲", "甲一"), []string{"has 1 phrasings, want at least 3"}},
		{"unknown placeholder", "entries:\n" + strings.Replace(ok, "{cap}", "{caps}", 1), []string{"unknown placeholder {caps}"}},
		{"unknown key", "entries:\n" + ok + "    anwser: x\n", []string{"not valid YAML"}},
		{"pinned to nothing", "pinned:\n  - {entry: zz, texts: [\"1\"]}\nentries:\n" + ok, []string{`pinned: entry "zz" does not exist`}},
		{"valid lexicon", "lexicon:\n  - {term: 问题甲, say: [甲的事]}\nwords: [问题乙]\nentries:\n" + ok, nil},
		{"lexicon term nowhere", "lexicon:\n  - {term: 年度最高, say: [封顶线]}\nentries:\n" + ok, []string{`term "年度最高" appears in no entry`}},
		{"lexicon saying in two groups", "lexicon:\n  - {term: 问题甲, say: [甲的事]}\n  - {term: 问题乙, say: [甲的事]}\nentries:\n" + ok,
			[]string{`saying "甲的事" is in the groups of "问题甲" and "问题乙"`}},
		{"lexicon without sayings", "lexicon:\n  - {term: 问题甲}\nentries:\n" + ok, []string{`term "问题甲" has no sayings`}},
		{"lexicon saying too short", "lexicon:\n  - {term: 问题甲, say: [甲]}\nentries:\n" + ok, []string{`saying "甲" must be 2 to 12 characters`}},
		{"lexicon saying is a term", "lexicon:\n  - {term: 问题甲, say: [问题乙]}\n  - {term: 问题乙, say: [乙的事]}\nentries:\n" + ok,
			[]string{`saying "问题乙" of "问题甲" is also a term`}},
		{"word nowhere", "words: [京卡]\nentries:\n" + ok, []string{`word "京卡" appears in no entry`}},
		{"valid offtopic", "offtopic: [落户, 加班费]\nentries:\n" + ok, nil},
		{"offtopic word the entries use", "offtopic: [落户, 问题甲]\nentries:\n" + ok, []string{`word "问题甲" appears in the entries`}},
		{"offtopic word too short", "offtopic: [税]\nentries:\n" + ok, []string{`word "税" must be 2 to 12 characters`}},
		{"answer too long", "entries:\n" + strings.Replace(ok, "每年最多{cap}。", strings.Repeat("很长的回答。", 120), 1), []string{"bytes, want at most"}},
	}
	vs := shippedVersions(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFAQ([]byte(tc.yaml), vs, Links{}, Thresholds{})
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("ParseFAQ = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseFAQ = nil, want %q", tc.wants)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseFAQ error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestLeaveOneOut removes each phrasing in turn from its entry and checks that the rest of the
// knowledge base still retrieves the entry for it among the three questions the bot would offer,
// so that no entry hangs on one wording. (Ranked first is reported too; single-character BM25
// ranks a phrasing whose telling word appears nowhere else in its entry below a neighbour that
// has it, which is why entries need several phrasings.)
func TestLeaveOneOut(t *testing.T) {
	kb := shippedKB(t)
	an := kb.cur.Load().ix.an
	docs := entryDocs(kb.Entries(), an) // analyzed once; each round leaves one line out
	stride := 1
	if raceOn {
		stride = 7 // every seventh phrasing: the whole set takes minutes under the race detector
	}
	var total, right, first, seen int
	var misses []string
	for i, e := range kb.Entries() {
		for j, p := range e.Phrasings {
			if seen++; seen%stride != 0 {
				continue
			}
			round := slices.Clone(docs)
			q := docs[i].q // line 0 is the question, line j+1 the phrasing left out
			round[i].q = append(q[:j+1:j+1], q[j+2:]...)
			ix := buildIndex(round, an)
			total++
			res := ix.search(p, 3)
			if len(res) > 0 && res[0].doc == i {
				first++
			}
			found := false
			for _, r := range res {
				found = found || r.doc == i
			}
			if found {
				right++
				continue
			}
			misses = append(misses, e.ID+": "+p)
		}
	}
	share := pct(right, total)
	t.Logf("leave-one-out: %d/%d phrasings retrieve their own entry in the top 3 (%.1f%%), %d ranked first (%.1f%%)",
		right, total, share, first, pct(first, total))
	for _, m := range misses {
		t.Logf("leave-one-out miss: %s", m)
	}
	if share < 80 {
		t.Errorf("leave-one-out top 3 = %.1f%%, want at least 80%%", share)
	}
}

// TestShippedAnswers renders every answer under every shipped policy version and checks the
// figures come from the policy: no placeholder is left and the cap of each version shows.
func TestShippedAnswers(t *testing.T) {
	kb := shippedKB(t)
	for _, v := range shippedVersions(t) {
		for _, e := range kb.Entries() {
			got, _ := kb.Render(e.ID, v.EffectiveFrom)
			if placeholderRe.MatchString(got) || len(got) > MaxReplyBytes {
				t.Errorf("%s under %s: %d bytes, %q", e.ID, v.Code, len(got), got)
			}
		}
		got, _ := kb.Render("cap", v.EffectiveFrom)
		if want := yuanText(v.AnnualCapFen); !strings.Contains(got, want) {
			t.Errorf("cap under %s = %q, want %s", v.Code, got, want)
		}
	}
	// A policy change changes the answers without touching the knowledge base.
	vs := shippedVersions(t)
	changed := vs[len(vs)-1]
	changed.Code, changed.EffectiveFrom, changed.AnnualCapFen = "2030", "2030-01-01", 30065300
	changed.Claims = map[model.ClaimType]policy.ClaimRule{}
	for c, r := range vs[len(vs)-1].Claims {
		r.RatioBP = 6000
		changed.Claims[c] = r
	}
	kb2, err := ParseFAQ(config.FAQYAML, append(vs, changed), Links{}, Thresholds{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := kb2.Render("ratio", "2030-02-01")
	if !strings.Contains(got, "门诊60%") || !strings.Contains(got, "1000元，按60%大约可得600元") {
		t.Errorf("ratio under a 60%% version = %q", got)
	}
	got, _ = kb2.Render("cap", "2030-02-01")
	if !strings.Contains(got, "300653元") || !strings.Contains(got, "此前是200653元") {
		t.Errorf("cap under a new version = %q", got)
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"我的钱到了吗？", "我 钱 到"},
		{"京卡ＡＢＣ１２３丢了", "京 卡 abc123 丢"},
		{"自付1是啥", "自 付 1 是"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := strings.Join(tokens(tc.in), " "); got != tc.want {
			t.Errorf("tokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestAnalyzer checks how a question is read before retrieval: homophone slips corrected to the
// knowledge base's spelling only where they differ from one of its phrases in one character,
// sayings rewritten to the lexicon's terms, and whole words added.
func TestAnalyzer(t *testing.T) {
	an := shippedKB(t).cur.Load().ix.an
	tests := []struct {
		in, prepared string
		words        []string
	}{
		{"二次保销是什么意思", "二次报销是什么意思", nil},
		{"农名工能报不", "农民工能报不", []string{"w:农民工"}},
		{"钱到帐了吗", "钱到账了吗", nil},
		{"最多能报多少", "年度最高", []string{"w:年度最高"}},
		{"门珍也报吗", "门诊也报吗", nil}, // a slip some phrasing has on purpose is still a slip
		{"医保在老家交的可以参加吗", "外地参保交的可以参加吗", []string{"w:外地参保"}},
		{"京卡掉了", "京卡丢了", []string{"w:丢了", "w:京卡"}},
		{"去上海看病花的", "去外地看病花的", []string{"w:外地"}},
		{"最高额渡多少", "年度最高多少", []string{"w:年度最高"}}, // a slip of a saying, then the saying
		// not slips: chit-chat stays as typed
		{"帮我写个请假条", "帮我写个请假条", nil},
		{"驾照到期了怎么换", "驾照到期了怎么换", nil},
		{"北京今天限号吗", "北京今天限号吗", nil},
	}
	for _, tc := range tests {
		got := an.prepare(tc.in, true)
		_, words := an.terms(got)
		if got != tc.prepared || strings.Join(words, " ") != strings.Join(tc.words, " ") {
			t.Errorf("prepare(%q) = %q %v, want %q %v", tc.in, got, words, tc.prepared, tc.words)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	kb := shippedKB(b)
	qs := []string{"我的钱到了没", "京卡丢了怎么补办", "农名工能报不", "今天天气怎么样", "一年最多能报多少钱"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		kb.Match(qs[i%len(qs)])
	}
}

// BenchmarkMatchStory is Match of long questions (stories), which are also looked up clause by
// clause.
func BenchmarkMatchStory(b *testing.B) {
	kb := shippedKB(b)
	qs := []string{"我上个月在单位附近的医院做了个小手术 医保结算完自己又掏了三千多 听说有个二次报销能返一部分 这个钱一般过多久能打到卡上",
		"前两天坐地铁把钱包丢了 里面有身份证社保卡还有京卡 身份证已经补了 京卡咋办 会不会影响我二次报销的钱到账",
		"我在公司干了三年 老板突然说效益不好让我走人 一分钱补偿也不给 我想问问这种情况能要多少钱"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		kb.Match(qs[i%len(qs)])
	}
}

// BenchmarkParseFAQ is parsing the shipped knowledge base again: the build itself is
// remembered after the first (see BenchmarkBuild).
func BenchmarkParseFAQ(b *testing.B) {
	for b.Loop() {
		shippedKB(b)
	}
}

// BenchmarkBuild is building the shipped knowledge base without the cache, as a console edit does.
func BenchmarkBuild(b *testing.B) {
	src, err := ParseSource(config.FAQYAML)
	if err != nil {
		b.Fatal(err)
	}
	vs := shippedVersions(b)
	for b.Loop() {
		if _, err := src.build(vs, Links{}, DefaultThresholds()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBuildRemembered: building from the same source, versions, links and thresholds again
// returns the knowledge base built before; any difference builds anew.
func TestBuildRemembered(t *testing.T) {
	src, err := ParseSource(config.FAQYAML)
	if err != nil {
		t.Fatal(err)
	}
	vs := shippedVersions(t)
	a, err := src.Build(vs, Links{}, DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := src.Clone().Build(vs, Links{}, DefaultThresholds())
	if a.cur.Load() != b.cur.Load() {
		t.Error("the same source built twice: two knowledge bases")
	}
	th := DefaultThresholds()
	th.Answer += 0.01
	c, _ := src.Build(vs, Links{}, th)
	edited := src.Clone()
	e, _ := edited.Entry("cap")
	e.Phrasings = append(e.Phrasings, "一年到头最多给报多少钱呀")
	edited.Put(e)
	d, err := edited.Build(vs, Links{}, DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	for name, kb := range map[string]*KB{"other thresholds": c, "an edited entry": d} {
		if kb.cur.Load() == a.cur.Load() {
			t.Errorf("%s: the knowledge base built before was returned", name)
		}
	}
	if got := d.Match("一年到头最多给报多少钱呀"); got.Best() != "cap" || got.Band != BandAnswer {
		t.Errorf("the edited knowledge base does not answer its new phrasing: %v %s", got.Band, got.Best())
	}
}
