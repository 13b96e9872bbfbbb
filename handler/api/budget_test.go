package api_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"
)

// countQueries counts the statements db sends from now on, reads and writes alike.
func countQueries(t *testing.T, db *gorm.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	inc := func(*gorm.DB) { n.Add(1) }
	name := fmt.Sprintf("test:count:%s", t.Name())
	cb := db.Callback()
	must(t, cb.Query().After("gorm:query").Register(name, inc))
	must(t, cb.Row().After("gorm:row").Register(name, inc))
	must(t, cb.Raw().After("gorm:raw").Register(name, inc))
	must(t, cb.Create().After("gorm:create").Register(name, inc))
	must(t, cb.Update().After("gorm:update").Register(name, inc))
	t.Cleanup(func() {
		_ = cb.Query().Remove(name)
		_ = cb.Row().Remove(name)
		_ = cb.Raw().Remove(name)
		_ = cb.Create().Remove(name)
		_ = cb.Update().Remove(name)
	})
	return &n
}

// TestQueryBudget holds the hot endpoints of the mini-program to their database round trips:
// on this machine a round trip costs more than the rest of a request (see TestAPILoad in
// cmd/huzhu), so a change that adds one shows here first. The binding of a bound account is
// read once and then served from the member service's cache.
func TestQueryBudget(t *testing.T) {
	w := newWorld(t)
	a, _, _ := w.seed(t)
	tok := w.loginBound(t, a)
	list := w.call(t, "GET", "/api/v1/payouts?year=2025", tok, "")
	items, _ := list.m["items"].([]any)
	if list.status != 200 || len(items) == 0 {
		t.Fatalf("payouts = %d %s", list.status, list.body)
	}
	lineID := fmt.Sprint(items[0].(map[string]any)["id"])
	estimate := `{"bills":[{"claim_type":"门诊","date":"2025-06-01","self_pay1_yuan":"356.20"},{"claim_type":"普通住院","date":"2025-05-01","self_pay1_fen":1250000}]}`
	tests := []struct {
		method, path, body string
		max                int64
	}{
		{"POST", "/api/v1/estimates", estimate, 1},         // member, union and year-to-date in one
		{"GET", "/api/v1/estimates/unsettled", "", 2},      // records; member and year-to-date
		{"GET", "/api/v1/payouts?year=2025", "", 1},        // every line: the sums and the page
		{"GET", "/api/v1/payouts/" + lineID, "", 1},        // line, its year's lines and its transfers
		{"GET", "/api/v1/payouts?year=2025&page=9", "", 1}, // a page past the end: the same one
	}
	n := countQueries(t, w.db)
	for _, tc := range tests {
		n.Store(0)
		r := w.call(t, tc.method, tc.path, tok, tc.body)
		if r.status != 200 {
			t.Errorf("%s %s = %d %s", tc.method, tc.path, r.status, r.body)
			continue
		}
		if got := n.Load(); got > tc.max {
			t.Errorf("%s %s sent %d statements, budget %d", tc.method, tc.path, got, tc.max)
		}
	}
}
