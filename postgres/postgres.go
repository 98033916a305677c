// Package postgres opens movierec's production store on PostgreSQL through
// pgx/pgxpool, migrated by embedded goose migrations. Bulk imports use COPY.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/movierec/movierec/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is PostgreSQL's flavour of the shared SQL. Its Notify sends on
// CatalogChannel; Open gives each store a copy that sends on the channel
// of its schema (see Channel).
var Dialect = sqlstore.Dialect{
	Name:      "postgres",
	Epoch:     func(expr string) string { return "extract(epoch from " + expr + ")::float8" },
	ForUpdate: " FOR UPDATE",
	IsUniqueViolation: func(err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == "23505"
	},
	// Rating writers lock a movie row (ROW SHARE) and update it (ROW
	// EXCLUSIVE); both wait while an import holds EXCLUSIVE, and the import
	// waits for those under way. Plain reads go on.
	// The import's index builds and grouped scans sort tens of millions
	// of rows, in larger runs than the 64 MB default allows (one 25M-row
	// index built in 33 s with 512 MB, 40 s with 2 GB; the default was
	// not measured against them).
	BeforeImport: []string{`LOCK TABLE movies IN EXCLUSIVE MODE`,
		`SET LOCAL maintenance_work_mem = '512MB'`, `SET LOCAL work_mem = '256MB'`},
	AfterImport: []string{
		// Imports keep their own IDs; move the identity sequences past them
		// so rows created later get fresh ones.
		`SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST((SELECT max(id) FROM users), 1))`,
		`SELECT setval(pg_get_serial_sequence('movies', 'id'), GREATEST((SELECT max(id) FROM movies), 1))`,
		`SELECT setval(pg_get_serial_sequence('genres', 'id'), GREATEST((SELECT max(id) FROM genres), 1))`,
		`SELECT setval(pg_get_serial_sequence('tags', 'id'), GREATEST((SELECT max(id) FROM tags), 1))`,
	},
	TableIndexes: `SELECT i.indexname::text, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename = $1::text
		AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = $1::text::regclass AND c.conname = i.indexname)
		ORDER BY i.indexname`,
	TableConstraints: `SELECT conname::text, 'ALTER TABLE ' || quote_ident($1::text) || ' ADD CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid)
		FROM pg_constraint WHERE conrelid = $1::text::regclass AND contype IN ('p', 'u', 'f') ORDER BY contype <> 'p', conname`,
	LockTable: `LOCK TABLE %s IN ACCESS EXCLUSIVE MODE`,
	// Only the store's own tables (through search_path): a bare VACUUM or
	// ANALYZE would visit every schema of the database.
	Analyze:      `VACUUM (ANALYZE) movies, ratings, movie_genres, taggings, genres, tags, users`,
	RecordChange: recordChangeSQL(CatalogChannel),
	RecordRating: recordSQL,
	Unavailable:  Unavailable,
	Full:         DiskFull,
}

// DiskFull reports whether err is PostgreSQL's disk_full (53100: a file
// could not be extended or written for want of space).
func DiskFull(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "53100"
}

// Unavailable reports whether err means PostgreSQL cannot answer now: no
// connection (refused, reset, timed out), a server shutting down, starting
// up or out of connections, or a connection that broke mid-statement.
func Unavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	var netErr net.Error
	switch {
	case err == nil:
		return false
	case errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &pgErr):
		// 08: connection exception; 57P01-57P03: admin/crash shutdown,
		// cannot connect now; 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	// pgx reports a connection it has closed after a failure by text only.
	return strings.Contains(err.Error(), "conn closed")
}

// Config says how to reach PostgreSQL.
type Config struct {
	// URL is a postgres:// connection string.
	URL string
	// MinConns and MaxConns size the pool (defaults 5 and 20).
	MinConns, MaxConns int32
	// Schema, when set, is created if missing and used as the search_path
	// of every connection (tests give each test its own).
	Schema string
	// ReplicaURLs are read replicas: streaming standbys of URL's server
	// (see replica.go). Reads marked by sqlstore.MayLag may go to them.
	ReplicaURLs []string
	// MaxReplicaLag is how far behind the primary a replica may replay
	// and still take reads (default 5s); ReplicaCheck how often replicas
	// are checked (default 1s).
	MaxReplicaLag, ReplicaCheck time.Duration
	// Log receives replica state changes (nil: discarded).
	Log *slog.Logger
	// Deadlines bound statements on the client (see sqlstore.Deadlines;
	// zero fields take sqlstore.DefaultDeadlines). Each also sets the
	// server's statement_timeout as a backstop, at twice the deadline, so
	// a statement whose cancellation never reached the server still ends:
	// on the pool's connections for Deadlines.Statement, and on a small
	// second pool, which bulk work (sqlstore.LongWork) uses, for
	// Deadlines.Long.
	Deadlines sqlstore.Deadlines
}

