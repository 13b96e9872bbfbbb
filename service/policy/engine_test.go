package policy_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/policy"
)

// shipped returns an engine over the shipped policy file.
func shipped(t testing.TB) *policy.Engine {
	t.Helper()
	vs, err := policy.ParseYAML(config.PolicyYAML)
	if err != nil {
		t.Fatalf("ParseYAML(config.PolicyYAML): %v", err)
	}
	e, err := policy.New(vs)
	if err != nil {
		t.Fatalf("New(shipped versions): %v", err)
	}
	return e
}

// testVersion is a valid version with every figure marked assumed: 50% for each claim type, +5
// points, and a short ladder 0–50k 40%, 50k–100k 50%, above 90%.
func testVersion(code string, from model.Date, capFen model.Fen) policy.Version {
	v := policy.Version{
		Code: code, Name: "测试政策 " + code, EffectiveFrom: from, AnnualCapFen: capFen, BonusBP: 500,
		Claims: map[model.ClaimType]policy.ClaimRule{
			model.ClaimOutpatient:       {RatioBP: 5000},
			model.ClaimInpatient:        {RatioBP: 5000},
			model.ClaimSpecialInpatient: {RatioBP: 5000},
		},
		Ladder: []policy.Segment{{UpToFen: 5_000_000, RatioBP: 4000}, {UpToFen: 10_000_000, RatioBP: 5000}, {RatioBP: 9000}},
	}
	markAssumed(&v)
	return v
}

func markAssumed(v *policy.Version) {
	v.Sources = map[string]string{}
	for _, k := range policy.SourceKeys(*v) {
		v.Sources[k] = policy.SourceAssumed
	}
}

func mustNew(t testing.TB, vs ...policy.Version) *policy.Engine {
	t.Helper()
	e, err := policy.New(vs)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func mustCompute(t testing.TB, e *policy.Engine, in policy.Input) policy.Result {
	t.Helper()
	r, err := e.Compute(in)
	if err != nil {
		t.Fatalf("Compute(%+v): %v", in, err)
	}
	return r
}

func kinds(l policy.Line) []string {
	var ks []string
	for _, s := range l.Steps {
		ks = append(ks, s.Kind)
	}
	return ks
}

func stepOf(l policy.Line, kind string) (policy.Step, bool) {
	for _, s := range l.Steps {
		if s.Kind == kind {
			return s, true
		}
	}
	return policy.Step{}, false
}

var hardship2022 = policy.Facts{Bonuses: []policy.Bonus{{Kind: policy.BonusHardship, From: "2022-01-01", Until: "2022-12-31"}}}

// TestComputeSeeds reproduces the figures the seed documents give, and hand-checked ladder sums.
func TestComputeSeeds(t *testing.T) {
	e := shipped(t)
	major := func(date model.Date, selfPay, above model.Fen) policy.Bill {
		return policy.Bill{RecordID: 1, ClaimType: model.ClaimInpatient, Date: date, SelfPay1Fen: selfPay, AboveCapFen: above, MajorDisease: true}
	}
	outpatient := func(date model.Date, selfPay model.Fen) policy.Bill {
		return policy.Bill{RecordID: 1, ClaimType: model.ClaimOutpatient, Date: date, SelfPay1Fen: selfPay}
	}
	tests := []struct {
		name    string
		facts   policy.Facts
		bill    policy.Bill
		want    model.Fen
		wantCap bool
	}{
		// 工人日报 2021-09-13: 自付一 above the cap by 570,000 yuan, paid 200,653 yuan.
		{"worked example 2021", policy.Facts{}, major("2021-09-01", 3_000_000, 57_000_000), 20_065_300, true},
		{"worked example under the old cap", policy.Facts{}, major("2020-09-01", 3_000_000, 57_000_000), 10_065_300, true},
		{"worked example the day before the 2021 version", policy.Facts{}, major("2021-06-30", 3_000_000, 57_000_000), 10_065_300, true},
		// 50k×40% + 50k×50% + 20k×60% = 57,000.00, plus 1,000.00 × 50%.
		{"ladder 120k above cap", policy.Facts{}, major("2022-05-01", 100_000, 12_000_000), 5_750_000, false},
		// 50k×40% + 50k×50% + 50k×60% + 50k×70% + 100k×80% + 50k×90% = 235,000.00: capped.
		{"ladder 350k above cap", policy.Facts{}, major("2022-05-01", 0, 35_000_000), 20_065_300, true},
		{"ladder exactly first boundary", policy.Facts{}, major("2022-05-01", 0, 5_000_000), 2_000_000, false},
		{"ordinary", policy.Facts{}, outpatient("2022-05-01", 100_000), 50_000, false},
		// 报销比例在普通职工的基础上提高5%.
		{"hardship +5 points", hardship2022, outpatient("2022-05-01", 100_000), 55_000, false},
		{"hardship first day", hardship2022, outpatient("2022-01-01", 100_000), 55_000, false},
		{"hardship last day", hardship2022, outpatient("2022-12-31", 100_000), 55_000, false},
		{"hardship ended", hardship2022, outpatient("2023-01-01", 100_000), 50_000, false},
		{"hardship not yet", hardship2022, outpatient("2021-12-31", 100_000), 50_000, false},
		{"model worker, open span", policy.Facts{Bonuses: []policy.Bonus{{Kind: policy.BonusModelWorker}}}, outpatient("2009-05-01", 100_000), 55_000, false},
		{"both do not stack", policy.Facts{Bonuses: []policy.Bonus{{Kind: policy.BonusModelWorker}, {Kind: policy.BonusHardship}}}, outpatient("2022-05-01", 100_000), 55_000, false},
		// The bonus raises the claim ratio only: 500 + 20,000.00 × 40%.
		{"bonus not on the ladder", hardship2022, major("2022-05-01", 0, 5_000_000), 2_000_000, false},
		{"not major disease: above cap unpaid", policy.Facts{}, policy.Bill{RecordID: 1, ClaimType: model.ClaimInpatient, Date: "2022-05-01", SelfPay1Fen: 100_000, AboveCapFen: 5_000_000}, 50_000, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := policy.Input{Facts: tc.facts, Bills: []policy.Bill{tc.bill}}
			r := mustCompute(t, e, in)
			if r.TotalFen != tc.want || r.Lines[0].AmountFen != tc.want {
				t.Errorf("Compute(%+v) = %d (line %d), want %d", tc.bill, r.TotalFen, r.Lines[0].AmountFen, tc.want)
			}
			if _, ok := stepOf(r.Lines[0], policy.StepCap); ok != tc.wantCap {
				t.Errorf("Compute(%+v) cap step present = %v, want %v; steps %v", tc.bill, ok, tc.wantCap, kinds(r.Lines[0]))
			}
		})
	}
}

