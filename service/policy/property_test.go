package policy_test

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/policy"
)

// richEngine has what the shipped policy lacks: deductibles, ratios and a bonus that do not
// multiply out exactly, and a year (2021) crossing three versions whose caps rise and then fall.
func richEngine(t testing.TB) *policy.Engine {
	t.Helper()
	v1 := testVersion("R1", "2020-01-01", 5_000_000)
	v1.Claims[model.ClaimOutpatient] = policy.ClaimRule{RatioBP: 5250, DeductibleFen: 30_000}
	v1.Claims[model.ClaimInpatient] = policy.ClaimRule{RatioBP: 6033, DeductibleFen: 100_000}
	v1.BonusBP = 525
	v2 := testVersion("R2", "2021-04-01", 8_000_000)
	v2.Claims[model.ClaimOutpatient] = policy.ClaimRule{RatioBP: 9800, DeductibleFen: 50_000}
	v2.Ladder = []policy.Segment{{UpToFen: 333_333, RatioBP: 3333}, {UpToFen: 2_000_000, RatioBP: 6667}, {RatioBP: 9999}}
	markAssumed(&v2)
	v3 := testVersion("R3", "2021-10-01", 6_000_000)
	return mustNew(t, v1, v2, v3)
}

var day0 = time.Date(2020, 1, 1, 0, 0, 0, 0, model.Shanghai)

func dateAt(day int) model.Date { return model.DateOf(day0.AddDate(0, 0, day)) }

// randomFen returns an amount of a random magnitude: often zero or a few fen, sometimes large
// enough to reach the caps.
func randomFen(r *rand.Rand) model.Fen {
	switch r.IntN(5) {
	case 0:
		return 0
	case 1:
		return model.Fen(r.IntN(10))
	case 2:
		return model.Fen(r.IntN(500_000))
	case 3:
		return model.Fen(r.IntN(10_000_000))
	}
	return model.Fen(r.IntN(60_000_000))
}

func randomInput(r *rand.Rand) policy.Input {
	var in policy.Input
	n := 1 + r.IntN(10)
	for i := range n {
		b := policy.Bill{
			RecordID:    uint64(r.IntN(1000))*16 + uint64(i), // unique, in no particular order
			ClaimType:   model.ClaimTypes[r.IntN(len(model.ClaimTypes))],
			Date:        dateAt(r.IntN(3 * 365)), // 2020 to 2022
			SelfPay1Fen: randomFen(r),
		}
		if r.IntN(3) == 0 {
			b.AboveCapFen = randomFen(r)
			b.MajorDisease = r.IntN(4) > 0
		}
		in.Bills = append(in.Bills, b)
	}
	for range r.IntN(3) {
		bonus := policy.Bonus{Kind: []policy.BonusKind{policy.BonusHardship, policy.BonusModelWorker}[r.IntN(2)]}
		from := r.IntN(3 * 365)
		if r.IntN(3) > 0 {
			bonus.From = dateAt(from)
		}
		if r.IntN(3) > 0 {
			bonus.Until = dateAt(from + r.IntN(400))
		}
		in.Facts.Bonuses = append(in.Facts.Bonuses, bonus)
	}
	if r.IntN(3) == 0 {
		in.Prior = map[int]policy.YearToDate{2021: {
			PaidFen:       model.Fen(r.IntN(12_000_000)),
			AboveCapFen:   randomFen(r),
			DeductibleFen: map[model.ClaimType]model.Fen{model.ClaimOutpatient: model.Fen(r.IntN(60_000))},
		}}
	}
	return in
}

