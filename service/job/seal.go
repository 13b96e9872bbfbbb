package job

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Sealed data is a sequence of chunks, each sealed with AES-256-GCM under a key used for one
// stream only. The nonce is the chunk's number and a last-chunk flag (the STREAM construction),
// so chunks cannot be reordered, dropped or cut off at the end without Open failing; the
// additional data binds the chunks to their owner (a job), so they cannot be swapped between jobs.

// ErrCorrupt means sealed data was altered, cut short or sealed under another key.
var ErrCorrupt = errors.New("job: sealed data is corrupt or was written under another key")

const (
	spoolChunk = 64 << 10 // plaintext bytes per chunk of a spool file
	keptChunk  = 1 << 20  // plaintext bytes per job_chunks row
	keyLen     = 32
	spoolGlob  = "huzhu-upload-*"
)

func newKey() []byte {
	k := make([]byte, keyLen)
	if _, err := rand.Read(k); err != nil {
		panic("job: no randomness: " + err.Error()) // crypto/rand never fails on supported systems
	}
	return k
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("job: key: %w", err)
	}
	return cipher.NewGCM(b)
}

func chunkNonce(seq uint64, last bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[3:11], seq)
	if last {
		n[11] = 1
	}
	return n
}

// sealWriter seals what is written to it in chunks of size bytes; Close seals the last chunk
// (empty when the data ended on a chunk boundary) and must be called.
type sealWriter struct {
	w    io.Writer
	aead cipher.AEAD
	ad   []byte
	size int
	buf  []byte
	seq  uint64
	n    int64
}

func newSealWriter(w io.Writer, key, ad []byte, size int) (*sealWriter, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &sealWriter{w: w, aead: aead, ad: ad, size: size, buf: make([]byte, 0, size)}, nil
}

func (s *sealWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		// A full chunk is sealed only once more data follows: the last chunk must carry the flag.
		if len(s.buf) == s.size {
			if err := s.flush(false); err != nil {
				return written, err
			}
		}
		n := min(len(p), s.size-len(s.buf))
		s.buf = append(s.buf, p[:n]...)
		p = p[n:]
		written += n
		s.n += int64(n)
	}
	return written, nil
}

func (s *sealWriter) flush(last bool) error {
	out := s.aead.Seal(nil, chunkNonce(s.seq, last), s.buf, s.ad)
	s.seq++
	s.buf = s.buf[:0]
	_, err := s.w.Write(out)
	return err
}

func (s *sealWriter) Close() error { return s.flush(true) }

// openReader reads what a sealWriter with the same key, additional data and chunk size wrote.
type openReader struct {
	r     *bufio.Reader
	aead  cipher.AEAD
	ad    []byte
	size  int
	seq   uint64
	plain []byte
	last  bool
}

func newOpenReader(r io.Reader, key, ad []byte, size int) (*openReader, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &openReader{r: bufio.NewReaderSize(r, size+aead.Overhead()+1), aead: aead, ad: ad, size: size}, nil
}

func (o *openReader) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.last {
			return 0, io.EOF
		}
		if err := o.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

func (o *openReader) next() error {
	sealed := make([]byte, o.size+o.aead.Overhead())
	n, err := io.ReadFull(o.r, sealed)
	switch {
	case errors.Is(err, io.EOF):
		return ErrCorrupt // the stream ended before a chunk marked last
	case errors.Is(err, io.ErrUnexpectedEOF):
		o.last = true // a short chunk is the last one
	case err != nil:
		return err
	default:
		if _, perr := o.r.Peek(1); errors.Is(perr, io.EOF) {
			o.last = true
		} else if perr != nil {
			return perr
		}
	}
	plain, err := o.aead.Open(sealed[:0], chunkNonce(o.seq, o.last), sealed[:n], o.ad)
	if err != nil {
		return ErrCorrupt
	}
	o.seq++
	o.plain = plain
	return nil
}

// sealChunks seals data as the job_chunks rows of one kept file.
func sealChunks(key, ad, data []byte) ([][]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for seq := 0; ; seq++ {
		n := min(len(data), keptChunk)
		last := n == len(data)
		out = append(out, aead.Seal(nil, chunkNonce(uint64(seq), last), data[:n], ad))
		data = data[n:]
		if last {
			return out, nil
		}
	}
}

// openChunks opens what sealChunks sealed, in order.
func openChunks(key, ad []byte, chunks [][]byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	var out []byte
	for seq, c := range chunks {
		plain, err := aead.Open(nil, chunkNonce(uint64(seq), seq == len(chunks)-1), c, ad)
		if err != nil {
			return nil, ErrCorrupt
		}
		out = append(out, plain...)
	}
	if len(chunks) == 0 {
		return nil, ErrCorrupt
	}
	return out, nil
}

// Spool is an upload waiting for its job: a temporary file sealed under a key held only in this
// process's memory. Remove deletes it; a Spool left behind by a crash is unreadable.
type Spool struct {
	path string
	key  []byte
	size int64
}

// Spool copies r into a new sealed temporary file in Options.SpoolDir. On error nothing is left
// on disk.
func (s *Service) Spool(r io.Reader) (*Spool, error) {
	f, err := os.CreateTemp(s.o.SpoolDir, spoolGlob) // mode 0600
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	sp := &Spool{path: f.Name(), key: newKey()}
	bw := bufio.NewWriterSize(f, spoolChunk+64)
	sw, err := newSealWriter(bw, sp.key, []byte(filepath.Base(sp.path)), spoolChunk)
	if err == nil {
		_, err = io.Copy(sw, r)
	}
	if err == nil {
		err = sw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		sp.Remove()
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	sp.size = sw.n
	return sp, nil
}

// Size returns the number of bytes of the upload.
func (sp *Spool) Size() int64 { return sp.size }

// Open returns a reader of the upload. It reports the upload's size through Size, so that a
// reader of it can tell a true percentage.
func (sp *Spool) Open() (*SpoolReader, error) {
	f, err := os.Open(sp.path)
	if err != nil {
		return nil, fmt.Errorf("open spooled upload: %w", err)
	}
	or, err := newOpenReader(f, sp.key, []byte(filepath.Base(sp.path)), spoolChunk)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &SpoolReader{f: f, r: or, size: sp.size}, nil
}

// Remove deletes the file; removing twice is harmless.
func (sp *Spool) Remove() {
	if sp != nil {
		_ = os.Remove(sp.path)
	}
}

// SpoolReader reads a Spool's upload.
type SpoolReader struct {
	f    *os.File
	r    *openReader
	size int64
}

// Read reads the upload; a tampered or truncated file is ErrCorrupt.
func (r *SpoolReader) Read(p []byte) (int, error) { return r.r.Read(p) }

// Size returns the upload's size in bytes.
func (r *SpoolReader) Size() int64 { return r.size }

// Close closes the file (Spool.Remove deletes it).
func (r *SpoolReader) Close() error { return r.f.Close() }

// removeOldSpools deletes spool files older than age: leftovers of processes that stopped
// without removing them (unreadable anyway: their key is gone with the process).
func removeOldSpools(dir string, age time.Duration, now time.Time) int {
	names, _ := filepath.Glob(filepath.Join(dir, spoolGlob))
	n := 0
	for _, p := range names {
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() || now.Sub(st.ModTime()) < age {
			continue
		}
		if os.Remove(p) == nil {
			n++
		}
	}
	return n
}
