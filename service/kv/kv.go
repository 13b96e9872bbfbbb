// Package kv is huzhu's small key-value store for short-lived shared state: sessions, rate
// limits, bot conversations, callback de-duplication, locks. Redis backs it in production so
// that every instance sees the same state; Memory serves a single instance with no Redis.
package kv

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable wraps failures of the backing store. When the store cannot be reached the error
// is also an *errs.Error of KindUnavailable (code kv.unavailable, Retry-After RetryAfter), which
// every caller passes up with %w so that the request answers 503.
var ErrUnavailable = errors.New("kv store unavailable")

// Store is the contract both backends keep. A ttl of zero means no expiry. Values are bytes;
// callers encode their own.
type Store interface {
	// Get returns the value and true, or false when the key is absent or expired.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores the value, replacing any other.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// SetNX stores the value only when the key is absent and reports whether it did.
	SetNX(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error)
	// Del removes the keys; absent keys are not an error.
	Del(ctx context.Context, keys ...string) error
	// Extend resets the key's expiry to ttl if it still holds val, in one step, and reports
	// whether it did: false when the key expired, was removed or holds another value. It renews
	// a lock's lease.
	Extend(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error)
	// DelIf removes the key if it still holds val, in one step, and reports whether it did. It
	// releases a lock without removing one that another holder took after this one's expired.
	DelIf(ctx context.Context, key string, val []byte) (bool, error)
	// Incr adds one to the counter at key and returns the new value; a new counter expires
	// after ttl (later increments do not extend it), which makes fixed-window rate limits.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
	// TTL returns how long the key has left, 0 when absent or without expiry.
	TTL(ctx context.Context, key string) (time.Duration, error)
	// Ping checks the store, for readiness.
	Ping(ctx context.Context) error
}

// Allow is a fixed-window rate limit over s: at most limit events per window for key. It returns
// whether this event is allowed and, when not, how long until the window resets.
func Allow(ctx context.Context, s Store, key string, limit int64, window time.Duration) (bool, time.Duration, error) {
	n, err := s.Incr(ctx, "rl:"+key, window)
	if err != nil {
		return false, 0, err
	}
	if n <= limit {
		return true, 0, nil
	}
	left, err := s.TTL(ctx, "rl:"+key)
	if err != nil || left <= 0 {
		left = window
	}
	return false, left, nil
}