// checkResult checks what must hold of every result: nothing negative, lines in date order,
// steps that add up, caps respected, YearToDate consistent, and the same result on re-run and
// for any order of the bills.
func checkResult(t *testing.T, e *policy.Engine, in policy.Input, r policy.Result, shuffle *rand.Rand) {
	t.Helper()
	var total model.Fen
	paid := map[int]model.Fen{} // running per year, from Prior
	maxCap := map[int]model.Fen{}
	for y, p := range in.Prior {
		paid[y] = p.PaidFen
	}
	for i, l := range r.Lines {
		if i > 0 {
			prev := r.Lines[i-1]
			if cmp.Or(cmp.Compare(prev.BillDate, l.BillDate), cmp.Compare(prev.RecordID, l.RecordID)) >= 0 {
				t.Errorf("lines out of order: %d %s then %d %s", prev.RecordID, prev.BillDate, l.RecordID, l.BillDate)
			}
		}
		if l.AmountFen < 0 || l.GrossFen < 0 || l.BaseFen < 0 || l.AmountFen > l.GrossFen {
			t.Errorf("line %d: amount %d gross %d base %d", l.RecordID, l.AmountFen, l.GrossFen, l.BaseFen)
		}
		var parts model.Fen
		_, capped := stepOf(l, policy.StepCap)
		for _, s := range l.Steps {
			if s.AmountFen < 0 || s.RatioBP < 0 || s.RatioBP > model.FullBP || s.Text == "" {
				t.Errorf("line %d: bad step %+v", l.RecordID, s)
			}
			if s.Kind == policy.StepRatio || s.Kind == policy.StepLadder {
				parts += s.AmountFen
			}
		}
		if first, last := l.Steps[0], l.Steps[len(l.Steps)-1]; first.Kind != policy.StepVersion || !strings.HasPrefix(first.Text, "适用政策：") ||
			last.Kind != policy.StepTotal || last.AmountFen != l.AmountFen {
			t.Errorf("line %d: steps %v do not start with the version and end with the total", l.RecordID, kinds(l))
		}
		if parts != l.GrossFen || capped != (l.AmountFen < l.GrossFen) {
			t.Errorf("line %d: steps add up to %d (capped %v), gross %d amount %d", l.RecordID, parts, capped, l.GrossFen, l.AmountFen)
		}
		v, _ := e.At(l.BillDate)
		maxCap[l.Year] = max(maxCap[l.Year], v.AnnualCapFen)
		paid[l.Year] += l.AmountFen
		if l.AmountFen > 0 && paid[l.Year] > v.AnnualCapFen {
			t.Errorf("line %d: year %d paid %d so far, above the cap %d of policy %s", l.RecordID, l.Year, paid[l.Year], v.AnnualCapFen, v.Code)
		}
		total += l.AmountFen
	}
	if total != r.TotalFen {
		t.Errorf("TotalFen = %d, lines add up to %d", r.TotalFen, total)
	}
	for y, p := range paid {
		if r.YearToDate[y].PaidFen != p {
			t.Errorf("YearToDate[%d].PaidFen = %d, want %d", y, r.YearToDate[y].PaidFen, p)
		}
		if p > max(in.Prior[y].PaidFen, maxCap[y]) {
			t.Errorf("year %d paid %d, above the highest cap %d", y, p, maxCap[y])
		}
	}

	again, err := e.Compute(in)
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if diff := gocmp.Diff(r, again); diff != "" {
		t.Errorf("re-run differs (-first +second):\n%s", diff)
	}
	shuffled := in
	shuffled.Bills = slices.Clone(in.Bills)
	shuffle.Shuffle(len(shuffled.Bills), func(i, j int) { shuffled.Bills[i], shuffled.Bills[j] = shuffled.Bills[j], shuffled.Bills[i] })
	other, err := e.Compute(shuffled)
	if err != nil {
		t.Fatalf("shuffled: %v", err)
	}
	if diff := gocmp.Diff(r, other); diff != "" {
		t.Errorf("shuffled input gives a different result (-in order +shuffled):\n%s", diff)
	}
}

func TestComputeProperties(t *testing.T) {
	for _, ec := range []struct {
		name   string
		engine *policy.Engine
	}{{"shipped", shipped(t)}, {"rich", richEngine(t)}} {
		t.Run(ec.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			for i := range cases() {
				in := randomInput(r)
				res, err := ec.engine.Compute(in)
				if err != nil {
					t.Fatalf("case %d: Compute(%+v): %v", i, in, err)
				}
				checkResult(t, ec.engine, in, res, r)
				if t.Failed() {
					t.Fatalf("case %d: input %+v", i, in)
				}
			}
		})
	}
}

// wholeYuan rounds every amount of in down to whole yuan, so that with whole-percent ratios every
// product is exact and no rounding can move a fen between bills.
func wholeYuan(in policy.Input) policy.Input {
	in.Bills = slices.Clone(in.Bills)
	for i := range in.Bills {
		in.Bills[i].SelfPay1Fen -= in.Bills[i].SelfPay1Fen % 100
		in.Bills[i].AboveCapFen -= in.Bills[i].AboveCapFen % 100
	}
	return in
}

// cases is how many random cases a property test tries: fewer with -short.
func cases() int {
	if testing.Short() {
		return 200
	}
	return 2000
}

// TestComputeMonotone raises one bill's 自付一 or above-cap amount and checks the total does not
// fall. Exactly so when amounts and ratios multiply out exactly (the shipped policy with whole
// yuan); otherwise a later major-disease bill whose ladder pieces move can lose a fen of rounding,
// at most one per later bill (see the package documentation).
func TestComputeMonotone(t *testing.T) {
	for _, ec := range []struct {
		name   string
		engine *policy.Engine
		exact  bool
	}{{"shipped whole yuan", shipped(t), true}, {"rich", richEngine(t), false}} {
		t.Run(ec.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			for i := range cases() {
				in := randomInput(r)
				if ec.exact {
					in = wholeYuan(in)
				}
				base := mustCompute(t, ec.engine, in)
				raised := in
				raised.Bills = slices.Clone(in.Bills)
				k := r.IntN(len(raised.Bills))
				delta := randomFen(r) + 1
				if ec.exact {
					delta = (delta/100 + 1) * 100
				}
				what := "SelfPay1Fen"
				if r.IntN(2) == 0 {
					raised.Bills[k].SelfPay1Fen += delta
				} else {
					raised.Bills[k].AboveCapFen += delta
					what = "AboveCapFen"
				}
				got := mustCompute(t, ec.engine, raised)
				slack := model.Fen(0)
				if !ec.exact {
					for _, b := range in.Bills {
						if b.MajorDisease && b.AboveCapFen > 0 && b.Date >= in.Bills[k].Date {
							slack++
						}
					}
				}
				if got.TotalFen < base.TotalFen-slack {
					t.Fatalf("case %d: raising bill %d %s by %d: Compute = %d, was %d (slack %d)\ninput %+v",
						i, in.Bills[k].RecordID, what, delta, got.TotalFen, base.TotalFen, slack, in)
				}
			}
		})
	}
}

