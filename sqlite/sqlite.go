// Package sqlite opens movierec's embedded store: a pure-Go SQLite database
// (modernc.org/sqlite) in WAL mode, migrated by embedded goose migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is SQLite's flavour of the shared SQL.
var Dialect = sqlstore.Dialect{
	Name: "sqlite",
	// Without sqlite_stat4 (see dropStat4); stat1 still guides the planner.
	// Statistics from up to 1,000 rows per index (sqlite_stat1 is all the
	// planner reads; exact counts of 5M ratings took 15 s).
	Analyze: "PRAGMA analysis_limit = 1000; ANALYZE; PRAGMA analysis_limit = 0; " + dropStat4SQL,
	Epoch:   func(expr string) string { return "unixepoch(" + expr + ", 'subsec')" },
	IsUniqueViolation: func(err error) bool {
		return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
	},
	Unavailable: Unavailable,
	Full:        Full,
	// A bulk load sorts millions of index entries. Measured on one index
	// of 5M ratings: default 2 MB page cache 11 s, 64 MB 15 s, 256 MB
	// 19 s, 64 MB with two sorter threads 10 s; the five ratings indexes
	// at 5M took 65 s with a 256 MB cache and 35 s with the default cache
	// and two threads (what is kept).
	BeforeImport: []string{`PRAGMA threads = 2`},
	// The writer connection (the only one) without foreign-key checks
	// for the import's transaction: the import checks the movies its rows
	// name and creates every user they name. PRAGMA foreign_keys is a
	// no-op inside a transaction, hence before and after it.
	ImportSetup:   []string{`PRAGMA foreign_keys = OFF`},
	ImportCleanup: []string{`PRAGMA foreign_keys = ON`, `PRAGMA threads = 0`},
	CopyConflicts: true,
	TableIndexes: `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL ORDER BY name`,
}

// Unavailable reports whether err means the database is busy: another
// process held its write lock past busy_timeout (SQLITE_BUSY, or
// SQLITE_LOCKED within one process).
func Unavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	code := e.Code() & 0xff // the primary code of an extended one
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

// Full reports whether err is SQLITE_FULL: the disk (or the file's
// max_page_count) had no room for the write, which SQLite rolled back.
func Full(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_FULL
}

// openError describes a failure to open the database at path, saying
// when it is for want of disk space: SQLITE_FULL, or the shared-memory
// index of the write-ahead log that could not be sized.
func openError(path string, err error) error {
	var e *sqlite.Error
	if Full(err) || errors.As(err, &e) && e.Code() == sqlite3.SQLITE_IOERR_SHMSIZE {
		return fmt.Errorf("sqlite: open %s: the disk is full: %w", path, err)
	}
	return fmt.Errorf("sqlite: open %s: %w", path, err)
}

// PathFromURL returns the file path of a sqlite:// database URL:
// sqlite:///abs/path.db, sqlite://relative.db or sqlite:relative.db.
func PathFromURL(u string) (string, error) {
	rest, ok := strings.CutPrefix(u, "sqlite:")
	if !ok {
		return "", fmt.Errorf("sqlite: %q is not a sqlite: URL", u)
	}
	rest = strings.TrimPrefix(rest, "//")
	if rest == "" {
		return "", fmt.Errorf("sqlite: %q names no file", u)
	}
	return rest, nil
}

// Open opens (creating if needed) the SQLite database file at path, applies
// pending migrations and returns the store. path ":memory:" is not supported
// (each pooled connection would get its own database); use a temp file.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)",
		// A rating write rewrites the same few pages (the movie's row,
		// index leaves, the change log's tail): checkpointing every 10,000
		// WAL pages (about 40 MB) instead of SQLite's 1,000 copies each
		// hot page back to the database once per 10,000 rather than per
		// 1,000, and syncs the file a tenth as often.
		"wal_autocheckpoint(10000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_time_format", "sqlite")
	q.Set("_txlock", "immediate") // writers queue on busy_timeout instead of failing to upgrade
	dsn := "file:" + path + "?" + q.Encode()
	if err := dropStat4(ctx, dsn); err != nil {
		return nil, openError(path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, openError(path, err)
	}
	readers := max(4, 2*runtime.NumCPU())
	db.SetMaxOpenConns(readers)
	db.SetMaxIdleConns(readers)
	// Writes go through one connection of their own. SQLite runs one
	// writer at a time anyway; with one connection the writers queue in
	// the pool instead of on busy_timeout, and its page cache stays warm
	// (a connection drops its cache whenever another one has committed).
	wdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		db.Close()
		return nil, openError(path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	c := &conn{db: db, wdb: wdb, readers: readers, stmts: &stmtCache{db: db}, wstmts: &stmtCache{db: wdb}}
	if err := c.Ping(ctx); err != nil {
		c.Close()
		return nil, openError(path, err)
	}
	if err := Migrate(ctx, wdb); err != nil {
		c.Close()
		return nil, err
	}
	return sqlstore.New(c, Dialect), nil
}

// dropStat4SQL empties sqlite_stat4 and makes the planner reread the
// statistics.
const dropStat4SQL = "DELETE FROM sqlite_stat4; ANALYZE sqlite_schema"

// dropStat4 removes the sqlite_stat4 samples an ANALYZE of an older
// version left in the database at dsn. This SQLite is built with STAT4,
// and with samples present every prepared statement whose plan might
// depend on a bound value is prepared again each time it runs with new
// values, which made preparing (parsing and planning) most of the cost
// of a rating write. The store's statements look rows up by key, where
// sqlite_stat1 is all the planner needs.
func dropStat4(ctx context.Context, dsn string) error {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat4'`).Scan(&n); err != nil || n == 0 {
		return err
	}
	_, err = db.ExecContext(ctx, dropStat4SQL)
	return err
}

