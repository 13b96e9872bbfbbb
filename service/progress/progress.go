// Package progress carries a progress callback through a context, so that long work (imports,
// settlement runs, bank exports) can report how far it got without each service growing a
// parameter for it. Work that nobody watches reports into nothing.
package progress

import "context"

// Func receives the units done so far and the total, when known (0: unknown). It may be called
// from several goroutines and must be cheap; callers report at most every few hundred units.
type Func func(done, total int64)

type key struct{}

// With returns a context whose Report calls go to f.
func With(ctx context.Context, f Func) context.Context {
	return context.WithValue(ctx, key{}, f)
}

// Report tells the context's watcher, if any, that done of total units are finished.
func Report(ctx context.Context, done, total int64) {
	if f, ok := ctx.Value(key{}).(Func); ok && f != nil {
		f(done, total)
	}
}