// longConns is the size of the pool for bulk work.
const longConns = 4

// deadlines returns cfg's deadlines with the defaults filled in.
func (cfg Config) deadlines() sqlstore.Deadlines {
	d := cfg.Deadlines
	if d.Statement <= 0 {
		d.Statement = sqlstore.DefaultDeadlines.Statement
	}
	if d.Long <= 0 {
		d.Long = sqlstore.DefaultDeadlines.Long
	}
	return d
}

// backstop is the statement_timeout runtime parameter for deadline d.
func backstop(d time.Duration) string {
	return strconv.FormatInt((2 * d).Milliseconds(), 10)
}

// Open connects to PostgreSQL, applies pending migrations and returns the
// store.
func Open(ctx context.Context, cfg Config) (*sqlstore.Store, error) {
	dl := cfg.deadlines()
	pool, err := newPool(ctx, cfg, backstop(dl.Statement), false)
	if err != nil {
		return nil, err
	}
	long, err := newPool(ctx, cfg, backstop(dl.Long), true)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if err := Migrate(ctx, long); err != nil {
		pool.Close()
		long.Close()
		return nil, err
	}
	c := &conn{pool: pool, long: long}
	if len(cfg.ReplicaURLs) > 0 {
		if c.replicas, err = openReplicas(ctx, cfg, pool, dl); err != nil {
			pool.Close()
			long.Close()
			return nil, err
		}
		c.log = c.replicas.log
	}
	d := Dialect
	d.RecordChange = recordChangeSQL(poolChannel(pool))
	s := sqlstore.New(c, d)
	s.SetDeadlines(dl)
	return s, nil
}

// NewPool opens a pgx pool as cfg says, creating cfg.Schema if needed.
// Its connections have the server's default statement_timeout.
func NewPool(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	return newPool(ctx, cfg, "", false)
}

// newPool is NewPool with statement_timeout (milliseconds; "" keeps the
// server's); a long pool is the small one for bulk work, opened empty.
func newPool(ctx context.Context, cfg Config, statementTimeout string, long bool) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad DATABASE_URL: %w", err)
	}
	pc.MinConns, pc.MaxConns = 5, 20
	if cfg.MinConns > 0 {
		pc.MinConns = cfg.MinConns
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pc.MinConns = min(pc.MinConns, pc.MaxConns)
	if long {
		pc.MinConns, pc.MaxConns = 0, longConns
	}
	if cfg.Schema != "" {
		if err := createSchema(ctx, cfg.URL, cfg.Schema); err != nil {
			return nil, err
		}
		pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	}
	if statementTimeout != "" {
		pc.ConnConfig.RuntimeParams["statement_timeout"] = statementTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return pool, nil
}

func createSchema(ctx context.Context, url, schema string) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P06") {
		err = nil // created concurrently by another instance
	}
	if err != nil {
		return fmt.Errorf("postgres: create schema %s: %w", schema, err)
	}
	return nil
}

// DropSchema removes schema and everything in it (test clean-up).
func DropSchema(ctx context.Context, url, schema string) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

// Migrate applies every pending embedded migration through pool.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	// An advisory lock makes instances that start together migrate one at
	// a time.
	opts := []lock.SessionLockerOption{lock.WithLockTimeout(1, 300)}
	if schema := pool.Config().ConnConfig.RuntimeParams["search_path"]; schema != "" {
		// A lock per schema: tests migrating their own schemas don't wait
		// for each other.
		opts = append(opts, lock.WithLockID(int64(crc32.ChecksumIEEE([]byte(schema)))))
	}
	locker, err := lock.NewPostgresSessionLocker(opts...)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// querier is what *pgxpool.Pool and pgx.Tx share.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// conn adapts a pgx pool to sqlstore.Conn. Bulk work (sqlstore.LongWork)
// runs on long, whose statement_timeout allows it; everything else on
// pool. Reads marked by sqlstore.MayLag may go to a replica instead.
type conn struct {
	pool, long *pgxpool.Pool
	replicas   *replicaSet // nil without replicas
	log        *slog.Logger
}

// pick returns the primary's pool for ctx's work.
func (c *conn) pick(ctx context.Context) *pgxpool.Pool {
	if c.long != nil && sqlstore.IsLongWork(ctx) {
		return c.long
	}
	return c.pool
}

