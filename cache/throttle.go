package cache

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeTokens decides one request against several token buckets at once,
// all or nothing, with GCRA (the generic cell rate algorithm: a bucket is
// its "theoretical arrival time", TAT). KEYS are the buckets; ARGV holds
// each bucket's emission interval (µs per token) and burst (its size).
// Redis's clock is the only clock, so instances never disagree. It returns
// 1 or 0 (allowed), then each bucket's tokens left after the decision, as
// text (Lua numbers would be truncated to integers).
var takeTokens = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats, allowed = {}, 1
for i = 1, #KEYS do
  local interval, burst = tonumber(ARGV[2*i-1]), tonumber(ARGV[2*i])
  local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now)
  tats[i] = tat
  if tat + interval - now > burst * interval then allowed = 0 end
end
local out = {allowed}
for i = 1, #KEYS do
  local interval, burst = tonumber(ARGV[2*i-1]), tonumber(ARGV[2*i])
  local tat = tats[i]
  if allowed == 1 then
    tat = tat + interval
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
  out[#out + 1] = tostring((burst * interval - (tat - now)) / interval)
end
return out`)

// errRedisFailing: Redis failed a moment ago and is skipped for now.
var errRedisFailing = errors.New("cache: redis is failing")

// TakeTokens implements throttle.Store on Redis: bucket i holds n[i]
// tokens and gains one every per[i]/n[i]. Every instance sharing the Redis
// shares the buckets (keys within the cache's prefix).
func (c *Cache) TakeTokens(ctx context.Context, keys []string, n []int, per []time.Duration) (bool, []float64, error) {
	if c.opts.Redis == nil {
		return false, nil, errNoRedis
	}
	if !c.redisUsable() {
		return false, nil, errRedisFailing
	}
	full := make([]string, len(keys))
	args := make([]any, 0, 2*len(keys))
	for i, k := range keys {
		full[i] = c.opts.Prefix + "throttle:" + k
		interval := max(per[i].Microseconds()/int64(max(n[i], 1)), 1)
		args = append(args, interval, n[i])
	}
	res, err := takeTokens.Run(context.WithoutCancel(ctx), c.opts.Redis, full, args...).Slice()
	if err != nil {
		c.redisFailed(err)
		return false, nil, err
	}
	allowed, _ := res[0].(int64)
	tokens := make([]float64, len(keys))
	for i := range keys {
		s, _ := res[i+1].(string)
		tokens[i], _ = strconv.ParseFloat(s, 64)
	}
	return allowed == 1, tokens, nil
}