func TestComputeWorkedExampleSteps(t *testing.T) {
	e := shipped(t)
	r := mustCompute(t, e, policy.Input{Bills: []policy.Bill{
		{RecordID: 9, ClaimType: model.ClaimInpatient, Date: "2021-09-01", SelfPay1Fen: 3_000_000, AboveCapFen: 57_000_000, MajorDisease: true},
	}})
	l := r.Lines[0]
	wantKinds := []string{"version", "ratio", "ladder", "ladder", "ladder", "ladder", "ladder", "ladder", "ladder", "cap", "total"}
	if diff := cmp.Diff(wantKinds, kinds(l)); diff != "" {
		t.Errorf("step kinds (-want +got):\n%s", diff)
	}
	wantText := map[int]string{
		0:  "适用政策：在职职工医疗互助保障计划 2021年提标（2021年7月1日起）",
		1:  "普通住院自付一 30,000.00 元 × 50% = 15,000.00 元",
		3:  "第1段（累计 0.00 至 50,000.00 元）：50,000.00 元 × 40% = 20,000.00 元",
		8:  "第6段（累计 300,000.00 元以上）：270,000.00 元 × 90% = 243,000.00 元",
		9:  "按上述计算为 448,000.00 元；本年度累计已获互助金 0.00 元，年度最高 200,653.00 元，本次最多 200,653.00 元",
		10: "本次互助金 200,653.00 元",
	}
	for i, want := range wantText {
		if got := l.Steps[i].Text; got != want {
			t.Errorf("Steps[%d].Text = %q, want %q", i, got, want)
		}
	}
	if l.GrossFen != 44_800_000 || l.BaseFen != 60_000_000 || l.PolicyCode != "2021" || l.Year != 2021 {
		t.Errorf("line = gross %d base %d policy %s year %d, want 44800000 60000000 2021 2021", l.GrossFen, l.BaseFen, l.PolicyCode, l.Year)
	}
	if got := r.YearToDate[2021]; got.PaidFen != 20_065_300 || got.AboveCapFen != 57_000_000 {
		t.Errorf("YearToDate[2021] = %+v, want paid 20065300, above cap 57000000", got)
	}
}

