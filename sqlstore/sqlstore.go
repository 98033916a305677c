// Package sqlstore implements movierec's storage on SQL, once, for both
// backends. The sqlite and postgres packages open a connection, apply their
// migrations and hand sqlstore a Conn and a Dialect; every query lives here,
// so the two backends behave the same by construction and one contract test
// suite (see storetest) checks both.
//
// SQL is written with PostgreSQL-style $N placeholders, which the SQLite
// driver also binds by position.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Rows is the subset of pgx.Rows and *sql.Rows the store uses.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result. Scan returns ErrNoRows when there is none.
type Row interface {
	Scan(dest ...any) error
}

// ErrNoRows is returned by Row.Scan when the query matched nothing.
// Adapters translate their driver's own sentinel to it.
var ErrNoRows = errors.New("sqlstore: no rows in result set")

// DB runs statements, either on a pool or inside a transaction.
type DB interface {
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// CopyIn bulk-loads rows into a table (COPY on PostgreSQL, batches of
	// multi-row INSERTs on SQLite) and returns how many it loaded.
	CopyIn(ctx context.Context, into CopyInto, rows CopyRows) (int64, error)
}

// CopyInto is the target of a bulk load: a table, the columns the rows
// give in order and, on backends whose Dialect.CopyConflicts is set, an
// ON CONFLICT clause that resolves rows clashing with earlier ones.
type CopyInto struct {
	Table      string
	Columns    []string
	OnConflict string
}

// CopyRows is the source of a bulk load, read once: Next advances to the
// next row (false at the end or on an error), Values returns its values in
// column order, and Err the error that stopped it. It has the shape of
// pgx.CopyFromSource.
type CopyRows interface {
	Next() bool
	Values() ([]any, error)
	Err() error
}

// CopySlice returns the CopyRows of n rows given by rowAt(0..n-1).
func CopySlice(n int, rowAt func(i int) []any) CopyRows {
	return &copySlice{n: n, i: -1, rowAt: rowAt}
}

type copySlice struct {
	n, i  int
	rowAt func(int) []any
}

func (c *copySlice) Next() bool             { c.i++; return c.i < c.n }
func (c *copySlice) Values() ([]any, error) { return c.rowAt(c.i), nil }
func (c *copySlice) Err() error             { return nil }

// Conn is a connection pool: a DB that can also start transactions.
type Conn interface {
	DB
	// InTx runs fn in a transaction, committing when fn returns nil and
	// rolling back otherwise.
	InTx(ctx context.Context, fn func(tx DB) error) error
	Ping(ctx context.Context) error
	Close() error
}

// Dialect holds the few SQL fragments that differ between backends.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Epoch returns an expression for the Unix time, in seconds, of a
	// timestamp expression.
	Epoch func(expr string) string
	// ForUpdate is appended to a SELECT that must lock its row until the
	// transaction ends (" FOR UPDATE" on PostgreSQL; SQLite's writers are
	// serialised by BEGIN IMMEDIATE already).
	ForUpdate string
	// IsUniqueViolation reports whether err is a unique-constraint failure.
	IsUniqueViolation func(err error) bool
	// BeforeImport statements run first in an import's transaction
	// (PostgreSQL locks movies against concurrent writers, whose
	// incremental aggregate updates would otherwise miss the import's
	// recomputation or be overwritten by it; SQLite's writers are
	// serialised already).
	BeforeImport []string
	// ImportSetup statements run on the connection just before an
	// import's transaction begins, outside it; ImportCleanup undoes them
	// (SQLite turns its per-row foreign-key lookups off for the import,
	// which checks the movies it names itself).
	ImportSetup []string
	// ImportCleanup statements run after an import's transaction ends,
	// committed or not, outside it.
	ImportCleanup []string
	// AfterImport statements run at the end of an import's transaction
	// (PostgreSQL moves its identity sequences past imported IDs).
	AfterImport []string
	// TableIndexes is a query of the (name, CREATE statement) of each
	// secondary index of table $1 (not those behind constraints), which
	// an import into the empty table drops before and creates after its
	// load. Empty: imports keep every index.
	TableIndexes string
	// TableConstraints, when set, is a query of the (name, ALTER TABLE
	// ADD CONSTRAINT statement) of table $1's primary key, unique and
	// foreign-key constraints: a bulk load drops those too, and copies the
	// ratings straight into their table (PostgreSQL). Without, they stay,
	// and the ratings are staged first (SQLite).
	TableConstraints string
	// LockTable, when set, is the statement (with %s for the table) that
	// locks a table against every other reader and writer until the
	// transaction ends: a bulk load takes it before it drops indexes.
	LockTable string
	// CopyConflicts reports that CopyIn takes CopyInto.OnConflict (SQLite,
	// whose bulk load is INSERTs); an import then resolves repeated
	// ratings as it loads them instead of deleting them afterwards.
	CopyConflicts bool
	// Analyze runs after an import commits, outside any transaction, so
	// that the planners pick the right indexes at once ("ANALYZE" when
	// empty). PostgreSQL vacuums too, which marks the fresh pages
	// all-visible: CatalogSnapshot's index-only scans then need not visit
	// millions of heap rows.
	Analyze string
	// RecordChange, when set, is the statement that appends a catalog
	// change (see recordChange), in place of a plain INSERT ... RETURNING
	// version: $1..$9 are kind, entity_id, changed_at, old_score,
	// new_score, rated_at, rating_count, average_rating, popularity_score,
	// and it returns the version. PostgreSQL's takes a lock held until
	// the transaction ends before it draws the version, so that versions
	// commit in order (whoever sees version v also sees every smaller
	// version that will ever commit; a sequence alone hands them out in
	// start order), and sends the version with pg_notify, delivered on
	// commit and dropped on rollback: one round trip while the lock is
	// held, besides the commit. SQLite's writers are serialised already.
	RecordChange string
	// RecordRating, when set, is RecordChange for rating writes
	// (RateMovieChange, DeleteRatingChange): the same change record
	// without the notification. Rating writes are the frequent ones, and
	// a NOTIFY per write cost PostgreSQL 12–14 µs of CPU per request of the
	// two-instance mix with 5% rating writes, a fifth of its share (the
	// listening backends are signalled and woken for each); a server
	// tells the other instances of its rating writes after they commit,
	// at most every 50 ms (postgres.Notifier), and every instance's
	// change-log poll is the safety net.
	RecordRating string
	// Unavailable reports whether err means the database cannot answer
	// now (refused or broken connections, a server shutting down, a
	// busy lock): such errors wrap movierec.ErrStoreUnavailable.
	Unavailable func(err error) bool
	// Full reports whether err means the database ran out of disk space:
	// such errors wrap movierec.ErrStoreFull and ErrStoreUnavailable.
	Full func(err error) bool
}

