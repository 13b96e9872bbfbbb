package eligibility

import (
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"huzhu/model"
)

// covered returns the facts of a free participant who holds a 京卡, changed by each of edits.
func covered(edits ...func(*Facts)) Facts {
	f := Facts{
		InsuredBeijing:   Yes,
		Employment:       model.EmploymentInService,
		Kind:             model.WorkerUrban,
		UnionMember:      Yes,
		EmployerPaysDues: Yes,
		Participation:    model.ParticipationFree,
		JoinedOn:         "2020-03-01",
		HasJingCard:      Yes,
	}
	for _, e := range edits {
		e(&f)
	}
	return f
}

func retired(f *Facts)    { f.Employment = model.EmploymentRetired }
func notInsured(f *Facts) { f.InsuredBeijing = No }
func rural(f *Facts)      { f.Kind = model.WorkerRural }
func noDues(f *Facts)     { f.EmployerPaysDues = No }
func noCard(f *Facts)     { f.HasJingCard = No }
func withBank(f *Facts)   { f.HasBankCard = true }
func kind(k model.WorkerKind) func(*Facts) {
	return func(f *Facts) { f.Kind = k }
}
func joined(d model.Date) func(*Facts) {
	return func(f *Facts) { f.JoinedOn = d }
}
func paidUntil(p model.Participation, d model.Date) func(*Facts) {
	return func(f *Facts) { f.Participation, f.PaidUntil = p, d }
}

// outcome is the part of a Decision the table compares: the reasons by code.
type outcome struct {
	Status  Status
	Codes   []string
	Missing []string
	PayTo   PayTo
}

func outcomeOf(d Decision) outcome {
	o := outcome{Status: d.Status, Missing: d.Missing, PayTo: d.PayTo}
	for _, r := range d.Reasons {
		o.Codes = append(o.Codes, r.Code)
	}
	return o
}

