package kv

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"time"
)

// Memory is an in-process Store for a single instance. It is safe for concurrent use.
type Memory struct {
	mu    sync.Mutex
	items map[string]item
	now   func() time.Time
	ops   int
}

type item struct {
	val     []byte
	expires time.Time // zero: never
}

// NewMemory returns an empty in-process store. now may be nil (time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{items: map[string]item{}, now: now}
}

func (m *Memory) live(key string, now time.Time) (item, bool) {
	it, ok := m.items[key]
	if !ok {
		return item{}, false
	}
	if !it.expires.IsZero() && !now.Before(it.expires) {
		delete(m.items, key)
		return item{}, false
	}
	return it, true
}

// sweep drops expired keys every 1024 writes so that a long-running process does not grow.
func (m *Memory) sweep(now time.Time) {
	m.ops++
	if m.ops%1024 != 0 {
		return
	}
	for k, it := range m.items {
		if !it.expires.IsZero() && !now.Before(it.expires) {
			delete(m.items, k)
		}
	}
}

func expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.live(key, m.now())
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), it.val...), true, nil
}

// Set implements Store.
func (m *Memory) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	m.items[key] = item{val: append([]byte(nil), val...), expires: expiry(now, ttl)}
	return nil
}

// SetNX implements Store.
func (m *Memory) SetNX(_ context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if _, ok := m.live(key, now); ok {
		return false, nil
	}
	m.sweep(now)
	m.items[key] = item{val: append([]byte(nil), val...), expires: expiry(now, ttl)}
	return true, nil
}

// Extend implements Store.
func (m *Memory) Extend(_ context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	it, ok := m.live(key, now)
	if !ok || !bytes.Equal(it.val, val) {
		return false, nil
	}
	it.expires = expiry(now, ttl)
	m.items[key] = it
	return true, nil
}

// DelIf implements Store.
func (m *Memory) DelIf(_ context.Context, key string, val []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.live(key, m.now())
	if !ok || !bytes.Equal(it.val, val) {
		return false, nil
	}
	delete(m.items, key)
	return true, nil
}

// Del implements Store.
func (m *Memory) Del(_ context.Context, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.items, k)
	}
	return nil
}

// Incr implements Store.
func (m *Memory) Incr(_ context.Context, key string, ttl time.Duration) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	it, ok := m.live(key, now)
	var n int64
	if ok {
		n, _ = strconv.ParseInt(string(it.val), 10, 64)
	} else {
		it.expires = expiry(now, ttl)
		m.sweep(now)
	}
	n++
	it.val = strconv.AppendInt(nil, n, 10)
	m.items[key] = it
	return n, nil
}

// TTL implements Store.
func (m *Memory) TTL(_ context.Context, key string) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	it, ok := m.live(key, now)
	if !ok || it.expires.IsZero() {
		return 0, nil
	}
	return it.expires.Sub(now), nil
}

// Ping implements Store.
func (m *Memory) Ping(context.Context) error { return nil }

// Keys returns the keys held and not expired, in no order: for diagnostics and for tests that
// check no key was built from a buffer that changed after it was stored.
func (m *Memory) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	keys := make([]string, 0, len(m.items))
	for k, it := range m.items {
		if it.expires.IsZero() || now.Before(it.expires) {
			keys = append(keys, k)
		}
	}
	return keys
}
