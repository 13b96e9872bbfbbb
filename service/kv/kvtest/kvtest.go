// Package kvtest gives each test a kv.Store: in-process by default, or Redis at
// HUZHU_TEST_REDIS_ADDR with a random key prefix (so packages can share one server). With
// HUZHU_TEST_REQUIRE_EXTERNAL=1 a missing address fails the test.
package kvtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"huzhu/service/kv"
)

// Backend names the store the tests of this process use: "redis" or "memory".
func Backend() string {
	if os.Getenv("HUZHU_TEST_REDIS_ADDR") != "" {
		return "redis"
	}
	return "memory"
}

// New returns a fresh, empty store for t.
func New(t testing.TB) kv.Store {
	t.Helper()
	s, _ := NewWithClient(t)
	return s
}

// NewWithClient is New that also returns the Redis client (nil for the in-process store).
func NewWithClient(t testing.TB) (kv.Store, redis.UniversalClient) {
	t.Helper()
	addr := os.Getenv("HUZHU_TEST_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("HUZHU_TEST_REQUIRE_EXTERNAL") == "1" {
			t.Fatal("HUZHU_TEST_REQUIRE_EXTERNAL=1 but HUZHU_TEST_REDIS_ADDR is empty")
		}
		return kv.NewMemory(nil), nil
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("test Redis at %s: %v", addr, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "huzhutest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = c.Close()
	})
	return kv.NewRedis(c, prefix), c
}
