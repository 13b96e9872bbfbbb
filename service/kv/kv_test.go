package kv_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"huzhu/service/errs"
	"huzhu/service/kv"
	"huzhu/service/kv/kvtest"
)

func TestStoreContract(t *testing.T) {
	ctx := context.Background()
	s := kvtest.New(t)
	t.Logf("backend: %s", kvtest.Backend())

	if _, ok, err := s.Get(ctx, "missing"); ok || err != nil {
		t.Fatalf("Get(missing) = ok %v err %v, want absent", ok, err)
	}
	if err := s.Set(ctx, "a", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := s.Get(ctx, "a"); !ok || string(v) != "1" {
		t.Fatalf("Get(a) = %q %v, want 1", v, ok)
	}
	if ok, _ := s.SetNX(ctx, "a", []byte("2"), time.Minute); ok {
		t.Error("SetNX on an existing key succeeded")
	}
	if ok, _ := s.SetNX(ctx, "b", []byte("2"), time.Minute); !ok {
		t.Error("SetNX on a new key failed")
	}
	if err := s.Del(ctx, "a", "b", "never"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "a"); ok {
		t.Error("a still present after Del")
	}
	if d, _ := s.TTL(ctx, "nothing"); d != 0 {
		t.Errorf("TTL(absent) = %v, want 0", d)
	}
}

// TestExtendAndDelIf: a lease is renewed and released only by the holder of its value.
func TestExtendAndDelIf(t *testing.T) {
	ctx := context.Background()
	s := kvtest.New(t)
	if ok, err := s.SetNX(ctx, "lock", []byte("mine"), 100*time.Millisecond); !ok || err != nil {
		t.Fatalf("SetNX = %v, %v", ok, err)
	}
	if ok, _ := s.Extend(ctx, "lock", []byte("theirs"), time.Minute); ok {
		t.Error("Extend with another value succeeded")
	}
	if ok, err := s.Extend(ctx, "lock", []byte("mine"), time.Minute); !ok || err != nil {
		t.Fatalf("Extend by the holder = %v, %v", ok, err)
	}
	if d, _ := s.TTL(ctx, "lock"); d <= 100*time.Millisecond {
		t.Errorf("TTL after Extend = %v, want about a minute", d)
	}
	if ok, _ := s.DelIf(ctx, "lock", []byte("theirs")); ok {
		t.Error("DelIf with another value removed the key")
	}
	if _, ok, _ := s.Get(ctx, "lock"); !ok {
		t.Fatal("the lock is gone after a DelIf with another value")
	}
	if ok, err := s.DelIf(ctx, "lock", []byte("mine")); !ok || err != nil {
		t.Fatalf("DelIf by the holder = %v, %v", ok, err)
	}
	if ok, _ := s.Extend(ctx, "lock", []byte("mine"), time.Minute); ok {
		t.Error("Extend of a removed key succeeded")
	}
	if ok, _ := s.DelIf(ctx, "lock", []byte("mine")); ok {
		t.Error("DelIf of a removed key reported a removal")
	}
	_, _ = s.SetNX(ctx, "short", []byte("mine"), 50*time.Millisecond)
	time.Sleep(120 * time.Millisecond)
	if ok, _ := s.Extend(ctx, "short", []byte("mine"), time.Minute); ok {
		t.Error("Extend of an expired lease succeeded")
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	s := kvtest.New(t)
	if err := s.Set(ctx, "short", []byte("x"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.TTL(ctx, "short"); d <= 0 || d > 50*time.Millisecond {
		t.Errorf("TTL = %v, want in (0, 50ms]", d)
	}
	time.Sleep(120 * time.Millisecond)
	if _, ok, _ := s.Get(ctx, "short"); ok {
		t.Error("key still present after its TTL")
	}
}

func TestIncrConcurrentAndAllow(t *testing.T) {
	ctx := context.Background()
	s := kvtest.New(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 25; j++ {
				if _, err := s.Incr(ctx, "c", time.Minute); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n, _ := s.Incr(ctx, "c", time.Minute); n != 201 {
		t.Errorf("after 200 concurrent increments Incr = %d, want 201", n)
	}
	allowed := 0
	var retry time.Duration
	for i := 0; i < 7; i++ {
		ok, after, err := kv.Allow(ctx, s, "ip:1", 5, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		} else {
			retry = after
		}
	}
	if allowed != 5 || retry <= 0 || retry > time.Minute {
		t.Errorf("Allow let %d of 7 through (retry after %v), want 5 and a retry within a minute", allowed, retry)
	}
}

func TestMemoryExpiryWithClock(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	m := kv.NewMemory(func() time.Time { return now })
	_, _ = m.Incr(ctx, "w", time.Minute)
	now = now.Add(61 * time.Second)
	if n, _ := m.Incr(ctx, "w", time.Minute); n != 1 {
		t.Errorf("Incr after the window = %d, want a fresh counter at 1", n)
	}
}

// TestRedisOutage: while Redis is down every operation fails with a KindUnavailable error that
// carries a Retry-After (so requests answer 503, not 500) and still matches ErrUnavailable; once
// it is back the same client works again without a restart of the process.
func TestRedisOutage(t *testing.T) {
	srv := kvtest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	s := kv.NewRedis(c, "outage:")
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set before the outage: %v", err)
	}
	ops := []struct {
		name string
		op   func() error
	}{
		{"Get", func() error { _, _, err := s.Get(ctx, "k"); return err }},
		{"Set", func() error { return s.Set(ctx, "k", []byte("v"), time.Minute) }},
		{"SetNX", func() error { _, err := s.SetNX(ctx, "n", []byte("v"), time.Minute); return err }},
		{"Del", func() error { return s.Del(ctx, "k") }},
		{"Extend", func() error { _, err := s.Extend(ctx, "k", []byte("v"), time.Minute); return err }},
		{"DelIf", func() error { _, err := s.DelIf(ctx, "k", []byte("v")); return err }},
		{"Incr", func() error { _, err := s.Incr(ctx, "c", time.Minute); return err }},
		{"TTL", func() error { _, err := s.TTL(ctx, "k"); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
		{"Allow", func() error { _, _, err := kv.Allow(ctx, s, "ip", 5, time.Minute); return err }},
	}
	srv.Stop()
	for _, tc := range ops {
		err := tc.op()
		e, ok := errs.As(err)
		if !ok || e.Kind != errs.KindUnavailable || e.RetryAfter <= 0 || !errors.Is(err, kv.ErrUnavailable) {
			t.Errorf("%s while Redis is down = %v (%#v), want KindUnavailable with RetryAfter, matching ErrUnavailable", tc.name, err, e)
		}
	}
	srv.Start()
	for _, tc := range ops {
		var err error
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if err = tc.op(); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("%s after Redis is back = %v, want nil", tc.name, err)
		}
	}
}

// TestRedisErrorsThatAreNotOutages: a reply error of a working server (a wrong type) is not an
// outage: it stays internal (500, logged), and still matches ErrUnavailable.
func TestRedisErrorsThatAreNotOutages(t *testing.T) {
	srv := kvtest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	if err := c.LPush(ctx, "p:list", "x").Err(); err != nil {
		t.Fatal(err)
	}
	_, _, err := kv.NewRedis(c, "p:").Get(ctx, "list")
	if err == nil || errs.KindOf(err) != errs.KindInternal || !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("Get of a list = %v (kind %v), want an internal error", err, errs.KindOf(err))
	}
}
