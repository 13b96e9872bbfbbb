package policy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/policy"
)

func TestShippedPolicy(t *testing.T) {
	vs, err := policy.ParseYAML(config.PolicyYAML)
	if err != nil {
		t.Fatalf("ParseYAML(config.PolicyYAML): %v", err)
	}
	if _, err := policy.New(vs); err != nil {
		t.Fatalf("New(shipped): %v", err)
	}
	type figures struct {
		Code          string
		EffectiveFrom model.Date
		AnnualCapFen  model.Fen
		BonusBP       model.BP
	}
	var got []figures
	for _, v := range vs {
		got = append(got, figures{v.Code, v.EffectiveFrom, v.AnnualCapFen, v.BonusBP})
	}
	want := []figures{{"2008", "2008-01-01", 10_065_300, 500}, {"2021", "2021-07-01", 20_065_300, 500}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shipped versions (-want +got):\n%s", diff)
	}
	wantLadder := []policy.Segment{
		{UpToFen: 5_000_000, RatioBP: 4000}, {UpToFen: 10_000_000, RatioBP: 5000}, {UpToFen: 15_000_000, RatioBP: 6000},
		{UpToFen: 20_000_000, RatioBP: 7000}, {UpToFen: 30_000_000, RatioBP: 8000}, {RatioBP: 9000},
	}
	for _, v := range vs {
		if diff := cmp.Diff(wantLadder, v.Ladder); diff != "" {
			t.Errorf("policy %s ladder (-want +got):\n%s", v.Code, diff)
		}
		for _, c := range model.ClaimTypes {
			if r := v.Claims[c]; r != (policy.ClaimRule{RatioBP: 5000}) {
				t.Errorf("policy %s claims.%s = %+v, want 50%% and no deductible", v.Code, c, r)
			}
		}
		if v.Name == "" || v.Note == "" {
			t.Errorf("policy %s has no name or note", v.Code)
		}
	}
}

// TestShippedPolicySources checks that every figure has a source mark, and that the figures the
// seeds give are marked seed and quote the figure.
func TestShippedPolicySources(t *testing.T) {
	vs, err := policy.ParseYAML(config.PolicyYAML)
	if err != nil {
		t.Fatalf("ParseYAML(config.PolicyYAML): %v", err)
	}
	for _, v := range vs {
		keys := policy.SourceKeys(v)
		if len(keys) != 3+2*len(model.ClaimTypes)+1+len(v.Ladder) {
			t.Errorf("policy %s: SourceKeys = %v, want one per figure", v.Code, keys)
		}
		for _, k := range keys {
			s := v.Sources[k]
			if s != policy.SourceAssumed && !strings.HasPrefix(s, "seed: ") {
				t.Errorf("policy %s: %s source = %q, want assumed or seed: …", v.Code, k, s)
			}
		}
		for key, quote := range map[string]string{"annual_cap": fmt.Sprint(int64(v.AnnualCapFen / 100)), "bonus": "5%", "major_disease_ladder": "40%~90%"} {
			if s := v.Sources[key]; !strings.HasPrefix(s, "seed: ") || !strings.Contains(s, quote) {
				t.Errorf("policy %s: %s source = %q, want a seed quoting %s", v.Code, key, s, quote)
			}
		}
		if v.Sources["effective_from"] != policy.SourceAssumed {
			t.Errorf("policy %s: effective_from source = %q, want assumed (the seeds give no date)", v.Code, v.Sources["effective_from"])
		}
	}
}

// fixtureVersion writes one version in the policy file's layout.
func fixtureVersion(code, from, capYuan string) string {
	return fmt.Sprintf(`
  - code: %q
    name: 测试政策 %[1]s
    note: 测试用
    effective_from: {value: %q, source: assumed}
    annual_cap: {value: %q, source: "seed: 测试资料「%[3]s」"}
    bonus: {value: "5%%", source: assumed}
    claims:
      outpatient: {ratio: {value: "50%%", source: assumed}, deductible: {value: "0.00", source: assumed}}
      inpatient: {ratio: {value: "50%%", source: assumed}, deductible: {value: "0.00", source: assumed}}
      special_inpatient: {ratio: {value: "50%%", source: assumed}, deductible: {value: "0.00", source: assumed}}
    major_disease_ladder:
      source: assumed
      segments:
        - {up_to: "50000.00", ratio: "40%%", source: assumed}
        - {up_to: "100000.00", ratio: "50%%", source: assumed}
        - {ratio: "90%%", source: assumed}
`, code, from, capYuan)
}