func TestComputeBonusSteps(t *testing.T) {
	e := shipped(t)
	facts := policy.Facts{Bonuses: []policy.Bonus{{Kind: policy.BonusModelWorker}, {Kind: policy.BonusHardship}}}
	r := mustCompute(t, e, policy.Input{Facts: facts, Bills: []policy.Bill{
		{RecordID: 1, ClaimType: model.ClaimInpatient, Date: "2022-03-01", SelfPay1Fen: 123_456},
	}})
	l := r.Lines[0]
	if diff := cmp.Diff([]string{"version", "bonus", "ratio", "total"}, kinds(l)); diff != "" {
		t.Fatalf("step kinds (-want +got):\n%s", diff)
	}
	want := []policy.Step{
		{Kind: "bonus", Text: "困难职工、劳模报销比例提高 5 个百分点，多种身份只提高一次：50% + 5% = 55%", RatioBP: 500},
		{Kind: "ratio", Text: "普通住院自付一 1,234.56 元 × 55% = 679.01 元", RatioBP: 5500, AmountFen: 67_901},
	}
	if diff := cmp.Diff(want, l.Steps[1:3]); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

// TestComputeStraddle covers 2021, which straddles two versions: bills before July are held to
// 100,653 yuan, the year as a whole to 200,653 yuan.
func TestComputeStraddle(t *testing.T) {
	e := shipped(t)
	bill := func(id uint64, date model.Date, selfPay, above model.Fen) policy.Bill {
		return policy.Bill{RecordID: id, ClaimType: model.ClaimInpatient, Date: date, SelfPay1Fen: selfPay, AboveCapFen: above, MajorDisease: above > 0}
	}
	tests := []struct {
		name      string
		bills     []policy.Bill
		prior     map[int]policy.YearToDate
		wantLines []model.Fen // in date order
	}{
		{"march capped at old cap, september fills the new one",
			[]policy.Bill{bill(3, "2021-09-10", 0, 20_000_000), bill(1, "2021-03-10", 0, 57_000_000), bill(2, "2021-03-20", 100_000, 0)},
			nil,
			// 570k → 10,065,300 (cap); then nothing left under the old cap; September: position 570k,
			// 200k × 90% = 180,000.00 but only 100,000.00 of room.
			[]model.Fen{10_065_300, 0, 10_000_000}},
		{"small march bill, september hits the new cap",
			[]policy.Bill{bill(1, "2021-03-10", 100_000, 0), bill(2, "2021-09-10", 0, 57_000_000)},
			nil,
			[]model.Fen{50_000, 20_015_300}},
		{"ladder position carries across versions",
			[]policy.Bill{bill(1, "2021-03-10", 0, 5_000_000), bill(2, "2021-09-10", 0, 5_000_000)},
			nil,
			// 50k × 40% under 2008; then 50k–100k at 50% under 2021.
			[]model.Fen{2_000_000, 2_500_000}},
		{"prior payouts count against the old cap",
			[]policy.Bill{bill(1, "2021-03-10", 0, 5_000_000), bill(2, "2021-09-10", 0, 5_000_000)},
			map[int]policy.YearToDate{2021: {PaidFen: 10_000_000, AboveCapFen: 30_000_000}},
			// 50k × 90% = 45,000 each; room under 2008: 100,653 − 100,000 = 653; under 2021: 100,000.
			[]model.Fen{65_300, 4_500_000}},
		{"the next year starts afresh",
			[]policy.Bill{bill(1, "2021-12-31", 0, 57_000_000), bill(2, "2022-01-01", 0, 5_000_000)},
			nil,
			[]model.Fen{20_065_300, 2_000_000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := policy.Input{Bills: tc.bills, Prior: tc.prior}
			r := mustCompute(t, e, in)
			var got []model.Fen
			var march model.Fen
			for _, l := range r.Lines {
				got = append(got, l.AmountFen)
				if l.PolicyCode == "2008" {
					march += l.AmountFen
				}
			}
			if diff := cmp.Diff(tc.wantLines, got); diff != "" {
				t.Errorf("Compute(%+v) line amounts (-want +got):\n%s", tc.bills, diff)
			}
			if march+tc.prior[2021].PaidFen > 10_065_300 {
				t.Errorf("Compute(%+v): bills under 2008 paid %d, above its cap 10065300", tc.bills, march)
			}
		})
	}
}

func TestComputeRounding(t *testing.T) {
	e := shipped(t)
	tests := []struct {
		name  string
		facts policy.Facts
		bill  policy.Bill
		want  model.Fen
	}{
		{"1 fen × 50%", policy.Facts{}, policy.Bill{ClaimType: model.ClaimOutpatient, Date: "2022-01-01", SelfPay1Fen: 1}, 1},
		{"2 fen × 50%", policy.Facts{}, policy.Bill{ClaimType: model.ClaimOutpatient, Date: "2022-01-01", SelfPay1Fen: 2}, 1},
		{"3 fen × 50%", policy.Facts{}, policy.Bill{ClaimType: model.ClaimOutpatient, Date: "2022-01-01", SelfPay1Fen: 3}, 2},
		{"3 fen × 55%", hardship2022, policy.Bill{ClaimType: model.ClaimOutpatient, Date: "2022-01-01", SelfPay1Fen: 3}, 2},
		{"1 fen × 40% ladder", policy.Facts{}, policy.Bill{ClaimType: model.ClaimInpatient, Date: "2022-01-01", AboveCapFen: 1, MajorDisease: true}, 0},
		// 190,000.00 for the first 300k, then 5 fen × 90% = 4.5 fen → 5.
		{"5 fen × 90% ladder", policy.Facts{}, policy.Bill{ClaimType: model.ClaimInpatient, Date: "2022-01-01", AboveCapFen: 30_000_005, MajorDisease: true}, 19_000_005},
		{"123,456.79 × 50%", policy.Facts{}, policy.Bill{ClaimType: model.ClaimSpecialInpatient, Date: "2022-01-01", SelfPay1Fen: 12_345_679}, 6_172_840},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustCompute(t, e, policy.Input{Facts: tc.facts, Bills: []policy.Bill{tc.bill}})
			if r.TotalFen != tc.want {
				t.Errorf("Compute(%+v) = %d, want %d", tc.bill, r.TotalFen, tc.want)
			}
		})
	}
}

