// Package pii protects personal numbers: ID numbers, social-security and 京卡 numbers, bank
// accounts and phones. Each is stored as AES-256-GCM ciphertext beside an HMAC-SHA256 lookup hash
// (equality search without decryption) and shown only masked as 尾号 (last four). Keys are
// derived with HKDF from one master key given in configuration; nothing here logs.
package pii

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/hkdf"
)

// MinKeyLen is the shortest master key accepted, in bytes.
const MinKeyLen = 32

// ErrDecrypt means a ciphertext was tampered with or written under another key.
var ErrDecrypt = errors.New("pii: cannot decrypt (wrong key or damaged data)")

const formatV1 byte = 1

// Cipher encrypts, decrypts and hashes personal numbers. It is safe for concurrent use.
type Cipher struct {
	aead    cipher.AEAD
	hashKey []byte
}

// New derives the encryption and hashing keys from master (at least MinKeyLen bytes).
func New(master []byte) (*Cipher, error) {
	if len(master) < MinKeyLen {
		return nil, fmt.Errorf("pii key is %d bytes, want at least %d", len(master), MinKeyLen)
	}
	encKey := make([]byte, 32)
	hashKey := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, master, nil, []byte("huzhu pii enc v1")), encKey); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(hkdf.New(sha256.New, master, nil, []byte("huzhu pii hash v1")), hashKey); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Cipher{aead: aead, hashKey: hashKey}, nil
}

// Encrypt seals plain; the empty string encrypts to nil so that absent numbers stay absent.
func (c *Cipher) Encrypt(plain string) []byte {
	if plain == "" {
		return nil
	}
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("pii: no randomness: " + err.Error()) // crypto/rand never fails on supported systems
	}
	out := append([]byte{formatV1}, nonce...)
	return c.aead.Seal(out, nonce, []byte(plain), []byte{formatV1})
}

// Decrypt opens what Encrypt sealed; nil decrypts to "".
func (c *Cipher) Decrypt(sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	ns := c.aead.NonceSize()
	if sealed[0] != formatV1 || len(sealed) < 1+ns+c.aead.Overhead() {
		return "", ErrDecrypt
	}
	plain, err := c.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], []byte{formatV1})
	if err != nil {
		return "", ErrDecrypt
	}
	return string(plain), nil
}

// Hash returns the lookup hash of a normalized number (hex HMAC-SHA256); "" for "". kind keeps
// equal numbers of different kinds apart (an ID number never matches a phone).
func (c *Cipher) Hash(kind, value string) string {
	if value == "" {
		return ""
	}
	m := hmac.New(sha256.New, c.hashKey)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// Last4 returns the last four characters of a number, for display and masking.
func Last4(s string) string {
	n := utf8.RuneCountInString(s)
	if n <= 4 {
		return s
	}
	r := []rune(s)
	return string(r[n-4:])
}

// Mask shows a number as 尾号 last 4, e.g. "尾号1234"; the empty string stays empty.
func Mask(s string) string {
	if s == "" {
		return ""
	}
	return "尾号" + Last4(s)
}

// MaskLast4 formats an already stored last-four as Mask does.
func MaskLast4(last4 string) string {
	if last4 == "" {
		return ""
	}
	return "尾号" + last4
}

// MaskName keeps the family name and hides the rest: 张三 → 张*, 欧阳娜娜 → 欧***.
func MaskName(name string) string {
	r := []rune(strings.TrimSpace(name))
	if len(r) <= 1 {
		return string(r)
	}
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}

// Hash kinds, one per kind of personal number, so equal digits of different kinds never match.
const (
	KindIDNumber   = "id"
	KindSocialCard = "social_card"
	KindJingCard   = "jingka"
	KindBank       = "bank"
	KindPhone      = "phone"
)

// Sealed is a personal number as it is stored: ciphertext, lookup hash and the last four for
// masked display. The zero value stands for an absent number.
type Sealed struct {
	Enc   []byte
	Hash  string
	Last4 string
}

// Seal encrypts and hashes a normalized number of the given kind; "" seals to the zero Sealed.
func (c *Cipher) Seal(kind, value string) Sealed {
	if value == "" {
		return Sealed{}
	}
	return Sealed{Enc: c.Encrypt(value), Hash: c.Hash(kind, value), Last4: Last4(value)}
}
