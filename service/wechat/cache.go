package wechat

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/cache"
)

// Both caches implement the library's cache.Cache. Its token handles type-assert what Get
// returns to string and treat a nil interface as a miss, so Get returns a string or an untyped
// nil, never []byte.
var (
	_ cache.Cache = (*redisCache)(nil)
	_ cache.Cache = (*memoryCache)(nil)
)

// redisCache adapts a go-redis v9 client to cache.Cache. The interface has no context, so each
// call gets its own timeout; keys get a prefix so that several deployments can share a server.
type redisCache struct {
	c       redis.UniversalClient
	prefix  string
	timeout time.Duration
}

func newRedisCache(c redis.UniversalClient, prefix string, timeout time.Duration) *redisCache {
	return &redisCache{c: c, prefix: prefix, timeout: timeout}
}

func (r *redisCache) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), r.timeout)
}

// Get returns the string stored at key, or nil on a miss or any Redis error (the library then
// fetches a fresh token, which is the right fallback when Redis is down).
func (r *redisCache) Get(key string) interface{} {
	ctx, cancel := r.ctx()
	defer cancel()
	v, err := r.c.Get(ctx, r.prefix+key).Result()
	if err != nil || v == "" {
		return nil
	}
	return v
}

// Set stores val (a string for tokens; anything else is stored with fmt's formatting by
// go-redis) with the given expiry.
func (r *redisCache) Set(key string, val interface{}, timeout time.Duration) error {
	ctx, cancel := r.ctx()
	defer cancel()
	return r.c.Set(ctx, r.prefix+key, val, positive(timeout)).Err()
}

// IsExist reports whether key is present; a Redis error counts as absent.
func (r *redisCache) IsExist(key string) bool {
	ctx, cancel := r.ctx()
	defer cancel()
	n, err := r.c.Exists(ctx, r.prefix+key).Result()
	return err == nil && n > 0
}

// Delete removes key; a missing key is not an error.
func (r *redisCache) Delete(key string) error {
	ctx, cancel := r.ctx()
	defer cancel()
	return r.c.Del(ctx, r.prefix+key).Err()
}

// positive guards against the library computing a negative TTL (expires_in below its margin),
// which go-redis would reject or treat as KEEPTTL: such a token is cached for one second.
func positive(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Second
	}
	return d
}

// memoryCache is a mutex-guarded map with expiry, for a single instance without Redis. (The
// library's cache.Memory reads its map without the lock and crashes under load.)
type memoryCache struct {
	now func() time.Time

	mu    sync.Mutex
	items map[string]memoryItem
}

type memoryItem struct {
	val     interface{}
	expires time.Time // zero: never
}

func newMemoryCache(now func() time.Time) *memoryCache {
	return &memoryCache{now: now, items: make(map[string]memoryItem)}
}

// Get returns the live value at key or nil; an expired entry is removed.
func (m *memoryCache) Get(key string) interface{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[key]
	if !ok {
		return nil
	}
	if !it.expires.IsZero() && !m.now().Before(it.expires) {
		delete(m.items, key)
		return nil
	}
	return it.val
}

// Set stores val until timeout has passed; a timeout of zero or less keeps it for one second,
// as the Redis cache does.
func (m *memoryCache) Set(key string, val interface{}, timeout time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[key] = memoryItem{val: val, expires: m.now().Add(positive(timeout))}
	return nil
}

// IsExist reports whether a live value is at key.
func (m *memoryCache) IsExist(key string) bool { return m.Get(key) != nil }

// Delete removes key.
func (m *memoryCache) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, key)
	return nil
}