// Migrate applies every pending embedded migration to db.
func Migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithGoMigrations(goMigrations()...))
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// goMigrations are the migrations SQLite's SQL cannot express; their
// versions continue the numbering of the embedded SQL files.
func goMigrations() []*goose.Migration {
	return []*goose.Migration{
		// 00008: sessions are kept under the SHA-256 of their ID
		// (movierec.SessionKey), as PostgreSQL's 00008 does in SQL; down,
		// every session ends (the IDs cannot be recovered).
		goose.NewGoMigration(8, &goose.GoFunc{RunTx: hashSessionIDs},
			&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `DELETE FROM sessions`)
				return err
			}}),
	}
}

// hashSessionIDs replaces every stored session ID by its SessionKey.
func hashSessionIDs(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM sessions`)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET id = $1 WHERE id = $2`, movierec.SessionKey(id), id); err != nil {
			return err
		}
	}
	return nil
}

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// conn adapts database/sql to sqlstore.Conn.
type conn struct {
	db            *sql.DB // reads
	wdb           *sql.DB // writes: one connection
	readers       int     // db's idle connections kept
	stmts, wstmts *stmtCache
}

// BulkJournal moves the database from WAL to a rollback journal
// (journal_mode TRUNCATE, synchronous FULL) for one large transaction on
// the writer connection, and restore moves it back (sqlstore's
// ImportStream with Exclusive). A transaction in WAL mode writes every
// page it changes to the log, and the checkpoint copies it into the
// database again; a rollback journal keeps only the pages' old contents,
// which for a load into empty tables is next to nothing. It stays atomic:
// a killed process leaves a hot journal that the next connection rolls
// back.
//
// Leaving WAL needs the only connection to the database: this process's
// idle readers are closed first, and when anything else has it open (a
// reader in use, another process) the switch fails at once and ok is
// false. Until restore, other connections cannot open the database (their
// own journal_mode(WAL) waits for the lock).
func (c *conn) BulkJournal(ctx context.Context) (restore func(context.Context), ok bool) {
	c.db.SetMaxIdleConns(0) // closes the idle readers
	var mode string
	_, err := c.wdb.ExecContext(ctx, `PRAGMA busy_timeout = 0`)
	if err == nil {
		err = c.wdb.QueryRowContext(ctx, `PRAGMA journal_mode = TRUNCATE`).Scan(&mode)
	}
	_, berr := c.wdb.ExecContext(context.WithoutCancel(ctx), `PRAGMA busy_timeout = 10000`)
	if err == nil && berr == nil && mode == "truncate" {
		_, err = c.wdb.ExecContext(ctx, `PRAGMA synchronous = FULL`)
	}
	back := func(ctx context.Context) {
		// Errors are left to the next connection: every connection sets
		// WAL and synchronous NORMAL when it opens (Open's DSN).
		c.wdb.ExecContext(ctx, `PRAGMA synchronous = NORMAL`)
		c.wdb.ExecContext(ctx, `PRAGMA journal_mode = WAL`)
		c.db.SetMaxIdleConns(c.readers)
	}
	if err != nil || berr != nil || mode != "truncate" {
		back(context.WithoutCancel(ctx))
		return nil, false
	}
	return back, true
}

func (c *conn) q() stmtQueryer { return stmtQueryer{cache: c.stmts} }