func TestComputeLadderPieces(t *testing.T) {
	// Segment pieces are rounded one by one: 3 fen at 40% (1.2) and 3 fen at 50% (1.5).
	v := testVersion("T", "2020-01-01", 100_000_000)
	v.Ladder = []policy.Segment{{UpToFen: 3, RatioBP: 4000}, {RatioBP: 5000}}
	markAssumed(&v)
	e := mustNew(t, v)
	r := mustCompute(t, e, policy.Input{Bills: []policy.Bill{
		{RecordID: 1, ClaimType: model.ClaimInpatient, Date: "2022-01-01", AboveCapFen: 6, MajorDisease: true},
	}})
	if r.TotalFen != 1+2 {
		t.Errorf("Compute(6 fen over a 3-fen boundary) = %d, want 3", r.TotalFen)
	}
}

func TestComputeDeductible(t *testing.T) {
	v := testVersion("D", "2020-01-01", 100_000_000)
	v.Claims[model.ClaimOutpatient] = policy.ClaimRule{RatioBP: 5000, DeductibleFen: 20_000}
	e := mustNew(t, v)
	out := func(id uint64, date model.Date, selfPay model.Fen) policy.Bill {
		return policy.Bill{RecordID: id, ClaimType: model.ClaimOutpatient, Date: date, SelfPay1Fen: selfPay}
	}
	tests := []struct {
		name  string
		bills []policy.Bill
		prior map[int]policy.YearToDate
		want  []model.Fen
		ytd   map[model.ClaimType]model.Fen // deductible used in 2022 after the run
	}{
		{"first bill inside the deductible", []policy.Bill{out(1, "2022-01-05", 15_000), out(2, "2022-02-05", 10_000)}, nil,
			[]model.Fen{0, 2_500}, map[model.ClaimType]model.Fen{model.ClaimOutpatient: 20_000}},
		{"deductible only for its claim type", []policy.Bill{out(1, "2022-01-05", 15_000),
			{RecordID: 2, ClaimType: model.ClaimInpatient, Date: "2022-02-05", SelfPay1Fen: 10_000}}, nil,
			[]model.Fen{0, 5_000}, map[model.ClaimType]model.Fen{model.ClaimOutpatient: 15_000}},
		{"prior runs used part of it", []policy.Bill{out(1, "2022-01-05", 15_000)},
			map[int]policy.YearToDate{2022: {DeductibleFen: map[model.ClaimType]model.Fen{model.ClaimOutpatient: 10_000}}},
			[]model.Fen{2_500}, map[model.ClaimType]model.Fen{model.ClaimOutpatient: 20_000}},
		{"prior runs used all of it", []policy.Bill{out(1, "2022-01-05", 15_000)},
			map[int]policy.YearToDate{2022: {DeductibleFen: map[model.ClaimType]model.Fen{model.ClaimOutpatient: 20_000}}},
			[]model.Fen{7_500}, map[model.ClaimType]model.Fen{model.ClaimOutpatient: 20_000}},
		{"each year has its own", []policy.Bill{out(1, "2021-12-31", 30_000), out(2, "2022-01-01", 30_000)}, nil,
			[]model.Fen{5_000, 5_000}, map[model.ClaimType]model.Fen{model.ClaimOutpatient: 20_000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustCompute(t, e, policy.Input{Bills: tc.bills, Prior: tc.prior})
			var got []model.Fen
			for _, l := range r.Lines {
				got = append(got, l.AmountFen)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Compute(%+v) (-want +got):\n%s", tc.bills, diff)
			}
			if diff := cmp.Diff(tc.ytd, r.YearToDate[2022].DeductibleFen); diff != "" {
				t.Errorf("YearToDate[2022].DeductibleFen (-want +got):\n%s", diff)
			}
		})
	}
}

