package cache

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Publish sends msg to every instance subscribed to channel (within the
// cache's key prefix) through Redis pub/sub. Without Redis it does
// nothing: one instance has no one to tell.
func (c *Cache) Publish(ctx context.Context, channel, msg string) error {
	if c.opts.Redis == nil {
		return nil
	}
	err := c.opts.Redis.Publish(context.WithoutCancel(ctx), c.opts.Prefix+channel, msg).Err()
	if err != nil {
		c.redisFailed(err)
	}
	return err
}

// Subscribe calls fn with every message published to channel until ctx
// ends. It returns once subscribed (or with the error of the first try,
// retrying in the background). Messages published while the subscription
// is broken are lost, so after every re-subscription fn("") is called:
// the receiver should assume it missed something.
func (c *Cache) Subscribe(ctx context.Context, channel string, fn func(msg string)) error {
	if c.opts.Redis == nil {
		return errNoRedis
	}
	ps := c.opts.Redis.Subscribe(ctx, c.opts.Prefix+channel)
	_, err := ps.Receive(ctx) // the confirmation: subscribed from here on
	go func() {
		defer ps.Close()
		first := err == nil
		ch := ps.ChannelWithSubscriptions()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				switch m := m.(type) {
				case *redis.Message:
					fn(m.Payload)
				case *redis.Subscription:
					if m.Kind == "subscribe" {
						if !first {
							fn("")
						}
						first = false
					}
				}
			}
		}
	}()
	return err
}
