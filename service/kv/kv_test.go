package kv_test

import (
	"context"
	"sync"
	"testing"
	"time"

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