func (c *conn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return query(ctx, c.q(), q, args)
}
func (c *conn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{c.q().QueryRowContext(ctx, q, args...)}
}
func (c *conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return exec(ctx, stmtQueryer{cache: c.wstmts}, q, args)
}
func (c *conn) CopyIn(ctx context.Context, into sqlstore.CopyInto, rows sqlstore.CopyRows) (int64, error) {
	return copyIn(ctx, c.wdb, into, rows)
}
func (c *conn) Ping(ctx context.Context) error {
	if err := c.db.PingContext(ctx); err != nil {
		return err
	}
	return c.wdb.PingContext(ctx)
}

// Stats reports database/sql's pool statistics, the readers' pool and the
// writer's connection together.
func (c *conn) Stats() sqlstore.PoolStats {
	r, w := c.db.Stats(), c.wdb.Stats()
	return sqlstore.PoolStats{Acquired: r.InUse + w.InUse, Idle: r.Idle + w.Idle, Total: r.OpenConnections + w.OpenConnections,
		Max: r.MaxOpenConnections + w.MaxOpenConnections, Waits: r.WaitCount + w.WaitCount, WaitTime: r.WaitDuration + w.WaitDuration}
}
func (c *conn) Close() error {
	c.stmts.close()
	c.wstmts.close()
	return errors.Join(c.db.Close(), c.wdb.Close())
}

func (c *conn) InTx(ctx context.Context, fn func(sqlstore.DB) error) error {
	sqlTx, err := c.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(&tx{tx: sqlTx, q: stmtQueryer{cache: c.wstmts, tx: sqlTx}}); err != nil {
		sqlTx.Rollback()
		return err
	}
	return sqlTx.Commit()
}

// InReadTx runs fn in a read-only transaction. It begins deferred (not
// IMMEDIATE like InTx), so it takes no write lock: in WAL mode its first
// statement fixes a snapshot that writers committing meanwhile do not
// change.
func (c *conn) InReadTx(ctx context.Context, fn func(sqlstore.DB) error) error {
	sqlTx, err := c.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer sqlTx.Rollback()
	if err := fn(&tx{tx: sqlTx, q: stmtQueryer{cache: c.stmts, tx: sqlTx}}); err != nil {
		return err
	}
	return sqlTx.Commit()
}

// tx adapts *sql.Tx to sqlstore.DB.
type tx struct {
	tx *sql.Tx
	q  stmtQueryer
}

func (t *tx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return query(ctx, t.q, q, args)
}
func (t *tx) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{t.q.QueryRowContext(ctx, q, args...)}
}
func (t *tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return exec(ctx, t.q, q, args)
}
func (t *tx) CopyIn(ctx context.Context, into sqlstore.CopyInto, rows sqlstore.CopyRows) (int64, error) {
	return copyIn(ctx, t.tx, into, rows)
}

func query(ctx context.Context, q queryer, s string, args []any) (sqlstore.Rows, error) {
	r, err := q.QueryContext(ctx, s, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func exec(ctx context.Context, q queryer, s string, args []any) (int64, error) {
	res, err := q.ExecContext(ctx, s, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// copyBatch is how many rows one INSERT of copyIn carries (SQLite binds
// at most 32,766 parameters).
const copyBatch = 256

// copyIn loads rows into table with prepared INSERTs of copyBatch rows at
// a time (and one of the last few), which costs a fraction of a statement
// per row.
func copyIn(ctx context.Context, q queryer, into sqlstore.CopyInto, rows sqlstore.CopyRows) (int64, error) {
	columns := into.Columns
	row := "(" + strings.Repeat("?, ", len(columns)-1) + "?)"
	insert := func(n int) string {
		return "INSERT INTO " + into.Table + " (" + strings.Join(columns, ", ") + ") VALUES " +
			strings.Repeat(row+", ", n-1) + row + " " + into.OnConflict
	}
	stmt, err := q.PrepareContext(ctx, insert(copyBatch))
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	args := make([]any, 0, copyBatch*len(columns))
	var done int64
	flush := func(s *sql.Stmt) error {
		if _, err := s.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("rows %d-%d: %w", done, done+int64(len(args)/len(columns))-1, err)
		}
		done += int64(len(args) / len(columns))
		args = args[:0]
		return nil
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return done, err
		}
		if len(vals) != len(columns) {
			return done, fmt.Errorf("row %d: %d values for %d columns", done+int64(len(args)/len(columns)), len(vals), len(columns))
		}
		args = append(args, vals...)
		if len(args) == cap(args) {
			if err := flush(stmt); err != nil {
				return done, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return done, err
	}
	if len(args) > 0 {
		tail, err := q.PrepareContext(ctx, insert(len(args)/len(columns)))
		if err != nil {
			return done, err
		}
		defer tail.Close()
		if err := flush(tail); err != nil {
			return done, err
		}
	}
	return done, nil
}

type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return sqlstore.ErrNoRows
	}
	return err
}