// TestComputeLadderSplit splits one major-disease amount over several bills of the same year: the
// total is the same when every cut falls on a segment boundary, and otherwise within 1 fen per cut
// inside a segment.
func TestComputeLadderSplit(t *testing.T) {
	v := testVersion("S", "2020-01-01", 100_000_000_000)
	v.Ladder = []policy.Segment{{UpToFen: 5_000_000, RatioBP: 4000}, {UpToFen: 10_000_000, RatioBP: 5000},
		{UpToFen: 15_000_000, RatioBP: 6333}, {UpToFen: 30_000_000, RatioBP: 8000}, {RatioBP: 9000}}
	markAssumed(&v)
	e := mustNew(t, v)
	bounds := []model.Fen{5_000_000, 10_000_000, 15_000_000, 30_000_000}
	r := rand.New(rand.NewPCG(5, 6))
	for i := range cases() {
		amount := 1 + model.Fen(r.IntN(40_000_000))
		prior := map[int]policy.YearToDate{2022: {AboveCapFen: model.Fen(r.IntN(3)) * 2_500_000}}
		whole := mustCompute(t, e, policy.Input{Prior: prior, Bills: []policy.Bill{
			{RecordID: 1, ClaimType: model.ClaimInpatient, Date: "2022-01-01", AboveCapFen: amount, MajorDisease: true}}})

		// Cut points: random, or segment boundaries relative to the starting position.
		var cuts []model.Fen
		for range r.IntN(6) {
			c := 1 + model.Fen(r.IntN(int(amount)))
			if r.IntN(2) == 0 {
				c = bounds[r.IntN(len(bounds))] - prior[2022].AboveCapFen
			}
			if c > 0 && c < amount && !slices.Contains(cuts, c) {
				cuts = append(cuts, c)
			}
		}
		slices.Sort(cuts)
		var bills []policy.Bill
		inside, prev := model.Fen(0), model.Fen(0)
		for j, c := range append(cuts, amount) {
			bills = append(bills, policy.Bill{RecordID: uint64(j + 1), ClaimType: model.ClaimInpatient, Date: dateAt(731 + j),
				AboveCapFen: c - prev, MajorDisease: true})
			if c < amount && !slices.Contains(bounds, c+prior[2022].AboveCapFen) {
				inside++
			}
			prev = c
		}
		split := mustCompute(t, e, policy.Input{Prior: prior, Bills: bills})
		if d := split.TotalFen - whole.TotalFen; d > inside || d < -inside {
			t.Fatalf("case %d: %d fen from %d split at %v = %d, as one bill %d; want within %d",
				i, amount, prior[2022].AboveCapFen, cuts, split.TotalFen, whole.TotalFen, inside)
		}
	}
}

func FuzzCompute(f *testing.F) {
	f.Add(uint64(1), int64(100_000), int64(57_000_000), uint16(620), true)
	f.Add(uint64(2), int64(3), int64(0), uint16(0), false)
	f.Add(uint64(3), int64(-1), int64(5), uint16(900), true)
	f.Add(uint64(4), int64(1<<62), int64(1), uint16(400), false)
	f.Add(uint64(5), int64(0), int64(30_000_001), uint16(65535), true)
	engines := []*policy.Engine{shipped(f), richEngine(f)}
	f.Fuzz(func(t *testing.T, seed uint64, selfPay, above int64, day uint16, major bool) {
		r := rand.New(rand.NewPCG(seed, seed>>1))
		in := randomInput(r)
		in.Bills = append(in.Bills, policy.Bill{RecordID: 1 << 40, ClaimType: model.ClaimInpatient,
			Date: dateAt(int(day) - 5000), SelfPay1Fen: model.Fen(selfPay), AboveCapFen: model.Fen(above), MajorDisease: major})
		for _, e := range engines {
			res, err := e.Compute(in)
			if err != nil {
				if errs.KindOf(err) != errs.KindInvalid {
					t.Fatalf("Compute(%+v) = %v, want an Invalid error or a result", in, err)
				}
				continue
			}
			checkResult(t, e, in, res, r)
		}
	})
}
