package kv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"huzhu/service/errs"
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

// RetryAfter is how long a caller refused while Redis is unreachable is told to wait: about
// what a restart or a failover takes.
const RetryAfter = 10 * time.Second

// wrap marks every failure with ErrUnavailable, and makes one of an unreachable or not-serving
// Redis an errs.KindUnavailable error, so that the request it fails is a 503 with Retry-After
// instead of a 500. Other failures (a script error, a wrong type) stay internal.
func wrap(op string, err error) error {
	cause := fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
	if !isDown(err) {
		return cause
	}
	return errs.Unavailable("kv.unavailable", "系统暂时不可用，请稍后再试", RetryAfter, cause).
		WithFix("请过一会儿再试；着急的话请拨打12351")
}

// isDown reports whether err says Redis cannot be reached or cannot serve right now: a network
// error (refused, reset, timeout), a closed client or exhausted pool, the caller's deadline, or
// the replies of a server that is loading its data, a read-only replica after failover, or a
// cluster that is down.
func isDown(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMasterDownError(err)
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
