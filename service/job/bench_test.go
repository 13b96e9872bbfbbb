package job

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkSpool measures sealing an upload to disk and reading it back, per byte of upload.
func BenchmarkSpool(b *testing.B) {
	s, _, _ := newTestService(b, Options{SpoolDir: b.TempDir()})
	data := bytes.Repeat([]byte("JS202503140001,900000000001,,门诊,2026-03-14,,示例医院,100.00,60.00,30.00,5.00,5.00,0,否\n"), 64<<20/100)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sp, err := s.Spool(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		r, err := sp.Open()
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != int64(len(data)) {
			b.Fatalf("read %d, %v", n, err)
		}
		r.Close()
		sp.Remove()
	}
}
