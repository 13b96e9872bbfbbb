package blob

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Sealed streams are a sequence of chunks, each sealed with AES-256-GCM under a key used for one
// stream only. The nonce is the chunk's number and a last-chunk flag (the STREAM construction),
// so chunks cannot be reordered, dropped or cut off at the end without the Opener failing; the
// additional data binds the chunks to their owner (a storage key), so they cannot be swapped.
// The construction is the one service/job seals its spools with.

// ErrCorrupt means sealed data was altered, cut short or sealed under another key.
var ErrCorrupt = errors.New("blob: sealed data is corrupt or was written under another key")

// ChunkSize is the plaintext bytes per sealed chunk.
const ChunkSize = 64 << 10

// KeyLen is the length of a data key.
const KeyLen = 32

// NewKey returns a fresh random data key.
func NewKey() []byte {
	k := make([]byte, KeyLen)
	if _, err := rand.Read(k); err != nil {
		panic("blob: no randomness: " + err.Error()) // crypto/rand never fails on supported systems
	}
	return k
}

// SealedSize returns the size of the sealed form of n plaintext bytes.
func SealedSize(n int64) int64 {
	const overhead = 16
	chunks := n/ChunkSize + 1 // the last chunk may be empty
	return n + chunks*overhead
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("blob: key: %w", err)
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

// Sealer seals what is written to it; Close seals the last chunk and must be called.
type Sealer struct {
	w    io.Writer
	aead cipher.AEAD
	ad   []byte
	buf  []byte
	seq  uint64
	n    int64
}

// NewSealer returns a Sealer writing to w under key, bound to ad.
func NewSealer(w io.Writer, key, ad []byte) (*Sealer, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &Sealer{w: w, aead: aead, ad: ad, buf: make([]byte, 0, ChunkSize)}, nil
}

// Write buffers p and seals every full chunk once more data follows.
func (s *Sealer) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if len(s.buf) == ChunkSize {
			if err := s.flush(false); err != nil {
				return written, err
			}
		}
		n := min(len(p), ChunkSize-len(s.buf))
		s.buf = append(s.buf, p[:n]...)
		p = p[n:]
		written += n
		s.n += int64(n)
	}
	return written, nil
}

func (s *Sealer) flush(last bool) error {
	out := s.aead.Seal(nil, chunkNonce(s.seq, last), s.buf, s.ad)
	s.seq++
	s.buf = s.buf[:0]
	_, err := s.w.Write(out)
	return err
}

// Close seals the last chunk (empty when the data ended on a chunk boundary).
func (s *Sealer) Close() error { return s.flush(true) }

// Size returns the plaintext bytes written so far.
func (s *Sealer) Size() int64 { return s.n }

// Opener reads what a Sealer with the same key and additional data wrote.
type Opener struct {
	r     *bufio.Reader
	aead  cipher.AEAD
	ad    []byte
	seq   uint64
	plain []byte
	last  bool
}

// NewOpener returns a reader of the plaintext sealed in r. A tampered, truncated or foreign
// stream reads as ErrCorrupt.
func NewOpener(r io.Reader, key, ad []byte) (*Opener, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &Opener{r: bufio.NewReaderSize(r, ChunkSize+aead.Overhead()+1), aead: aead, ad: ad}, nil
}

// Read reads plaintext.
func (o *Opener) Read(p []byte) (int, error) {
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

func (o *Opener) next() error {
	sealed := make([]byte, ChunkSize+o.aead.Overhead())
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
