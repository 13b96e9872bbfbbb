package progress

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestReportReachesWatcher(t *testing.T) {
	var gotDone, gotTotal int64
	ctx := With(context.Background(), func(d, tot int64) { gotDone, gotTotal = d, tot })
	Report(ctx, 3, 10)
	if gotDone != 3 || gotTotal != 10 {
		t.Fatalf("watcher got %d/%d, want 3/10", gotDone, gotTotal)
	}
	Report(context.Background(), 1, 1) // nobody watches: must not panic
}

func TestReaderReportsBytesShortOfTheEnd(t *testing.T) {
	var got []int64
	ctx := With(context.Background(), func(d, tot int64) {
		if tot != 10 {
			t.Errorf("total = %d, want the size 10", tot)
		}
		got = append(got, d)
	})
	r := NewReader(strings.NewReader("0123456789"))
	if !r.ByBytes() || r.Size() != 10 {
		t.Fatalf("ByBytes = %v, Size = %d before reading", r.ByBytes(), r.Size())
	}
	buf := make([]byte, 4)
	for {
		if _, err := r.Read(buf); err == io.EOF {
			break
		}
		r.Report(ctx)
	}
	// 4, 8, then 9 (not 10: the end is the caller's to report), and ByBytes is off once read whole.
	if want := []int64{4, 8, 9}; !slices.Equal(got, want) {
		t.Errorf("reports = %v, want %v", got, want)
	}
	if r.ByBytes() {
		t.Error("ByBytes after reading the whole file = true, want false (count rows instead)")
	}
	if NewReader(io.MultiReader(strings.NewReader("x"))).ByBytes() {
		t.Error("ByBytes of a reader without a size = true")
	}
}
