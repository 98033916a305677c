package postgres

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movierec/movierec/sqlstore"
)

// Bus carries short messages between the instances that share a
// PostgreSQL database, through NOTIFY and LISTEN: what a deployment
// without Redis uses to share session revocations (auth.Bus). Channels are
// namespaced by the store's schema, like the catalog's.
type Bus struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// NewBus returns the bus of a PostgreSQL store's database.
func NewBus(s *sqlstore.Store, log *slog.Logger) (*Bus, error) {
	pool := Pool(s)
	if pool == nil {
		return nil, errors.New("postgres: NewBus: not a PostgreSQL store")
	}
	return &Bus{pool: pool, log: log}, nil
}

// channel is the NOTIFY channel of name ("sessions:revoked") in the
// bus's schema.
func (b *Bus) channel(name string) string {
	base := "movierec_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(name))
	return namedChannel(base, b.pool.Config().ConnConfig.RuntimeParams["search_path"])
}

// Publish notifies every instance listening on channel; it is delivered
// at once (NOTIFY outside a transaction).
func (b *Bus) Publish(ctx context.Context, channel, msg string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_, err := b.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, b.channel(channel), msg)
	return err
}

// Subscribe calls fn with every message on channel until ctx ends, and
// with "" each time listening (re)starts, since messages sent meanwhile
// are lost. It returns once listening, or after 5 s when the database
// does not answer (listening goes on being retried).
func (b *Bus) Subscribe(ctx context.Context, channel string, fn func(msg string)) error {
	listening := make(chan struct{})
	first := true
	go Listen(ctx, b.pool, b.channel(channel), func(msg string) {
		if first && msg == "" {
			first = false
			close(listening)
		}
		fn(msg)
	}, b.log)
	select {
	case <-listening:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("postgres: bus: not listening yet (retrying)")
	case <-ctx.Done():
		return ctx.Err()
	}
}
