package main

import (
	"testing"

	"huzhu/config"
)

// TestWeChatTokenKeyFollowsRedisPrefix: two deployments sharing a Redis (different
// redis.prefix) must not share the cached access token (seen: 51 extra 40001s).
func TestWeChatTokenKeyFollowsRedisPrefix(t *testing.T) {
	for _, prefix := range []string{"huzhu:", "huzhu-staging:"} {
		var cfg config.Config
		cfg.Redis.Prefix = prefix
		if got, want := wechatOptions(cfg).KeyPrefix, prefix+"wechat:"; got != want {
			t.Errorf("redis.prefix %q: token cache prefix %q, want %q", prefix, got, want)
		}
	}
}