func TestParseYAMLFixture(t *testing.T) {
	vs, err := policy.ParseYAML([]byte("versions:" + fixtureVersion("A", "2008-01-01", "100653.00") + fixtureVersion("B", "2021-07-01", "200653.00")))
	if err != nil {
		t.Fatalf("ParseYAML(fixture) = %v", err)
	}
	a := testVersion("A", "2008-01-01", 10_065_300)
	a.Name, a.Note = "测试政策 A", "测试用"
	a.Sources["annual_cap"] = "seed: 测试资料「100653.00」"
	if diff := cmp.Diff(a, vs[0]); diff != "" {
		t.Errorf("ParseYAML(fixture)[0] (-want +got):\n%s", diff)
	}
}

func TestParseYAMLProblems(t *testing.T) {
	a := fixtureVersion("A", "2008-01-01", "100653.00")
	b := fixtureVersion("B", "2021-07-01", "200653.00")
	// edit replaces old in version B, which must contain it.
	edit := func(old, new string) string {
		if !strings.Contains(b, old) {
			panic("fixture has no " + old)
		}
		return "versions:" + a + strings.Replace(b, old, new, 1)
	}
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"overlapping versions", edit(`"2021-07-01"`, `"2008-01-01"`),
			[]string{`policy B: effective_from "2008-01-01" is the same as policy A's: the two versions overlap (example: a later date such as "2009-01-01")`}},
		{"ratio above 100%", edit(`inpatient: {ratio: {value: "50%"`, `inpatient: {ratio: {value: "120%"`),
			[]string{`policy B: claims.inpatient.ratio "120%" is above 100% (example: "50%")`}},
		{"ladder not ascending", edit(`up_to: "100000.00"`, `up_to: "40000.00"`),
			[]string{`policy B: major_disease_ladder.segments[1].up_to "40000.00" is not above the previous segment's "50000.00": segments must ascend (example: "100000.00")`}},
		{"missing source", edit(`annual_cap: {value: "200653.00", source: "seed: 测试资料「200653.00」"}`, `annual_cap: {value: "200653.00"}`),
			[]string{`policy B: annual_cap.source is missing: every figure needs a source mark (example: assumed, or "seed: 工人日报 2021-09-13「…」")`}},
		{"bare value without source", edit(`bonus: {value: "5%", source: assumed}`, `bonus: "5%"`),
			[]string{`policy B: bonus.source is missing`}},
		{"segment without source", edit(`{ratio: "90%", source: assumed}`, `{ratio: "90%"}`),
			[]string{`policy B: major_disease_ladder.segments[2].source is missing`}},
		{"unrecognised source", edit(`bonus: {value: "5%", source: assumed}`, `bonus: {value: "5%", source: 估计}`),
			[]string{`policy B: bonus.source "估计" is neither "assumed" nor "seed: <document, quote>"`}},
		{"empty seed", edit(`bonus: {value: "5%", source: assumed}`, `bonus: {value: "5%", source: "seed:"}`),
			[]string{`policy B: bonus.source "seed:" is neither`}},
		{"money with three decimals", edit(`value: "200653.00"`, `value: "200653.001"`),
			[]string{`policy B: annual_cap.value "200653.001" is not yuan with at most two decimals (example: "200653.00")`}},
		{"money as a float", edit(`value: "200653.00"`, `value: 2.0e5`),
			[]string{`policy B: annual_cap.value "2.0e5" is not yuan with at most two decimals`}},
		{"zero cap", edit(`value: "200653.00"`, `value: "0"`),
			[]string{`policy B: annual_cap "0.00" must be above 0 (example: "200653.00")`}},
		{"negative deductible", edit(`inpatient: {ratio: {value: "50%", source: assumed}, deductible: {value: "0.00"`, `inpatient: {ratio: {value: "50%", source: assumed}, deductible: {value: "-1"`),
			[]string{`policy B: claims.inpatient.deductible "-1.00" must be above 0`}},
		{"percent without %", edit(`bonus: {value: "5%"`, `bonus: {value: "0.05"`),
			[]string{`policy B: bonus.value "0.05" is not a percentage ending in % (example: "5%")`}},
		{"percent with three decimals", edit(`bonus: {value: "5%"`, `bonus: {value: "5.125%"`),
			[]string{`policy B: bonus.value "5.125%" is not a percentage with at most two decimals`}},
		{"bad date", edit(`"2021-07-01"`, `"2021-02-30"`),
			[]string{`policy B: effective_from.value "2021-02-30" is not a date (example: "2021-07-01")`}},
		{"unknown key", edit(`note: 测试用`, `notes: 测试用`),
			[]string{`policy B: notes is not a known key (example: one of code, name, note,`}},
		{"unknown claim type", edit(`      outpatient:`, "      dental: {}\n      outpatient:"),
			[]string{`policy B: claims.dental is not a known key (example: one of outpatient, inpatient, special_inpatient)`}},
		{"missing claim type", edit(`      outpatient: {ratio: {value: "50%", source: assumed}, deductible: {value: "0.00", source: assumed}}`+"\n", ""),
			[]string{`policy B: claims.outpatient is missing`}},
		{"last segment bounded", edit(`{ratio: "90%"`, `{up_to: "200000.00", ratio: "90%"`),
			[]string{`policy B: major_disease_ladder.segments[2].up_to "200000.00" must be left out on the last segment`}},
		{"middle segment unbounded", edit(`{up_to: "100000.00", ratio`, `{ratio`),
			[]string{`policy B: major_disease_ladder.segments[1].up_to "0.00" is missing or not above 0`}},
		{"segment ratio falls", edit(`ratio: "50%", source: assumed}`, `ratio: "30%", source: assumed}`),
			[]string{`policy B: major_disease_ladder.segments[1].ratio "30%" is below the previous segment's "40%": ratios must not fall (example: "40%")`}},
		{"segment ratio above 100%", edit(`ratio: "90%"`, `ratio: "190%"`),
			[]string{`policy B: major_disease_ladder.segments[2].ratio "190%" is above 100%`}},
		{"no segments", edit("      segments:\n        - {up_to: \"50000.00\", ratio: \"40%\", source: assumed}\n        - {up_to: \"100000.00\", ratio: \"50%\", source: assumed}\n        - {ratio: \"90%\", source: assumed}\n", "      segments: []\n"),
			[]string{`policy B: major_disease_ladder.segments is empty`}},
		{"duplicate code", edit(`code: "B"`, `code: "A"`),
			[]string{`policy A: code "A" is used by another version`}},
		{"missing code", edit(`  - code: "B"`+"\n", "  -\n"),
			[]string{`policy #2: code is missing`}},
		{"shape: figure is a list", edit(`annual_cap: {value: "200653.00", source: "seed: 测试资料「200653.00」"}`, `annual_cap: ["200653.00"]`),
			[]string{`policy B: annual_cap is not a mapping of keys (example: keys value, source)`}},
		{"several at once", "versions:" +
			strings.Replace(a, `up_to: "100000.00"`, `up_to: "40000.00"`, 1) +
			strings.NewReplacer(`"2021-07-01"`, `"2008-01-01"`, `      inpatient: {ratio: {value: "50%"`, `      inpatient: {ratio: {value: "120%"`,
				`value: "200653.00"`, `value: "200653.001"`).Replace(b),
			[]string{
				`policy A: major_disease_ladder.segments[1].up_to "40000.00" is not above`,
				`policy B: annual_cap.value "200653.001" is not yuan`,
				`policy B: claims.inpatient.ratio "120%" is above 100%`,
				`policy B: effective_from "2008-01-01" is the same as policy A's`,
			}},
		{"no versions", "versions: []\n", []string{`policy file: versions is empty`}},
		{"no versions key", "version:\n" + a, []string{`policy file: version is not a known key`, `policy file: versions is missing or not a list`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs, err := policy.ParseYAML([]byte(tc.file))
			if vs != nil {
				t.Errorf("ParseYAML returned versions with an error")
			}
			checkProblems(t, err, tc.want)
		})
	}
}

