package kv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store on Redis, shared by every instance. Keys are prefixed so that several
// deployments (or test packages) can share one server.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis wraps a go-redis client; prefix (e.g. "huzhu:") goes before every key.
func NewRedis(c redis.UniversalClient, prefix string) *Redis { return &Redis{c: c, prefix: prefix} }

// Client returns the underlying client, for the WeChat token cache.
func (r *Redis) Client() redis.UniversalClient { return r.c }

func wrap(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %v", ErrUnavailable, op, err)
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := r.c.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap("get", err)
	}
	return v, true, nil
}

// Set implements Store.
func (r *Redis) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if err := r.c.Set(ctx, r.prefix+key, val, ttl).Err(); err != nil {
		return wrap("set", err)
	}
	return nil
}

// SetNX implements Store.
func (r *Redis) SetNX(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	ok, err := r.c.SetNX(ctx, r.prefix+key, val, ttl).Result()
	if err != nil {
		return false, wrap("setnx", err)
	}
	return ok, nil
}

// Del implements Store.
func (r *Redis) Del(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = r.prefix + k
	}
	if err := r.c.Del(ctx, full...).Err(); err != nil {
		return wrap("del", err)
	}
	return nil
}

// incrScript sets the expiry in the same step as the first increment, so a crash cannot leave
// a counter that never expires.
var incrScript = redis.NewScript(`local v = redis.call('INCR', KEYS[1])
if v == 1 and tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v`)

// Incr implements Store.
func (r *Redis) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	n, err := incrScript.Run(ctx, r.c, []string{r.prefix + key}, ttl.Milliseconds()).Int64()
	if err != nil {
		return 0, wrap("incr", err)
	}
	return n, nil
}

// extendScript and delIfScript compare the value and act in one step, so that a holder whose
// lease expired cannot renew or remove the lock another holder has taken since.
var (
	extendScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)
	delIfScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

// Extend implements Store.
func (r *Redis) Extend(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	n, err := extendScript.Run(ctx, r.c, []string{r.prefix + key}, val, ttl.Milliseconds()).Int64()
	if err != nil {
		return false, wrap("extend", err)
	}
	return n == 1, nil
}

// DelIf implements Store.
func (r *Redis) DelIf(ctx context.Context, key string, val []byte) (bool, error) {
	n, err := delIfScript.Run(ctx, r.c, []string{r.prefix + key}, val).Int64()
	if err != nil {
		return false, wrap("delif", err)
	}
	return n == 1, nil
}

// TTL implements Store.
func (r *Redis) TTL(ctx context.Context, key string) (time.Duration, error) {
	d, err := r.c.PTTL(ctx, r.prefix+key).Result()
	if err != nil {
		return 0, wrap("pttl", err)
	}
	if d < 0 {
		return 0, nil
	}
	return d, nil
}

// Ping implements Store.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return wrap("ping", err)
	}
	return nil
}