func TestComputeDeductibleSteps(t *testing.T) {
	v := testVersion("D", "2020-01-01", 100_000_000)
	v.Claims[model.ClaimOutpatient] = policy.ClaimRule{RatioBP: 5000, DeductibleFen: 20_000}
	e := mustNew(t, v)
	r := mustCompute(t, e, policy.Input{Bills: []policy.Bill{
		{RecordID: 1, ClaimType: model.ClaimOutpatient, Date: "2022-01-05", SelfPay1Fen: 15_000},
		{RecordID: 2, ClaimType: model.ClaimOutpatient, Date: "2022-02-05", SelfPay1Fen: 10_000},
		{RecordID: 3, ClaimType: model.ClaimOutpatient, Date: "2022-03-05", SelfPay1Fen: 10_000},
	}})
	want := []string{
		"门诊每年起付 200.00 元，本年度此前已扣 0.00 元，本次从自付一 150.00 元中扣除 150.00 元",
		"门诊每年起付 200.00 元，本年度此前已扣 150.00 元，本次从自付一 100.00 元中扣除 50.00 元",
		"门诊每年起付 200.00 元，本年度已扣满，本次不再扣除",
	}
	for i, l := range r.Lines {
		s, _ := stepOf(l, policy.StepDeductible)
		if s.Text != want[i] {
			t.Errorf("line %d deductible step = %q, want %q", i, s.Text, want[i])
		}
	}
	if s, _ := stepOf(r.Lines[1], policy.StepRatio); s.Text != "扣除起付后的门诊自付一 50.00 元 × 50% = 25.00 元" {
		t.Errorf("line 1 ratio step = %q", s.Text)
	}
}

func TestComputeBonusCappedAt100(t *testing.T) {
	v := testVersion("R", "2020-01-01", 100_000_000)
	v.Claims[model.ClaimOutpatient] = policy.ClaimRule{RatioBP: 9800}
	e := mustNew(t, v)
	r := mustCompute(t, e, policy.Input{
		Facts: policy.Facts{Bonuses: []policy.Bonus{{Kind: policy.BonusHardship}}},
		Bills: []policy.Bill{{RecordID: 1, ClaimType: model.ClaimOutpatient, Date: "2022-01-05", SelfPay1Fen: 10_000}},
	})
	if r.TotalFen != 10_000 {
		t.Errorf("Compute(98%% + 5 points) = %d, want 10000", r.TotalFen)
	}
	if s, _ := stepOf(r.Lines[0], policy.StepBonus); s.RatioBP != 200 || !strings.Contains(s.Text, "最高 100%") {
		t.Errorf("bonus step = %+v, want 200 BP and a note of the 100%% limit", s)
	}
}