// onReplica returns the binding of a read under ctx to a replica (nil:
// the primary answers) and the replica's pool for ctx's work.
func (c *conn) onReplica(ctx context.Context) (*binding, *pgxpool.Pool) {
	r := c.replicas.route(ctx)
	if r == nil {
		return nil, nil
	}
	r.reads.Add(1)
	if sqlstore.IsLongWork(ctx) {
		return r.bind(ctx, c.log), r.long
	}
	return r.bind(ctx, c.log), r.pool
}

// Pool returns the pgx pool under a store opened by this package, or nil.
func Pool(s *sqlstore.Store) *pgxpool.Pool {
	if c, ok := s.Unobserved().(*conn); ok {
		return c.pool
	}
	return nil
}

func (c *conn) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	if b, p := c.onReplica(ctx); b != nil {
		rows, err := p.Query(b.ctx, sql, args...)
		if err != nil {
			b.release()
			return nil, b.failed(err)
		}
		return &replicaRows{Rows: rows, b: b}, nil
	}
	return c.pick(ctx).Query(ctx, sql, args...)
}
func (c *conn) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	if b, p := c.onReplica(ctx); b != nil {
		return replicaRow{row: p.QueryRow(b.ctx, sql, args...), b: b}
	}
	return row{c.pick(ctx).QueryRow(ctx, sql, args...)}
}
func (c *conn) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := c.pick(ctx).Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}
func (c *conn) CopyIn(ctx context.Context, into sqlstore.CopyInto, rows sqlstore.CopyRows) (int64, error) {
	return copyIn(ctx, c.pick(ctx), into, rows)
}
func (c *conn) Ping(ctx context.Context) error { return c.pool.Ping(ctx) }

// Stats reports the primary pool's statistics.
func (c *conn) Stats() sqlstore.PoolStats { return poolStats(c.pool) }

// ReplicaStats reports the read replicas' states (nil without).
func (c *conn) ReplicaStats() []sqlstore.ReplicaStats { return c.replicas.stats() }

// poolStats reports a pgx pool's statistics.
func poolStats(p *pgxpool.Pool) sqlstore.PoolStats {
	st := p.Stat()
	return sqlstore.PoolStats{Acquired: int(st.AcquiredConns()), Idle: int(st.IdleConns()), Total: int(st.TotalConns()),
		Max: int(st.MaxConns()), Waits: st.EmptyAcquireCount(), WaitTime: st.EmptyAcquireWaitTime()}
}

func (c *conn) Close() error {
	if c.replicas != nil {
		c.replicas.close()
	}
	c.pool.Close()
	if c.long != nil {
		c.long.Close()
	}
	return nil
}

// InReadTx runs fn in a REPEATABLE READ, READ ONLY transaction: every
// statement sees the snapshot of the first.
func (c *conn) InReadTx(ctx context.Context, fn func(sqlstore.DB) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	if b, p := c.onReplica(ctx); b != nil {
		defer b.release()
		return b.failed(pgx.BeginTxFunc(b.ctx, p, opts, func(t pgx.Tx) error {
			// fn's statements carry the caller's context: when the replica
			// is taken out (frozen, say), break the connection under them.
			// If that began, wait for it: the transaction then fails
			// instead of a broken connection going back to the pool.
			closed := make(chan struct{})
			stop := context.AfterFunc(b.alive, func() {
				defer close(closed)
				t.Conn().PgConn().Conn().Close()
			})
			defer func() {
				if !stop() {
					<-closed
				}
			}()
			return fn(tx{t})
		}))
	}
	return pgx.BeginTxFunc(ctx, c.pick(ctx), opts, func(t pgx.Tx) error { return fn(tx{t}) })
}

// tx adapts pgx.Tx to sqlstore.DB.
type tx struct{ tx pgx.Tx }

func (t tx) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return t.tx.Query(ctx, sql, args...)
}
func (t tx) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return row{t.tx.QueryRow(ctx, sql, args...)}
}
func (t tx) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}
func (t tx) CopyIn(ctx context.Context, into sqlstore.CopyInto, rows sqlstore.CopyRows) (int64, error) {
	return copyIn(ctx, t.tx, into, rows)
}

func copyIn(ctx context.Context, q querier, into sqlstore.CopyInto, rows sqlstore.CopyRows) (int64, error) {
	if into.OnConflict != "" {
		return 0, errors.New("postgres: COPY takes no ON CONFLICT clause")
	}
	return q.CopyFrom(ctx, pgx.Identifier{into.Table}, into.Columns, rows)
}

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlstore.ErrNoRows
	}
	return err
}
