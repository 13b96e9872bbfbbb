package policy_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/policy"
)

func TestExtend(t *testing.T) {
	base := mustNew(t, testVersion("a", "2021-01-01", 10_000_000), testVersion("b", "2024-07-01", 20_000_000))
	today := model.Date("2025-07-22")
	bad := testVersion("x", "2026-01-01", 20_000_000)
	bad.Sources["annual_cap"] = ""
	tests := []struct {
		name        string
		v           policy.Version
		code, field string
	}{
		{"next year", testVersion("c", "2026-01-01", 30_000_000), "", ""},
		{"tomorrow", testVersion("c", "2025-07-23", 30_000_000), "", ""},
		{"today", testVersion("c", "2025-07-22", 30_000_000), "policy.not_future", "effective_from"},
		{"the past", testVersion("c", "2025-01-01", 30_000_000), "policy.not_future", "effective_from"},
		{"code taken", testVersion("b", "2026-01-01", 30_000_000), "policy.code_taken", "code"},
		{"figure without source", bad, "policy.bad_version", "body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, err := base.Extend(tc.v, today)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Extend(%s from %s) = %v, want ok", tc.v.Code, tc.v.EffectiveFrom, err)
				}
				if n := len(next.Versions()); n != 3 {
					t.Errorf("extended engine has %d versions, want 3", n)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || e.Kind != errs.KindInvalid || e.Code != tc.code || e.Field != tc.field || e.Message == "" || e.Fix == "" {
				t.Fatalf("Extend(%s from %s) = %#v, want Invalid %s on %s with message and fix", tc.v.Code, tc.v.EffectiveFrom, err, tc.code, tc.field)
			}
		})
	}
	if n := len(base.Versions()); n != 2 {
		t.Errorf("Extend changed its engine: %d versions, want 2", n)
	}
	// After every existing version, even when that one is still in the future.
	future := mustNew(t, testVersion("a", "2021-01-01", 10_000_000), testVersion("f", "2026-01-01", 20_000_000))
	if _, err := future.Extend(testVersion("g", "2025-12-01", 30_000_000), today); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("Extend before the newest (future) version = %v, want Invalid", err)
	}
}

// TestSwapUnderLoad computes continuously while versions are swapped in and out: every result
// must come from one whole version set (the old cap or the new, never a mix within a result),
// and the race detector must stay quiet.
func TestSwapUnderLoad(t *testing.T) {
	oldSet := mustNew(t, testVersion("a", "2021-01-01", 10_000_000))
	// The new set changes the first version's cap and adds a second one inside the year, so a
	// computation that read the set twice could pay the two bills under different sets.
	newSet := mustNew(t, testVersion("a", "2021-01-01", 15_000_000), testVersion("b", "2025-07-01", 30_000_000))
	e := mustNew(t, testVersion("a", "2021-01-01", 10_000_000))
	in := policy.Input{Bills: []policy.Bill{
		{RecordID: 1, ClaimType: model.ClaimInpatient, Date: "2025-03-01", SelfPay1Fen: 30_000_000},
		{RecordID: 2, ClaimType: model.ClaimInpatient, Date: "2025-09-01", SelfPay1Fen: 30_000_000},
	}}
	// Under the old set both bills are held to 100 000 yuan in all; under the new one the first
	// pays 150 000 and the second takes the year up to 300 000. A mix gives 250 000 or 150 000.
	wantOld, wantNew := model.Fen(10_000_000), model.Fen(30_000_000)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var computed atomic.Int64
	errc := make(chan string, 8)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				r, err := e.Compute(in)
				if err != nil {
					errc <- err.Error()
					return
				}
				codes := r.Lines[0].PolicyCode + r.Lines[1].PolicyCode
				switch {
				case codes == "aa" && r.TotalFen == wantOld:
				case codes == "ab" && r.TotalFen == wantNew:
				default:
					errc <- "mixed result: policies " + codes + ", total " + r.TotalFen.Yuan()
					return
				}
				if vs := e.Versions(); len(vs) != 1 && len(vs) != 2 {
					errc <- "Versions mid-swap"
					return
				}
				computed.Add(1)
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; (i < 2000 || computed.Load() < 200) && len(errc) == 0 && time.Now().Before(deadline); i++ {
		if i%2 == 0 {
			e.Swap(newSet)
		} else {
			e.Swap(oldSet)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for msg := range errc {
		t.Error(msg)
	}
	if n := computed.Load(); n < 200 {
		t.Errorf("only %d computations ran during the swaps, want at least 200", n)
	}
	e.Swap(newSet)
	if v, ok := e.At("2025-08-01"); !ok || v.Code != "b" {
		t.Errorf("At after the swap = %s, %v; want b", v.Code, ok)
	}
	if v, _ := oldSet.At("2025-08-01"); v.Code != "a" {
		t.Errorf("the swapped-out engine changed: At = %s, want a", v.Code)
	}
}