func TestParseYAMLNotYAML(t *testing.T) {
	for _, in := range []string{"", "versions: [", "\t- x"} {
		if _, err := policy.ParseYAML([]byte(in)); err == nil || !strings.HasPrefix(err.Error(), "policy file: ") {
			t.Errorf("ParseYAML(%q) = %v, want a policy file error", in, err)
		}
	}
}

func TestParseVersion(t *testing.T) {
	v, err := policy.ParseVersion([]byte(dedent(fixtureVersion("C", "2030/1/2", "1,000"))))
	if err != nil {
		t.Fatalf("ParseVersion(fixture) = %v", err)
	}
	if v.EffectiveFrom != "2030-01-02" || v.AnnualCapFen != 100_000 {
		t.Errorf("ParseVersion(fixture) = %s, %d; want 2030-01-02, 100000", v.EffectiveFrom, v.AnnualCapFen)
	}
	_, err = policy.ParseVersion([]byte("code: X\nname: 测试\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "policy X: effective_from is missing") {
		t.Errorf("ParseVersion(incomplete) = %v, want the missing figures", err)
	}
}

// dedent turns a fixtureVersion list item into a top-level mapping.
func dedent(s string) string {
	lines := strings.Split(strings.Replace(s, "  - code", "    code", 1), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "    ")
	}
	return strings.Join(lines, "\n")
}

