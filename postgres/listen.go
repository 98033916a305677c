package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movierec/movierec/sqlstore"
)

// CatalogChannel is the NOTIFY channel on which a store in the default
// schema announces catalog changes; the payload is the change's version
// in decimal. NOTIFY channels are database-wide, so a store in a schema
// of its own announces on a channel of its own (see Channel).
const CatalogChannel = "movierec_catalog"

// maxChannel is the longest identifier PostgreSQL keeps (NAMEDATALEN - 1).
const maxChannel = 63

// Channel returns the NOTIFY channel on which s announces its catalog
// changes: CatalogChannel for the default schema (no search_path, or
// "public"), CatalogChannel + "_" + schema for another schema, or, when
// that would not be a short lower-case identifier, CatalogChannel + "_" +
// 16 hex digits of the schema's SHA-256. It returns "" when s is not a
// PostgreSQL store.
func Channel(s *sqlstore.Store) string {
	pool := Pool(s)
	if pool == nil {
		return ""
	}
	return poolChannel(pool)
}

// poolChannel is the channel of the schema pool's connections use.
func poolChannel(pool *pgxpool.Pool) string {
	return channelFor(pool.Config().ConnConfig.RuntimeParams["search_path"])
}

func channelFor(schema string) string { return namedChannel(CatalogChannel, schema) }

// namedChannel is channel base in schema: base itself in the default
// schema, base + "_" + schema in another, or base + "_" + 16 hex digits of
// the schema's SHA-256 when that would not be a short lower-case
// identifier.
func namedChannel(base, schema string) string {
	schema = strings.TrimSpace(schema)
	if schema == "" || schema == "public" {
		return base
	}
	name := base + "_" + schema
	if len(name) <= maxChannel && strings.Trim(schema, "abcdefghijklmnopqrstuvwxyz0123456789_") == "" {
		return name
	}
	sum := sha256.Sum256([]byte(schema))
	return base + "_" + hex.EncodeToString(sum[:8])
}

// recordChangeSQL is the Dialect.RecordChange statement notifying on
// channel, which holds only [a-z0-9_] (channelFor makes sure), so it can
// be a literal. Change writers queue on a transaction-level advisory lock
// keyed by the schema (stores in different schemas do not wait for each
// other) from here to their commit, so versions commit in order; the
// version is drawn in the select list of the lock's row, so after the
// lock. Reads of the log take no lock.
func recordChangeSQL(channel string) string {
	return recordSQL + `, LATERAL (SELECT pg_notify('` + channel + `', CAST(ins.version AS TEXT))) n`
}

// recordSQL is the Dialect.RecordRating statement: recordChangeSQL
// without the notification (see Notifier).
const recordSQL = `WITH l AS (SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.catalog_changes'))),
	ins AS (
		INSERT INTO catalog_changes (version, kind, entity_id, changed_at,
			old_score, new_score, rated_at, rating_count, average_rating, popularity_score)
		SELECT nextval(pg_get_serial_sequence('catalog_changes', 'version')),
			$1, $2, $3, $4, $5, $6, $7, $8, $9 FROM l
		RETURNING version)
	SELECT version FROM ins`

// Reconnection backoff and the idle time after which Listen checks its
// connection.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	idleCheck  = 30 * time.Second
)

// Listen calls fn with the payload of every notification on channel until
// ctx is done, then returns ctx's error.
//
// It listens on a connection of its own, configured like pool's but not
// taken from it. When that connection fails (checked after every 30 s of
// silence) it reconnects, waiting from 100 ms up to 5 s between attempts,
// and logs the failure to log (nil: discard). Notifications sent while
// nothing listened are lost, so fn("") is called each time listening
// starts, the first time included: the caller then catches up from its
// own bookkeeping (for the catalog, CatalogChanges after the last version
// it applied). fn runs on Listen's goroutine and should return quickly.
func Listen(ctx context.Context, pool *pgxpool.Pool, channel string, fn func(payload string), log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := pool.Config().ConnConfig
	backoff := minBackoff
	for {
		err := listenOnce(ctx, cfg, channel, fn, func() { backoff = minBackoff })
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("postgres: listener lost its connection; reconnecting", "channel", channel, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// ListenCatalog is Listen on the catalog channel of s (see Channel): fn
// gets each committed change's version as decimal text, and "" whenever
// it must catch up. It fails at once when s is not a PostgreSQL store.
func ListenCatalog(ctx context.Context, s *sqlstore.Store, fn func(payload string), log *slog.Logger) error {
	pool := Pool(s)
	if pool == nil {
		return errors.New("postgres: ListenCatalog: not a PostgreSQL store")
	}
	return Listen(ctx, pool, poolChannel(pool), fn, log)
}

// listenOnce connects, listens and delivers notifications until the
// connection fails or ctx is done. connected is called once listening.
func listenOnce(ctx context.Context, cfg *pgx.ConnConfig, channel string, fn func(string), connected func()) error {
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		c.Close(closeCtx)
	}()
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	fn("")
	for {
		waitCtx, cancel := context.WithTimeout(ctx, idleCheck)
		n, err := c.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			if n.Channel == channel {
				fn(n.Payload)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err) && !c.IsClosed():
			// Silence: make sure the server is still there.
			pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Ping(pingCtx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}
