// Package progresstest records the progress reports a service makes, for tests.
package progresstest

import (
	"context"
	"sync"

	"huzhu/service/progress"
)

// Recorder collects the reports made to the contexts it gives. It is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	reports [][2]int64
}

// Context returns a context whose progress reports r records.
func (r *Recorder) Context() context.Context {
	return progress.With(context.Background(), func(done, total int64) {
		r.mu.Lock()
		r.reports = append(r.reports, [2]int64{done, total})
		r.mu.Unlock()
	})
}

// Reports returns the (done, total) pairs reported so far, in order.
func (r *Recorder) Reports() [][2]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][2]int64(nil), r.reports...)
}