func TestComputeCapSteps(t *testing.T) {
	e := shipped(t)
	tests := []struct {
		name  string
		prior model.Fen
		want  string
	}{
		{"partly", 15_000_000, "按上述计算为 2,000,000.00 元；本年度累计已获互助金 150,000.00 元，年度最高 200,653.00 元，本次最多 50,653.00 元"},
		{"exhausted", 20_065_300, "按上述计算为 2,000,000.00 元；本年度累计已获互助金 200,653.00 元，已达到年度最高 200,653.00 元，本次不再支付"},
		{"prior above this version's cap", 30_000_000, "按上述计算为 2,000,000.00 元；本年度累计已获互助金 300,000.00 元，已达到年度最高 200,653.00 元，本次不再支付"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustCompute(t, e, policy.Input{
				Bills: []policy.Bill{{RecordID: 1, ClaimType: model.ClaimInpatient, Date: "2022-03-01", SelfPay1Fen: 400_000_000}},
				Prior: map[int]policy.YearToDate{2022: {PaidFen: tc.prior}},
			})
			s, ok := stepOf(r.Lines[0], policy.StepCap)
			if !ok || s.Text != tc.want {
				t.Errorf("cap step = %q, want %q", s.Text, tc.want)
			}
			if want := max(20_065_300-tc.prior, 0); r.TotalFen != want || s.AmountFen != want {
				t.Errorf("Compute(prior %d) = %d (cap step %d), want %d", tc.prior, r.TotalFen, s.AmountFen, want)
			}
		})
	}
}

func TestComputeNotMajorDiseaseStep(t *testing.T) {
	r := mustCompute(t, shipped(t), policy.Input{Bills: []policy.Bill{
		{RecordID: 1, ClaimType: model.ClaimInpatient, Date: "2022-03-01", AboveCapFen: 300_000},
	}})
	if diff := cmp.Diff([]string{"version", "above_cap_not_covered", "total"}, kinds(r.Lines[0])); diff != "" {
		t.Errorf("step kinds (-want +got):\n%s", diff)
	}
	if r.TotalFen != 0 || r.YearToDate[2022].AboveCapFen != 0 {
		t.Errorf("Compute(not major, above cap) = %d, ladder position %d; want 0, 0", r.TotalFen, r.YearToDate[2022].AboveCapFen)
	}
}