func TestMarshalVersionRoundTrip(t *testing.T) {
	vs, err := policy.ParseYAML(config.PolicyYAML)
	if err != nil {
		t.Fatalf("ParseYAML(config.PolicyYAML): %v", err)
	}
	odd := testVersion("2030-试行", "2030-01-01", 12_345_678)
	odd.Name = "测试: 名称 #1"
	odd.Note = "第一行\n第二行: 有冒号\n"
	odd.BonusBP = 525
	odd.Claims[model.ClaimOutpatient] = policy.ClaimRule{RatioBP: 5255, DeductibleFen: 12_345}
	odd.Ladder[0].UpToFen = 1
	odd.Sources["bonus"] = `seed: 某文件「提高5%」 "引号" 'single'`
	noNote := testVersion("N", "2031-01-01", 1)
	noNote.Note = ""
	for _, v := range append(vs, odd, noNote) {
		t.Run(v.Code, func(t *testing.T) {
			out, err := policy.MarshalVersion(v)
			if err != nil {
				t.Fatalf("MarshalVersion(%s) = %v", v.Code, err)
			}
			back, err := policy.ParseVersion(out)
			if err != nil {
				t.Fatalf("ParseVersion(MarshalVersion(%s)) = %v\n%s", v.Code, err, out)
			}
			want := v
			want.Note = strings.TrimSpace(want.Note)
			if diff := cmp.Diff(want, back); diff != "" {
				t.Errorf("round trip of %s (-want +got):\n%s\n%s", v.Code, diff, out)
			}
		})
	}
}

func TestMarshalVersionRefusesInvalid(t *testing.T) {
	v := testVersion("A", "2020-01-01", 100)
	v.BonusBP = 20000
	delete(v.Sources, "claims.inpatient.ratio")
	_, err := policy.MarshalVersion(v)
	checkProblems(t, err, []string{`policy A: bonus "200%" is above 100%`, `policy A: claims.inpatient.ratio.source is missing`})
}

func TestLoad(t *testing.T) {
	e, err := policy.Load(config.PolicyYAML)
	if err != nil || len(e.Versions()) < 2 {
		t.Fatalf("Load(shipped) = %v versions, %v", e, err)
	}
	if _, err := policy.Load([]byte("versions: []\n")); err == nil {
		t.Error("Load of a file without versions = nil error")
	}
}