func TestDecide(t *testing.T) {
	const today = model.Date("2025-06-15")
	eligible := func(to PayTo, codes ...string) outcome {
		return outcome{Status: StatusEligible, Codes: codes, PayTo: to}
	}
	notEligible := func(codes ...string) outcome { return outcome{Status: StatusNotEligible, Codes: codes} }
	needs := func(codes ...string) outcome { return outcome{Status: StatusNeedsAction, Codes: codes} }
	unknownOf := func(facts ...string) outcome {
		o := outcome{Status: StatusUnknown, Missing: facts}
		for _, name := range facts {
			o.Codes = append(o.Codes, map[string]string{
				FactInsuredBeijing: CodeUnknownInsurance, FactEmployment: CodeUnknownEmployment,
				FactKind: CodeUnknownKind, FactUnionMember: CodeUnknownUnionMember,
				FactEmployerPaysDues: CodeUnknownDues, FactPaidUntil: CodeUnknownPaidUntil,
				FactHasJingCard: CodeUnknownJingCard,
			}[name])
		}
		return o
	}

	tests := []struct {
		name  string
		facts Facts
		on    model.Date
		want  outcome
	}{
		// Rule 8: seed 001 凡参加北京市基本医疗保险并持有工会会员互助服务卡的在职职工均能免费享受.
		{"covered/free with 京卡", covered(), today, eligible(PayJingka, CodeFreeParticipation)},
		{"covered/paid with 京卡", covered(noDues, paidUntil(model.ParticipationPaid, "2025-12-31")), today,
			eligible(PayJingka, CodePaidParticipation)},
		{"covered/collective paid with 京卡", covered(noDues, paidUntil(model.ParticipationCollective, "2025-12-31")), today,
			eligible(PayJingka, CodePaidParticipation)},

		// Rule 1: seed 004 二(一)2 参加北京市基本医疗保险.
		{"insurance/urban not insured", covered(notInsured), today, notEligible(CodeNotInsuredBeijing)},
		{"insurance/rural not in Beijing insurance is covered by 新农合", covered(notInsured, rural), today,
			eligible(PayJingka, CodeFreeParticipation)},
		{"insurance/not insured kind unknown asks kind", covered(notInsured, kind("")), today, unknownOf(FactKind)},
		{"insurance/not insured kind unknown before 2013-05 fails either way", covered(notInsured, kind("")), "2013-04-30",
			notEligible(CodeNotInsuredBeijing)},
		{"insurance/insured kind unknown after 2013-05 is covered either way", covered(kind("")), today,
			eligible(PayJingka, CodeFreeParticipation)},
		{"insurance/insured kind unknown before 2013-05 asks kind", covered(kind("")), "2013-04-30", unknownOf(FactKind)},
		{"insurance/unknown kind of a bad value", covered(kind("suburban"), notInsured), today, unknownOf(FactKind)},

		// Rule 2: the plan is for 在职职工 (seed 004 二(一)1); leaving the employer is assumed to end it.
		{"employment/retired", covered(retired), today, notEligible(CodeRetired)},
		{"employment/left", covered(func(f *Facts) { f.Employment = model.EmploymentLeft }), today, notEligible(CodeLeft)},
		{"employment/retired and not insured lists both", covered(retired, notInsured), today,
			notEligible(CodeRetired, CodeNotInsuredBeijing)},
		{"employment/retired wins over unknowns", Facts{Employment: model.EmploymentRetired}, today, notEligible(CodeRetired)},

		// Rule 3: seed 000 农村在职职工(自2013年5月起纳入保障范围).
		{"rural/2013-04-30", covered(rural), "2013-04-30", notEligible(CodeRuralBefore201305)},
		{"rural/2013-05-01", covered(rural), "2013-05-01", eligible(PayJingka, CodeFreeParticipation)},
		{"rural/before 2013-05 whatever InsuredBeijing says", covered(rural, func(f *Facts) { f.InsuredBeijing = Unknown }), "2013-04-30",
			notEligible(CodeRuralBefore201305)},
		{"rural/urban before 2013-05", covered(), "2013-04-30", eligible(PayJingka, CodeFreeParticipation)},

		// Rule 4: seed 000 工会会员; membership assumed not needed for 缴费参保.
		{"union/not a member", covered(func(f *Facts) { f.UnionMember = No }), today, notEligible(CodeNotUnionMember)},
		{"union/not a member, employer pays no dues", covered(func(f *Facts) { f.UnionMember = No }, noDues), today,
			notEligible(CodeNotUnionMember, CodeNoDuesNoPaid)},
		{"union/not a member but paid", covered(func(f *Facts) { f.UnionMember = No }, paidUntil(model.ParticipationCollective, "2025-12-31")), today,
			eligible(PayJingka, CodePaidParticipation)},
		{"union/not a member wins over unknown dues", covered(func(f *Facts) { f.UnionMember, f.EmployerPaysDues = No, Unknown }), today,
			notEligible(CodeNotUnionMember)},

		// Rule 5: seed 004 二(二)2 所在单位向市总上解工会经费; seed 000 可集体参保.
		{"dues/none, free", covered(noDues), today, notEligible(CodeNoDuesNoPaid)},
		{"dues/none, participation empty", covered(noDues, func(f *Facts) { f.Participation = "" }), today,
			notEligible(CodeNoDuesNoPaid)},
		{"dues/none wins over unknown membership", covered(noDues, func(f *Facts) { f.UnionMember = Unknown }), today,
			notEligible(CodeNoDuesNoPaid)},
		{"paid/expired the day before", covered(noDues, paidUntil(model.ParticipationPaid, "2025-06-14")), today,
			notEligible(CodePaidExpired)},
		{"paid/PaidUntil equal to on is covered", covered(noDues, paidUntil(model.ParticipationPaid, today)), today,
			eligible(PayJingka, CodePaidParticipation)},
		{"paid/expired but the employer pays dues now", covered(paidUntil(model.ParticipationPaid, "2024-12-31")), today,
			eligible(PayJingka, CodeFreeParticipation)},
		{"paid/expired, not a member", covered(noDues, func(f *Facts) { f.UnionMember = No }, paidUntil(model.ParticipationPaid, "2024-12-31")), today,
			notEligible(CodePaidExpired)},
		{"paid/unknown end", covered(noDues, paidUntil(model.ParticipationPaid, "")), today, unknownOf(FactPaidUntil)},
		{"paid/unreadable end", covered(noDues, paidUntil(model.ParticipationPaid, "2025/12/31")), today, unknownOf(FactPaidUntil)},

		// Rule 6: seed 004 二(二)3 note: 如非职工个人原因在三个月内还未办理的会员，可以提供中行、农行、建行、工行、北京银行，五家银行卡号进行理赔.
		{"card/within three months", covered(noCard, joined("2025-03-16")), today,
			needs(CodeNoCardYet, CodeFreeParticipation)},
		{"card/within three months with a bank card", covered(noCard, withBank, joined("2025-03-16")), today,
			needs(CodeNoCardYet, CodeFreeParticipation)},
		{"card/three months end on the same day of the month", covered(noCard, withBank, joined("2025-03-15")), today,
			eligible(PayBank, CodeFreeParticipation, CodeNoCardUseBank)},
		{"card/after three months without a bank card", covered(noCard, joined("2025-03-15")), today,
			needs(CodeNoCardRegisterBank, CodeFreeParticipation)},
		{"card/month end overflows: day before 2025-03-02", covered(noCard, withBank, joined("2024-11-30")), "2025-03-01",
			needs(CodeNoCardYet, CodeFreeParticipation)},
		{"card/month end overflows: 2025-03-02", covered(noCard, withBank, joined("2024-11-30")), "2025-03-02",
			eligible(PayBank, CodeFreeParticipation, CodeNoCardUseBank)},
		{"card/joined in the future", covered(noCard, withBank, joined("2025-07-01")), today,
			needs(CodeNoCardYet, CodeFreeParticipation)},
		{"card/JoinedOn unknown", covered(noCard, withBank, joined("")), today, needs(CodeNoCardYet, CodeFreeParticipation)},
		// Seed 004: the 缴费人员 form asks for a 银行卡号 instead of a 京卡.
		{"card/paid without 京卡 uses the bank at once", covered(noDues, noCard, withBank, joined(""), paidUntil(model.ParticipationPaid, "2025-12-31")), today,
			eligible(PayBank, CodePaidParticipation, CodeNoCardUseBank)},
		{"card/paid without any card", covered(noDues, noCard, paidUntil(model.ParticipationPaid, "2025-12-31")), today,
			needs(CodeNoCardRegisterBank, CodePaidParticipation)},

		// Rule 7: unknown facts, asked in order.
		{"unknown/everything", Facts{}, today,
			unknownOf(FactInsuredBeijing, FactEmployment, FactKind, FactUnionMember, FactEmployerPaysDues, FactHasJingCard)},
		{"unknown/everything before 2013-05", Facts{}, "2013-04-30",
			unknownOf(FactInsuredBeijing, FactEmployment, FactKind, FactUnionMember, FactEmployerPaysDues, FactHasJingCard)},
		{"unknown/only the card", covered(func(f *Facts) { f.HasJingCard = Unknown }), today, unknownOf(FactHasJingCard)},
		{"unknown/insured, rest unknown", Facts{InsuredBeijing: Yes}, today,
			unknownOf(FactEmployment, FactUnionMember, FactEmployerPaysDues, FactHasJingCard)},
		{"unknown/insurance of an urban worker", covered(func(f *Facts) { f.InsuredBeijing = Unknown }), today,
			unknownOf(FactInsuredBeijing)},
		{"unknown/membership with dues paid", covered(func(f *Facts) { f.UnionMember = Unknown }), today,
			unknownOf(FactUnionMember)},
		{"unknown/membership is moot for a paid worker", covered(func(f *Facts) { f.UnionMember, f.EmployerPaysDues = Unknown, Unknown },
			paidUntil(model.ParticipationPaid, "2025-12-31")), today, eligible(PayJingka, CodePaidParticipation)},
		{"unknown/expired paid worker, dues unknown", covered(func(f *Facts) { f.EmployerPaysDues = Unknown },
			paidUntil(model.ParticipationPaid, "2024-12-31")), today, unknownOf(FactEmployerPaysDues)},
		{"unknown/bad date", covered(), "2025-6-15", outcome{Status: StatusUnknown, Codes: []string{CodeInvalidDate}}},
		{"unknown/empty date", covered(), "", outcome{Status: StatusUnknown, Codes: []string{CodeInvalidDate}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.facts, tc.on)
			if diff := cmp.Diff(tc.want, outcomeOf(d)); diff != "" {
				t.Errorf("Decide(%+v, %s) mismatch (-want +got):\n%s", tc.facts, tc.on, diff)
			}
			checkReasons(t, d)
		})
	}
}