// ReadTxConn is implemented by Conns that can run fn in a read-only
// transaction on one consistent snapshot of the database (REPEATABLE READ
// on PostgreSQL, a deferred transaction on SQLite in WAL mode). Bulk
// catalog reads use it when available and InTx otherwise.
type ReadTxConn interface {
	InReadTx(ctx context.Context, fn func(tx DB) error) error
}

// BulkJournalConn is a connection that can journal one large transaction
// more cheaply while it has the database to itself (SQLite: a rollback
// journal instead of the write-ahead log; see ImportStream's Exclusive).
type BulkJournalConn interface {
	// BulkJournal switches, or reports false and changes nothing when
	// another connection has the database open; restore switches back.
	BulkJournal(ctx context.Context) (restore func(context.Context), ok bool)
}

// Store is movierec's storage on a SQL database.
type Store struct {
	conn    Conn // guard, or guard wrapped by Observe
	guard   *guardConn
	raw     Conn
	dialect Dialect
	now     func() time.Time
	// ratingSlots holds a token per rating write in flight (nil: no
	// limit); see LimitRatingWriters.
	ratingSlots chan struct{}
}

// New returns a Store on conn. The caller has applied the migrations.
// Its statements get DefaultDeadlines (see SetDeadlines), and at most
// DefaultRatingWriters rating writes run at once (see LimitRatingWriters).
func New(conn Conn, d Dialect) *Store {
	g := &guardConn{Conn: conn, deadlines: DefaultDeadlines, unavailable: d.Unavailable, full: d.Full}
	s := &Store{conn: g, guard: g, raw: conn, dialect: d, now: time.Now}
	s.LimitRatingWriters(DefaultRatingWriters)
	return s
}

// SetClock replaces the store's clock (tests use a fixed one).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Dialect reports the store's dialect name ("sqlite" or "postgres").
func (s *Store) Dialect() string { return s.dialect.Name }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.raw.Ping(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.dialect.Name, err)
	}
	return nil
}

// Close releases the connection pool.
func (s *Store) Close() error { return s.raw.Close() }

// Conn exposes the underlying connection, for backend-specific tests and
// tools (EXPLAIN checks, benchmarks).
func (s *Store) Conn() Conn { return s.conn }

// inReadTx runs fn in a read-only snapshot transaction when the backend
// offers one, and in an ordinary transaction otherwise.
func (s *Store) inReadTx(ctx context.Context, fn func(tx DB) error) error {
	if c, ok := s.conn.(ReadTxConn); ok {
		return c.InReadTx(ctx, fn)
	}
	return s.conn.InTx(ctx, fn)
}

// timestamp returns the store's current time, in UTC and at the microsecond
// precision both backends keep.
func (s *Store) timestamp() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}
