package job

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"huzhu/service/blob"
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
	spoolChunk = blob.ChunkSize // plaintext bytes per chunk of a spool file (blob's sealed stream)
	keptChunk  = 1 << 20        // plaintext bytes per job_chunks row
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
	sw, err := blob.NewSealer(bw, sp.key, []byte(filepath.Base(sp.path)))
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
	sp.size = sw.Size()
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
	or, err := blob.NewOpener(f, sp.key, []byte(filepath.Base(sp.path)))
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
	r    *blob.Opener
	size int64
}

// Read reads the upload; a tampered or truncated file is ErrCorrupt.
func (r *SpoolReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if errors.Is(err, blob.ErrCorrupt) {
		err = ErrCorrupt
	}
	return n, err
}

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