func TestComputeErrors(t *testing.T) {
	e := shipped(t)
	ok := policy.Bill{RecordID: 7, ClaimType: model.ClaimOutpatient, Date: "2022-03-01", SelfPay1Fen: 100}
	with := func(f func(*policy.Bill)) []policy.Bill {
		b := ok
		f(&b)
		return []policy.Bill{b}
	}
	tests := []struct {
		name      string
		in        policy.Input
		wantCode  string
		wantField string
	}{
		{"before the first version", policy.Input{Bills: with(func(b *policy.Bill) { b.Date = "2007-12-31" })}, "policy.no_version", "record:7"},
		{"bad date", policy.Input{Bills: with(func(b *policy.Bill) { b.Date = "2022-13-01" })}, "policy.bad_bill", "record:7"},
		{"non-canonical date", policy.Input{Bills: with(func(b *policy.Bill) { b.Date = "2022/3/1" })}, "policy.bad_bill", "record:7"},
		{"empty date", policy.Input{Bills: with(func(b *policy.Bill) { b.Date = "" })}, "policy.bad_bill", "record:7"},
		{"unknown claim type", policy.Input{Bills: with(func(b *policy.Bill) { b.ClaimType = "dental" })}, "policy.bad_bill", "record:7"},
		{"negative 自付一", policy.Input{Bills: with(func(b *policy.Bill) { b.SelfPay1Fen = -1 })}, "policy.bad_bill", "record:7"},
		{"negative above cap", policy.Input{Bills: with(func(b *policy.Bill) { b.AboveCapFen = -1 })}, "policy.bad_bill", "record:7"},
		{"absurd amount", policy.Input{Bills: with(func(b *policy.Bill) { b.SelfPay1Fen = 1 << 62 })}, "policy.bad_bill", "record:7"},
		{"duplicate record", policy.Input{Bills: []policy.Bill{ok, ok}}, "policy.duplicate_bill", "record:7"},
		{"unknown bonus", policy.Input{Facts: policy.Facts{Bonuses: []policy.Bonus{{Kind: "veteran"}}}, Bills: []policy.Bill{ok}}, "policy.bad_facts", "bonuses[0]"},
		{"bonus ends before it starts", policy.Input{Facts: policy.Facts{Bonuses: []policy.Bonus{{Kind: policy.BonusHardship, From: "2022-02-01", Until: "2022-01-01"}}}, Bills: []policy.Bill{ok}}, "policy.bad_facts", "bonuses[0]"},
		{"negative prior", policy.Input{Bills: []policy.Bill{ok}, Prior: map[int]policy.YearToDate{2022: {PaidFen: -1}}}, "policy.bad_prior", "prior:2022"},
		{"prior unknown claim type", policy.Input{Bills: []policy.Bill{ok}, Prior: map[int]policy.YearToDate{2022: {DeductibleFen: map[model.ClaimType]model.Fen{"x": 1}}}}, "policy.bad_prior", "prior:2022"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.Compute(tc.in)
			e, ok := errs.As(err)
			if !ok {
				t.Fatalf("Compute(%+v) = %+v, %v; want an *errs.Error", tc.in, r, err)
			}
			if e.Kind != errs.KindInvalid || e.Code != tc.wantCode || e.Field != tc.wantField || e.Message == "" || e.Fix == "" {
				t.Errorf("Compute(%+v) error = %+v, want kind Invalid, code %s, field %s, a message and a fix", tc.in, e, tc.wantCode, tc.wantField)
			}
			if !strings.ContainsFunc(e.Message, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
				t.Errorf("Message %q is not Chinese", e.Message)
			}
			if r.Lines != nil || r.TotalFen != 0 {
				t.Errorf("Compute(%+v) = %+v with an error, want nothing computed", tc.in, r)
			}
		})
	}
}

func TestComputeEmpty(t *testing.T) {
	prior := map[int]policy.YearToDate{2020: {PaidFen: 5}}
	r := mustCompute(t, shipped(t), policy.Input{Prior: prior})
	if len(r.Lines) != 0 || r.TotalFen != 0 || r.YearToDate[2020].PaidFen != 5 {
		t.Errorf("Compute(no bills) = %+v, want no lines and the prior year kept", r)
	}
}

func TestComputeLeavesInputAlone(t *testing.T) {
	e := shipped(t)
	in := policy.Input{
		Bills: []policy.Bill{
			{RecordID: 2, ClaimType: model.ClaimOutpatient, Date: "2022-03-01", SelfPay1Fen: 100},
			{RecordID: 1, ClaimType: model.ClaimOutpatient, Date: "2022-01-01", SelfPay1Fen: 100},
		},
		Prior: map[int]policy.YearToDate{2022: {PaidFen: 1, DeductibleFen: map[model.ClaimType]model.Fen{model.ClaimInpatient: 3}}},
	}
	before := policy.Input{Bills: append([]policy.Bill(nil), in.Bills...), Prior: map[int]policy.YearToDate{
		2022: {PaidFen: 1, DeductibleFen: map[model.ClaimType]model.Fen{model.ClaimInpatient: 3}}}}
	r := mustCompute(t, e, in)
	r.YearToDate[2022].DeductibleFen[model.ClaimInpatient] = 99
	if diff := cmp.Diff(before, in); diff != "" {
		t.Errorf("Compute changed its input (-before +after):\n%s", diff)
	}
}