// checkReasons fails unless every reason in d is the catalogue's text for its code.
func checkReasons(t *testing.T, d Decision) {
	t.Helper()
	for _, r := range d.Reasons {
		if want := reasonFor(r.Code); r != want || r.Message == "" {
			t.Errorf("reason %+v, want the catalogue's %+v", r, want)
		}
	}
}

// TestDecideInvariants runs Decide over every combination of a range of facts and checks what
// the contract promises whatever the facts.
func TestDecideInvariants(t *testing.T) {
	tris := []Tri{Unknown, Yes, No}
	employments := []model.EmploymentStatus{"", model.EmploymentInService, model.EmploymentRetired, model.EmploymentLeft}
	kinds := []model.WorkerKind{"", model.WorkerUrban, model.WorkerRural}
	participations := []model.Participation{"", model.ParticipationFree, model.ParticipationPaid, model.ParticipationCollective}
	ask := []string{FactInsuredBeijing, FactEmployment, FactKind, FactUnionMember, FactEmployerPaysDues, FactPaidUntil, FactHasJingCard}

	var n int
	for _, on := range []model.Date{"2013-04-30", "2025-06-15"} {
		for _, ins := range tris {
			for _, emp := range employments {
				for _, k := range kinds {
					for _, um := range tris {
						for _, dues := range tris {
							for _, p := range participations {
								for _, until := range []model.Date{"", "2000-01-01", on} {
									for _, j := range []model.Date{"", "2000-01-01", on} {
										for _, card := range tris {
											for _, bank := range []bool{false, true} {
												f := Facts{ins, emp, k, um, dues, p, until, j, card, bank}
												checkInvariants(t, f, on, ask)
												n++
											}
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d fact sets checked", n)
}

func checkInvariants(t *testing.T, f Facts, on model.Date, ask []string) {
	t.Helper()
	d := Decide(f, on)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("Decide(%+v, %s) = %+v: "+format, append([]any{f, on, outcomeOf(d)}, args...)...)
	}
	if len(d.Reasons) == 0 {
		fail("no reasons")
	}
	for _, r := range d.Reasons {
		if r != reasonFor(r.Code) || r.Message == "" {
			fail("reason %q is not the catalogue's", r.Code)
		}
	}
	if (d.PayTo != PayNone) != (d.Status == StatusEligible) {
		fail("PayTo %q with status %s", d.PayTo, d.Status)
	}
	if (len(d.Missing) > 0) != (d.Status == StatusUnknown) {
		fail("Missing %v with status %s", d.Missing, d.Status)
	}
	known := map[string]bool{
		FactInsuredBeijing:   f.InsuredBeijing != Unknown,
		FactEmployment:       f.Employment != "",
		FactKind:             f.Kind != "",
		FactUnionMember:      f.UnionMember != Unknown,
		FactEmployerPaysDues: f.EmployerPaysDues != Unknown,
		FactPaidUntil:        f.PaidUntil != "",
		FactHasJingCard:      f.HasJingCard != Unknown,
	}
	last := -1
	for _, m := range d.Missing {
		i := slices.Index(ask, m)
		if i <= last {
			fail("Missing %v is not in asking order %v", d.Missing, ask)
		}
		last = i
		if known[m] {
			fail("Missing lists %s, which is known", m)
		}
	}

	// A decided status does not depend on the unknown facts: every way of filling one in keeps it.
	if d.Status == StatusUnknown {
		return
	}
	for _, g := range fillings(f) {
		if got := Decide(g, on).Status; got != d.Status {
			fail("filling in an unknown fact (%+v) gives %s", g, got)
		}
	}
}

// fillings returns f with one of its unknown facts set to each possible value.
func fillings(f Facts) []Facts {
	var out []Facts
	tri := func(field *Tri) {
		if *field != Unknown {
			return
		}
		for _, v := range []Tri{Yes, No} {
			*field = v
			out = append(out, f)
		}
		*field = Unknown
	}
	tri(&f.InsuredBeijing)
	tri(&f.UnionMember)
	tri(&f.EmployerPaysDues)
	tri(&f.HasJingCard)
	if f.Employment == "" {
		for _, v := range []model.EmploymentStatus{model.EmploymentInService, model.EmploymentRetired, model.EmploymentLeft} {
			g := f
			g.Employment = v
			out = append(out, g)
		}
	}
	if f.Kind == "" {
		for _, v := range []model.WorkerKind{model.WorkerUrban, model.WorkerRural} {
			g := f
			g.Kind = v
			out = append(out, g)
		}
	}
	return out
}

func TestFactsOf(t *testing.T) {
	member := model.Member{
		InsuredBeijing:   true,
		Employment:       model.EmploymentInService,
		Kind:             model.WorkerRural,
		Participation:    model.ParticipationCollective,
		PaidUntil:        "2025-12-31",
		JoinedOn:         "2024-02-29",
		JingCardHash:     "c0ffee",
		BankCode:         model.BankBOB,
		BankAccountHash:  "beef",
		BankAccountLast4: "1234",
	}
	tests := []struct {
		name   string
		member func(*model.Member)
		union  model.Union
		want   Facts
	}{
		{"full record", nil, model.Union{PaysDues: true}, Facts{
			InsuredBeijing: Yes, Employment: model.EmploymentInService, Kind: model.WorkerRural,
			UnionMember: Yes, EmployerPaysDues: Yes, Participation: model.ParticipationCollective,
			PaidUntil: "2025-12-31", JoinedOn: "2024-02-29", HasJingCard: Yes, HasBankCard: true,
		}},
		{"no dues, no cards, not insured", func(m *model.Member) {
			m.InsuredBeijing, m.JingCardHash, m.BankCode = false, "", ""
		}, model.Union{PaysDues: false}, Facts{
			InsuredBeijing: No, Employment: model.EmploymentInService, Kind: model.WorkerRural,
			UnionMember: Yes, EmployerPaysDues: No, Participation: model.ParticipationCollective,
			PaidUntil: "2025-12-31", JoinedOn: "2024-02-29", HasJingCard: No,
		}},
		{"bank code without an account", func(m *model.Member) { m.BankAccountHash = "" }, model.Union{PaysDues: true}, Facts{
			InsuredBeijing: Yes, Employment: model.EmploymentInService, Kind: model.WorkerRural,
			UnionMember: Yes, EmployerPaysDues: Yes, Participation: model.ParticipationCollective,
			PaidUntil: "2025-12-31", JoinedOn: "2024-02-29", HasJingCard: Yes,
		}},
		{"bank not one of the five", func(m *model.Member) { m.BankCode = "CMB" }, model.Union{PaysDues: true}, Facts{
			InsuredBeijing: Yes, Employment: model.EmploymentInService, Kind: model.WorkerRural,
			UnionMember: Yes, EmployerPaysDues: Yes, Participation: model.ParticipationCollective,
			PaidUntil: "2025-12-31", JoinedOn: "2024-02-29", HasJingCard: Yes,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := member
			if tc.member != nil {
				tc.member(&m)
			}
			if diff := cmp.Diff(tc.want, FactsOf(m, tc.union)); diff != "" {
				t.Errorf("FactsOf mismatch (-want +got):\n%s", diff)
			}
		})
	}

	// Every bank of the five counts.
	for _, b := range model.Banks {
		m := member
		m.BankCode = b
		if !FactsOf(m, model.Union{}).HasBankCard {
			t.Errorf("FactsOf(member with %s card).HasBankCard = false, want true", b)
		}
	}
}

// TestCatalog pins the reason codes: they are stored and switched on elsewhere, so changing this
// list is a breaking change.
func TestCatalog(t *testing.T) {
	want := []string{
		"free_participation", "paid_participation",
		"no_card_use_bank", "no_card_yet", "no_card_register_bank",
		"retired", "left", "not_insured_beijing", "rural_before_2013_05",
		"not_union_member", "no_dues_no_paid", "paid_expired",
		"unknown_insurance", "unknown_employment", "unknown_kind", "unknown_union_member",
		"unknown_dues", "unknown_paid_until", "unknown_jing_card",
		"invalid_date",
	}
	var got []string
	seen := map[string]bool{}
	for _, r := range Catalog() {
		got = append(got, r.Code)
		if seen[r.Code] {
			t.Errorf("code %q listed twice", r.Code)
		}
		seen[r.Code] = true
		if !hasHan(r.Message) {
			t.Errorf("code %q: Message %q is not Chinese text", r.Code, r.Message)
		}
		if r.Action != "" && !hasHan(r.Action) {
			t.Errorf("code %q: Action %q is not Chinese text", r.Code, r.Action)
		}
		if strings.TrimSpace(r.Message) != r.Message {
			t.Errorf("code %q: Message %q has surrounding space", r.Code, r.Message)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Catalog() codes mismatch (-want +got):\n%s", diff)
	}
	if r := reasonFor("no_such_code"); r.Message != "" {
		t.Errorf("reasonFor(unknown code) = %+v, want no message", r)
	}
}

func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}

func TestTri(t *testing.T) {
	if TriOf(true) != Yes || TriOf(false) != No {
		t.Errorf("TriOf(true), TriOf(false) = %v, %v, want yes, no", TriOf(true), TriOf(false))
	}
	var zero Tri
	if zero != Unknown || zero.String() != "unknown" {
		t.Errorf("zero Tri = %v, want unknown", zero)
	}
}

func BenchmarkDecide(b *testing.B) {
	const today = model.Date("2025-06-15")
	cases := []Facts{
		covered(),
		covered(retired, notInsured),
		covered(rural),
		covered(noDues, paidUntil(model.ParticipationPaid, "2025-12-31")),
		covered(noDues, paidUntil(model.ParticipationPaid, "2024-12-31")),
		covered(noCard, withBank, joined("2025-01-10")),
		covered(noCard, joined("2025-05-10")),
		{},
		{InsuredBeijing: Yes, Employment: model.EmploymentInService},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		Decide(cases[i%len(cases)], today)
		i++
	}
}
