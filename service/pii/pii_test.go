package pii

import (
	"bytes"
	"strings"
	"testing"
)

func newCipher(t *testing.T) *Cipher {
	t.Helper()
	c, err := New(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEncryptRoundTripAndTamper(t *testing.T) {
	c := newCipher(t)
	sealed := c.Encrypt("6217000010012345678")
	if bytes.Contains(sealed, []byte("12345678")) {
		t.Fatal("ciphertext contains the plain number")
	}
	if again := c.Encrypt("6217000010012345678"); bytes.Equal(again, sealed) {
		t.Error("two encryptions of one number are equal: nonce reused")
	}
	got, err := c.Decrypt(sealed)
	if err != nil || got != "6217000010012345678" {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := c.Decrypt(sealed); err != ErrDecrypt {
		t.Errorf("Decrypt(tampered) err = %v, want ErrDecrypt", err)
	}
	other, _ := New(bytes.Repeat([]byte("z"), 32))
	if _, err := other.Decrypt(c.Encrypt("x")); err != ErrDecrypt {
		t.Errorf("Decrypt under another key err = %v, want ErrDecrypt", err)
	}
	if c.Encrypt("") != nil {
		t.Error("empty string should encrypt to nil")
	}
}

func TestHashSeparatesKinds(t *testing.T) {
	c := newCipher(t)
	if c.Hash("id", "1") == c.Hash("phone", "1") {
		t.Error("same value of two kinds hashes equal")
	}
	if c.Hash("id", "1") != c.Hash("id", "1") || len(c.Hash("id", "1")) != 64 {
		t.Error("hash not deterministic or wrong length")
	}
	if _, err := New([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{"6217000010012345678": "尾号5678", "123": "尾号123", "": ""} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
	if got := MaskName("欧阳娜娜"); got != "欧***" {
		t.Errorf("MaskName = %q", got)
	}
}

func TestParseIDNumber(t *testing.T) {
	// 11010519491231002X is the standard's worked example.
	tests := []struct {
		in, wantErr string
	}{
		{"11010519491231002X", ""},
		{"11010519491231002x", ""},
		{"110105194912310021", "校验位"},
		{"1101051949123100", "18位"},
		{"11010519491331002X", "出生日期"},
		{"1101051949123100AX", "第17位"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			id, err := ParseIDNumber(tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseIDNumber(%s) error %v", tc.in, err)
				}
				if id.String() != "尾号002X" || id.BirthDate() != "1949-12-31" || id.Gender() != "F" {
					t.Errorf("got %s %s %s", id, id.BirthDate(), id.Gender())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseIDNumber(%s) err = %v, want containing %q", tc.in, err, tc.wantErr)
			}
			if strings.Contains(err.Error(), tc.in[:10]) {
				t.Errorf("error repeats the number: %v", err)
			}
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	if p, err := NormalizePhone("+86 138-0013-8000"); err != nil || p != "13800138000" {
		t.Errorf("NormalizePhone = %q, %v", p, err)
	}
	if _, err := NormalizePhone("2380013800"); err == nil {
		t.Error("10-digit phone accepted")
	}
}

func FuzzCheckDigitRoundTrip(f *testing.F) {
	f.Add("11010519491231002")
	f.Fuzz(func(t *testing.T, first17 string) {
		if len(first17) != 17 || strings.Trim(first17, "0123456789") != "" {
			return
		}
		s := first17 + string(CheckDigit(first17))
		if _, err := ParseIDNumber(s); err != nil && !strings.Contains(err.Error(), "出生日期") {
			t.Fatalf("valid check digit rejected: %v", err)
		}
	})
}

func TestSeal(t *testing.T) {
	c, err := New([]byte(strings.Repeat("k", MinKeyLen)))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Seal(KindJingCard, "6217000012345678")
	if s.Last4 != "5678" || s.Hash != c.Hash(KindJingCard, "6217000012345678") {
		t.Errorf("Seal = %+v, want last4 5678 and the jingka hash", s)
	}
	if s.Hash == c.Hash(KindBank, "6217000012345678") {
		t.Error("a 京卡 hash equals the bank-account hash of the same digits")
	}
	if plain, err := c.Decrypt(s.Enc); err != nil || plain != "6217000012345678" {
		t.Errorf("Decrypt(Seal) = %q, %v", plain, err)
	}
	if z := c.Seal(KindPhone, ""); z.Enc != nil || z.Hash != "" || z.Last4 != "" {
		t.Errorf("Seal of empty = %+v, want zero", z)
	}
}

func TestNormalizeSocialCard(t *testing.T) {
	for in, want := range map[string]string{"9000 0000-0001": "900000000001", "ab12345678": "AB12345678"} {
		if got, err := NormalizeSocialCard(in); err != nil || got != want {
			t.Errorf("NormalizeSocialCard(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"1234567", "123456789012345678901", "12345678#"} {
		if _, err := NormalizeSocialCard(bad); err == nil {
			t.Errorf("NormalizeSocialCard(%q) = nil error", bad)
		}
	}
}
