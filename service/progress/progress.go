// Package progress carries a progress callback through a context, so that long work (imports,
// settlement runs, bank exports) can report how far it got without each service growing a
// parameter for it. Work that nobody watches reports into nothing.
package progress

import (
	"context"
	"io"
)

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

// Reader counts the bytes read through it, so that work over a file of known size (an upload
// spooled to disk, a bytes.Reader) can report how far it got in bytes.
type Reader struct {
	r    io.Reader
	n    int64
	size int64
}

// NewReader wraps r. The size is what r tells through a Size() int64 method, or 0 (unknown).
func NewReader(r io.Reader) *Reader {
	c := &Reader{r: r}
	if s, ok := r.(interface{ Size() int64 }); ok {
		c.size = s.Size()
	}
	return c
}

func (c *Reader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Size is the file's size, 0 when unknown.
func (c *Reader) Size() int64 { return c.size }

// ByBytes reports whether progress can be told in bytes: the size is known and the file has not
// been read whole already (XLSX is, to open it; then count rows instead).
func (c *Reader) ByBytes() bool { return c.size > 0 && c.n < c.size }

// Report tells ctx's watcher the bytes read so far, short of the size: 100% is for the caller
// to report once the last row is applied, not when the last byte is read.
func (c *Reader) Report(ctx context.Context) {
	Report(ctx, min(c.n, c.size-1), c.size)
}
