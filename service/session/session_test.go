package session_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"huzhu/service/errs"
	"huzhu/service/session"
)

const secret = "0123456789abcdef0123456789abcdef"

func newIssuer(t *testing.T, now *time.Time) *session.Issuer {
	t.Helper()
	s, err := session.New([]byte(secret), session.Options{TTL: time.Hour, RefreshGrace: 2 * time.Hour, MaxAge: 10 * time.Hour},
		func() time.Time { return *now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	now := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	s := newIssuer(t, &now)
	tok := s.Issue(42)
	other, _ := session.New([]byte(strings.Repeat("z", 32)), session.Options{}, func() time.Time { return now })
	body, sig, _ := strings.Cut(strings.TrimPrefix(tok.Value, "v1."), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(body)
	tampered := "v1." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"a":42`, `"a":43`, 1))) + "." + sig
	tests := []struct {
		name    string
		token   string
		advance time.Duration
		want    error
	}{
		{"fresh", tok.Value, 0, nil},
		{"just before expiry", tok.Value, time.Hour - time.Second, nil},
		{"expired", tok.Value, time.Hour, session.ErrExpired},
		{"empty", "", 0, session.ErrMissing},
		{"other secret", other.Issue(42).Value, 0, session.ErrInvalid},
		{"tampered account", tampered, 0, session.ErrInvalid},
		{"no signature", "v1." + body, 0, session.ErrInvalid},
		{"garbage", "hello", 0, session.ErrInvalid},
		{"huge", "v1." + strings.Repeat("a", 4000), 0, session.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			saved := now
			now = now.Add(tc.advance)
			defer func() { now = saved }()
			c, err := s.Verify(tc.token)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil && errs.KindOf(err) != errs.KindUnauthenticated {
				t.Errorf("kind = %v, want Unauthenticated", errs.KindOf(err))
			}
			if err == nil && c.AccountID != 42 {
				t.Errorf("AccountID = %d, want 42", c.AccountID)
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	start := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	now := start
	s := newIssuer(t, &now)
	tok := s.Issue(7)
	now = start.Add(90 * time.Minute) // expired half an hour ago: inside the grace
	fresh, err := s.Refresh(tok.Value)
	if err != nil || fresh.AccountID != 7 || !fresh.ExpiresAt.Equal(now.Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("Refresh = %+v, %v", fresh, err)
	}
	if _, err := s.Verify(fresh.Value); err != nil {
		t.Errorf("refreshed token: %v", err)
	}
	now = start.Add(4 * time.Hour) // expired 3h ago: past the 2h grace
	if _, err := s.Refresh(tok.Value); !errors.Is(err, session.ErrExpired) {
		t.Errorf("Refresh past grace = %v, want ErrExpired", err)
	}
	// A chain of refreshes stops at MaxAge after the login, and the last token ends there.
	now = start
	tok = s.Issue(7)
	for i := 0; i < 9; i++ {
		now = now.Add(time.Hour)
		if tok, err = s.Refresh(tok.Value); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	if !tok.ExpiresAt.Equal(start.Add(10 * time.Hour)) {
		t.Errorf("last token expires %v, want the login's MaxAge %v", tok.ExpiresAt, start.Add(10*time.Hour))
	}
	now = start.Add(10 * time.Hour)
	if _, err := s.Refresh(tok.Value); !errors.Is(err, session.ErrExpired) {
		t.Errorf("Refresh at MaxAge = %v, want ErrExpired", err)
	}
	if _, err := s.Refresh("v1.forged.sig"); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("Refresh forged = %v, want ErrInvalid", err)
	}
}

func TestShortSecret(t *testing.T) {
	if _, err := session.New([]byte("short"), session.Options{}, nil); err == nil {
		t.Error("New accepted a 5-byte secret")
	}
}
