package progress

import (
	"context"
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
