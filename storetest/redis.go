package storetest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisURLEnv names the environment variable holding the Redis URL tests
// use. When it is set, Redis tests must run: an unreachable server fails
// them instead of skipping.
const RedisURLEnv = "MOVIEREC_TEST_REDIS_URL"

// Redis returns a client for the test Redis and a key prefix of the test's
// own (its keys are deleted afterwards). It skips the test when
// RedisURLEnv is unset.
func Redis(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	url := os.Getenv(RedisURLEnv)
	if url == "" {
		tb.Skipf("%s is not set", RedisURLEnv)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("%s: %v", RedisURLEnv, err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redis (%s): %v", RedisURLEnv, err)
	}
	prefix := "test:" + randomSuffix() + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		c.Close()
	})
	return c, prefix
}
