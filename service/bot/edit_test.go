package bot

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"huzhu/config"
	"huzhu/model"
)

// shippedSource is the shipped knowledge base as a Source.
func shippedSource(t testing.TB) *Source {
	t.Helper()
	s, err := ParseSource(config.FAQYAML)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bikeEntry answers a question the shipped knowledge base does not cover.
func bikeEntry() Entry {
	return Entry{ID: "bike_injury", Kind: KindPlan, Question: "骑自行车摔伤了能报吗？",
		Phrasings: []string{"骑车摔伤能不能二次报销", "自行车摔了看病能报吗", "骑单车受伤的医药费"},
		Answer:    "骑车摔伤去医院看病，医保结算后的自付一也能按比例报销，每人每年最多{cap}。"}
}

func TestOverrideRoundTrip(t *testing.T) {
	for _, o := range []Override{{Entry: bikeEntry()}, {Entry: bikeEntry(), Retired: true}} {
		b, err := MarshalOverride(o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseOverride(b)
		if err != nil {
			t.Fatalf("ParseOverride(%s) = %v", b, err)
		}
		if diff := cmp.Diff(o, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	if _, err := ParseOverride([]byte("id: x\nanwser: typo\n")); err == nil {
		t.Error("ParseOverride with an unknown key = nil, want an error")
	}
	a, b := Override{Entry: bikeEntry()}, Override{Entry: bikeEntry()}
	b.Entry.Answer += "！"
	if a.Revision() == b.Revision() || a.Revision() != (Override{Entry: bikeEntry()}).Revision() {
		t.Errorf("revisions %s %s: want equal for equal content, different otherwise", a.Revision(), b.Revision())
	}
}

// TestBuildProblems checks that an edit is refused for the same reasons the file is, each
// problem naming its entry and field with a Chinese message.
func TestBuildProblems(t *testing.T) {
	vs := shippedVersions(t)
	tests := []struct {
		name         string
		edit         func(e *Entry)
		entry, field string
		text         string
	}{
		{"two phrasings", func(e *Entry) { e.Phrasings = e.Phrasings[:2] }, "bike_injury", "phrasings", "want at least 3"},
		{"phrasing of another entry", func(e *Entry) { e.Phrasings[0] = "在职职工医疗互助保障计划是什么" }, "bike_injury", "phrasings", "is also in what_is"},
		{"unknown placeholder", func(e *Entry) { e.Answer += "{caps}" }, "bike_injury", "answer", "unknown placeholder {caps}"},
		{"bad kind", func(e *Entry) { e.Kind = "news" }, "bike_injury", "kind", `kind "news"`},
		{"bad id", func(e *Entry) { e.ID = "Bike Injury" }, "Bike Injury", "id", "lowercase"},
		{"no question", func(e *Entry) { e.Question = " " }, "bike_injury", "question", "question is required"},
		{"no answer", func(e *Entry) { e.Answer = "" }, "bike_injury", "answer", "answer is required"},
		{"unknown action", func(e *Entry) { e.Action = "pay_now" }, "bike_injury", "action", `action "pay_now"`},
		{"too long", func(e *Entry) { e.Answer = strings.Repeat("很长的回答。", 120) }, "bike_injury", "answer", "bytes, want at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := shippedSource(t)
			e := bikeEntry()
			tc.edit(&e)
			s.Put(e)
			_, err := s.Build(vs, Links{}, Thresholds{})
			ps := Problems(err)
			if len(ps) == 0 {
				t.Fatalf("Build = %v, want problems", err)
			}
			p := ps[0]
			if p.Entry != tc.entry || p.Field != tc.field || !strings.Contains(p.Text, tc.text) || p.Message == "" ||
				!strings.Contains(err.Error(), "faq: "+tc.entry+": ") {
				t.Errorf("problem = %+v (error %q), want entry %s field %s text ~%q and a message", p, err, tc.entry, tc.field, tc.text)
			}
		})
	}
}

func TestSourceEdits(t *testing.T) {
	vs := shippedVersions(t)
	s := shippedSource(t)
	n := len(s.IDs())
	s.Put(bikeEntry())
	if ids := s.IDs(); len(ids) != n+1 || ids[n] != "bike_injury" {
		t.Fatalf("after Put of a new entry: %d ids, last %q", len(ids), ids[len(ids)-1])
	}
	e, _ := s.Entry("cap")
	e.Answer = "每人每年最多{cap}（后台修改）。"
	s.Put(e)
	if i := slices.Index(s.IDs(), "cap"); i != slices.Index(shippedSource(t).IDs(), "cap") || len(s.IDs()) != n+1 {
		t.Fatalf("Put of an existing entry moved it to %d or added it", i)
	}
	// Retiring a popular, pinned entry takes its pinned texts and its popular place with it.
	if !s.Retire("hotline") || !s.Retire("my_arrival") || s.Retire("nope") {
		t.Fatal("Retire: want true for existing entries, false for unknown")
	}
	kb, err := s.Build(vs, Links{}, Thresholds{})
	if err != nil {
		t.Fatalf("Build after edits = %v", err)
	}
	if m := kb.Match("电话"); m.Pinned || m.Best() == "hotline" {
		t.Errorf("Match(电话) after retiring hotline = %+v", m)
	}
	for _, h := range kb.Popular() {
		if h.ID == "my_arrival" {
			t.Error("retired my_arrival is still popular")
		}
	}
	if got, _ := kb.Render("cap", "2025-05-10"); got != "每人每年最多200653元（后台修改）。" {
		t.Errorf("Render(cap) = %q", got)
	}
	if m := kb.Match("骑车摔伤了可以报销吗"); m.Band != BandAnswer || m.Best() != "bike_injury" {
		t.Errorf("Match for the added entry = %v %q, want answer bike_injury", m.Band, m.Best())
	}
}

// TestSwapWhileAnswering answers continuously while an edited knowledge base is swapped in and
// out: each answer comes whole from one of the two, and the race detector stays quiet.
func TestSwapWhileAnswering(t *testing.T) {
	b, _ := newTestBot(t)
	kb := b.KB()
	oldKB := kb.Snapshot()
	// The new knowledge base answers the question from another entry: an answer that matched in
	// one and looked its entry up in the other would fail.
	s := kb.Source()
	e, _ := s.Entry("cap")
	s.Retire("cap")
	e.ID, e.Answer = "cap_new", "新的回答：每人每年最多{cap}。"
	s.Put(e)
	newKB, err := kb.Rebuild(s, kb.Versions())
	if err != nil {
		t.Fatal(err)
	}
	oldAnswer, _ := oldKB.Render("cap", model.DateOf(testNow))
	newAnswer, _ := newKB.Render("cap_new", model.DateOf(testNow))

	var stop atomic.Bool
	var answered atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan string, 8)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				got, err := b.Chat(context.Background(), string(rune('a'+w)), 0, "最多能报多少钱")
				if err != nil {
					errc <- err.Error()
					return
				}
				if got != oldAnswer && got != newAnswer {
					errc <- "answer from neither knowledge base: " + got
					return
				}
				answered.Add(1)
			}
		})
	}
	for i := 0; answered.Load() < 100 && len(errc) == 0 && i < 1_000_000; i++ {
		if i%2 == 0 {
			kb.Swap(newKB)
		} else {
			kb.Swap(oldKB)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for msg := range errc {
		t.Error(msg)
	}
	kb.Swap(newKB)
	if got, _ := b.Chat(context.Background(), "z", 0, "最多能报多少钱"); got != newAnswer {
		t.Errorf("after the swap the bot says %q, want %q", got, newAnswer)
	}
	if got, _ := oldKB.Render("cap", model.DateOf(testNow)); got != oldAnswer {
		t.Errorf("a snapshot changed with the swap: %q", got)
	}
}

// TestPickOfRetiredEntry: numbered choices offered before an entry was retired do not break
// the conversation: the number is read as a new question.
func TestPickOfRetiredEntry(t *testing.T) {
	b, _ := newTestBot(t)
	ctx := context.Background()
	got, _ := b.Chat(ctx, "s", 0, "今天天气怎么样")
	first := strings.SplitN(strings.SplitN(got, "\n1 ", 2)[1], "\n", 2)[0]
	e := entryByQuestion(t, b.KB(), first)
	s := b.KB().Source()
	s.Retire(e.ID)
	next, err := b.KB().Rebuild(s, b.KB().Versions())
	if err != nil {
		t.Fatal(err)
	}
	retired, _ := b.KB().Render(e.ID, model.DateOf(testNow))
	b.KB().Swap(next)
	if got, err := b.Chat(ctx, "s", 0, "1"); err != nil || got == "" || got == retired {
		t.Errorf("choosing a retired entry = %q, %v; want another answer", got, err)
	}
}
