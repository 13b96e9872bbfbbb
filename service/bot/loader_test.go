package bot

import (
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
	var total, right, first int
	var misses []string
	for i, e := range kb.Entries() {
		for j, p := range e.Phrasings {
			entries := kb.Entries()
			entries[i].Phrasings = append(entries[i].Phrasings[:j:j], entries[i].Phrasings[j+1:]...)
			ix := buildIndex(entryDocs(entries))
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

func BenchmarkMatch(b *testing.B) {
	kb := shippedKB(b)
	qs := []string{"我的钱到了没", "京卡丢了怎么补办", "农名工能报不", "今天天气怎么样", "一年最多能报多少钱"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		kb.Match(qs[i%len(qs)])
	}
}