func TestEngineAt(t *testing.T) {
	e := shipped(t)
	tests := []struct {
		date   model.Date
		want   string
		wantOK bool
	}{
		{"2007-12-31", "", false},
		{"2008-01-01", "2008", true},
		{"2021-06-30", "2008", true},
		{"2021-07-01", "2021", true},
		{"2030-01-01", "2021", true},
		{"2021-7-1", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		v, ok := e.At(tc.date)
		if v.Code != tc.want || ok != tc.wantOK {
			t.Errorf("At(%q) = %q, %v; want %q, %v", tc.date, v.Code, ok, tc.want, tc.wantOK)
		}
	}
}

func TestEngineKeepsItsOwnCopy(t *testing.T) {
	v := testVersion("A", "2020-01-01", 100)
	e := mustNew(t, v)
	v.Claims[model.ClaimOutpatient] = policy.ClaimRule{RatioBP: 1}
	got := e.Versions()
	got[0].Claims[model.ClaimOutpatient] = policy.ClaimRule{RatioBP: 2}
	got[0].Ladder[0].RatioBP = 3
	at, _ := e.At("2020-01-01")
	if at.Claims[model.ClaimOutpatient].RatioBP != 5000 || at.Ladder[0].RatioBP != 4000 {
		t.Errorf("engine version changed through a caller's copy: %+v", at)
	}
}

func TestNewSortsAndRejects(t *testing.T) {
	a := testVersion("A", "2020-01-01", 100)
	b := testVersion("B", "2010-01-01", 100)
	e := mustNew(t, a, b)
	var codes []string
	for _, v := range e.Versions() {
		codes = append(codes, v.Code)
	}
	if diff := cmp.Diff([]string{"B", "A"}, codes); diff != "" {
		t.Errorf("Versions() order (-want +got):\n%s", diff)
	}

	noSource := testVersion("C", "2030-01-01", 100)
	delete(noSource.Sources, "annual_cap")
	extraSource := testVersion("X", "2031-01-01", 100)
	extraSource.Sources["ratio"] = "assumed"
	tests := []struct {
		name string
		in   []policy.Version
		want []string
	}{
		{"none", nil, []string{"policy file: versions is empty"}},
		{"same code", []policy.Version{a, testVersion("A", "2021-01-01", 100)}, []string{`policy A: code "A" is used by another version`}},
		{"same start", []policy.Version{a, testVersion("Z", "2020-01-01", 100)}, []string{`policy Z: effective_from "2020-01-01" is the same as policy A's: the two versions overlap (example: a later date such as "2021-01-01")`}},
		{"missing source", []policy.Version{a, noSource}, []string{`policy C: annual_cap.source is missing`}},
		{"stray source", []policy.Version{a, extraSource}, []string{`policy X: sources "ratio" is not the key of a figure`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.New(tc.in)
			checkProblems(t, err, tc.want)
		})
	}
}

// checkProblems checks that err lists exactly the problems that start with want, one per line.
func checkProblems(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %q", want)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, w)
		}
		if !found {
			t.Errorf("problems do not include %q:\n%v", w, err)
		}
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "policy ") || !strings.Contains(l, "(example: ") {
			t.Errorf("problem %q does not name the policy and give an example", l)
		}
	}
}

// TestZeroLineReason: every eligible bill that pays 0.00 says why, in words a worker reads; a
// bill that pays says nothing.
func TestZeroLineReason(t *testing.T) {
	e := shipped(t)
	bill := func(id uint64, selfPay, above model.Fen, major bool) policy.Bill {
		return policy.Bill{RecordID: id, ClaimType: model.ClaimInpatient, Date: "2022-05-01", SelfPay1Fen: selfPay, AboveCapFen: above, MajorDisease: major}
	}
	tests := []struct {
		name  string
		bills []policy.Bill
		want  []string // Reason of each line
	}{
		{"the year's cap reached by an earlier bill", []policy.Bill{bill(1, 0, 57_000_000, true), bill(2, 100_000, 0, false)},
			[]string{"", "年度已达最高额 200,653 元"}},
		{"above the cap, not major disease", []policy.Bill{bill(1, 0, 5_000_000, false)}, []string{"超过封顶线的费用只有重大疾病才报销"}},
		{"nothing to pay", []policy.Bill{bill(1, 0, 0, false)}, []string{"按政策计算可报销金额为 0 元"}},
		{"pays", []policy.Bill{bill(1, 100_000, 0, false)}, []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustCompute(t, e, policy.Input{Bills: tc.bills})
			var got []string
			for _, l := range r.Lines {
				got = append(got, l.Reason)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("line reasons (-want +got):\n%s", diff)
			}
		})
	}
}
