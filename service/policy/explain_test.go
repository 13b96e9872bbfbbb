package policy_test

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"huzhu/model"
	"huzhu/service/policy"
)

// patternsOf returns the pattern number of each step of an encoded explanation, -1 for a step
// stored as it is. The test engines' names hold no ';'.
func patternsOf(t *testing.T, enc string) []int {
	t.Helper()
	var ids []int
	for _, s := range strings.Split(enc, ";")[1:] {
		head, _, _ := strings.Cut(s, ",")
		if head == "-" {
			ids = append(ids, -1)
			continue
		}
		id, err := strconv.Atoi(head)
		if err != nil {
			t.Fatalf("step %q of %q has no pattern number", s, enc)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestStepsRoundTrip computes many random lines with the shipped and a rich policy and checks
// that every explanation reads back exactly, Text included, that every step follows one of the
// patterns (none stored as it is: if the engine's wording changes, add a pattern), and that every
// pattern occurs.
func TestStepsRoundTrip(t *testing.T) {
	used := map[int]int{}
	for _, ec := range []struct {
		name   string
		engine *policy.Engine
	}{{"shipped", shipped(t)}, {"rich", richEngine(t)}} {
		r := rand.New(rand.NewPCG(7, 11))
		for i := range cases() {
			in := randomInput(r)
			res, err := ec.engine.Compute(in)
			if err != nil {
				t.Fatalf("%s case %d: Compute: %v", ec.name, i, err)
			}
			for _, l := range res.Lines {
				enc := policy.EncodeSteps(l.Steps)
				got, err := policy.DecodeSteps(enc)
				if err != nil {
					t.Fatalf("%s case %d: DecodeSteps(%q): %v", ec.name, i, enc, err)
				}
				if diff := gocmp.Diff(l.Steps, got); diff != "" {
					t.Fatalf("%s case %d: DecodeSteps(EncodeSteps(steps)) differs (-steps +decoded):\n%s\nencoded %q", ec.name, i, diff, enc)
				}
				for j, id := range patternsOf(t, enc) {
					if id < 0 {
						t.Errorf("step %q (%s) follows no pattern: add one to stepPatterns", l.Steps[j].Text, l.Steps[j].Kind)
					}
					used[id]++
				}
			}
		}
	}
	for id := range 16 {
		if used[id] == 0 {
			t.Errorf("pattern %d never occurred in %d random cases: the test or the pattern is wrong", id, 2*cases())
		}
	}
}

// TestStepsAreCompact: a plain outpatient line of the shipped policy takes less than a third of
// its JSON.
func TestStepsAreCompact(t *testing.T) {
	res, err := shipped(t).Compute(policy.Input{Bills: []policy.Bill{{RecordID: 1, ClaimType: model.ClaimOutpatient, Date: "2026-05-03", SelfPay1Fen: 12345}}})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(res.Lines[0].Steps)
	enc := policy.EncodeSteps(res.Lines[0].Steps)
	if len(enc)*3 > len(js) {
		t.Errorf("encoded %d bytes (%q), JSON %d: want less than a third", len(enc), enc, len(js))
	}
}

// TestDecodeStepsReadsOlderRows: rows written before the compact form hold JSON with the texts.
func TestDecodeStepsReadsOlderRows(t *testing.T) {
	old := `[{"Kind":"version","Text":"适用政策：在职职工医疗互助保障计划 2021年提标（2021年7月1日起）","RatioBP":0,"AmountFen":0},` +
		`{"Kind":"ratio","Text":"门诊自付一 123.45 元 × 50% = 61.73 元","RatioBP":5000,"AmountFen":6173},` +
		`{"Kind":"total","Text":"本次互助金 61.73 元","RatioBP":0,"AmountFen":6173}]`
	got, err := policy.DecodeSteps(old)
	if err != nil {
		t.Fatal(err)
	}
	want := []policy.Step{
		{Kind: policy.StepVersion, Text: "适用政策：在职职工医疗互助保障计划 2021年提标（2021年7月1日起）"},
		{Kind: policy.StepRatio, Text: "门诊自付一 123.45 元 × 50% = 61.73 元", RatioBP: 5000, AmountFen: 6173},
		{Kind: policy.StepTotal, Text: "本次互助金 61.73 元", AmountFen: 6173},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeSteps(old JSON) (-want +got):\n%s", diff)
	}
	// The same steps in the compact form read back the same.
	if again, err := policy.DecodeSteps(policy.EncodeSteps(want)); err != nil || !gocmp.Equal(want, again) {
		t.Errorf("compact round trip = %+v, %v", again, err)
	}
}

// TestStepsOutsideThePatterns: texts the patterns do not know, unknown kinds and texts with the
// separators are kept as they are.
func TestStepsOutsideThePatterns(t *testing.T) {
	steps := []policy.Step{
		{Kind: policy.StepTotal, Text: "本次互助金共计 61.73 元；另见附注", AmountFen: 6173},
		{Kind: "future_kind", Text: "a,b;c:1:2", RatioBP: 12, AmountFen: -3},
		{Kind: policy.StepVersion, Text: "适用政策：名称（含括号）；第二版（2021年7月1日起）"},
		{Kind: policy.StepRatio, Text: "门诊自付一 1,2345.00 元 × 50% = 1.00 元", RatioBP: 5000, AmountFen: 100}, // badly grouped
		{Kind: policy.StepTotal, Text: "本次互助金 61.73 元", AmountFen: 6173},
		{Kind: policy.StepTotal, Text: ""},
	}
	enc := policy.EncodeSteps(steps)
	got, err := policy.DecodeSteps(enc)
	if err != nil {
		t.Fatalf("DecodeSteps(%q): %v", enc, err)
	}
	if diff := gocmp.Diff(steps, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// The version with brackets in its name still follows pattern 0; the rest but the plain
	// total are kept as they are.
	if !strings.Contains(enc, ";0,0,0,") || !strings.Contains(enc, ";15,0,6173,") || strings.Count(enc, ";-,") != 4 {
		t.Errorf("encoded %q: want the version as pattern 0, the plain total as pattern 15 and four steps kept as they are", enc)
	}
	if got, err := policy.DecodeSteps(policy.EncodeSteps(nil)); err != nil || got == nil || len(got) != 0 {
		t.Errorf("no steps read back as %#v, %v; want an empty list", got, err)
	}
}

func TestDecodeStepsRejectsCorruptRows(t *testing.T) {
	for _, s := range []string{
		"hello",
		"[{",
		"E1x",
		"E1;99,0,0",
		"E1;15,0,0",
		"E1;15,0,0,abc",
		"E1;0,0,0,5:abc,20210701",
		"E1;7,5000,100,9,100,5000,100", // claim code 9
		"E1;-,0,0,5:total",
		"E1;-,0,0,5:total,99:short",
	} {
		if got, err := policy.DecodeSteps(s); err == nil {
			t.Errorf("DecodeSteps(%q) = %+v, want an error", s, got)
		}
	}
	if got, err := policy.DecodeSteps(""); err != nil || got != nil {
		t.Errorf(`DecodeSteps("") = %+v, %v; want no steps`, got, err)
	}
}
