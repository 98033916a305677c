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
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/movierec/movierec/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is SQLite's flavour of the shared SQL.
var Dialect = sqlstore.Dialect{
	Name:  "sqlite",
	Epoch: func(expr string) string { return "unixepoch(" + expr + ", 'subsec')" },
	IsUniqueViolation: func(err error) bool {
		return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
	},
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
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_time_format", "sqlite")
	q.Set("_txlock", "immediate") // writers queue on busy_timeout instead of failing to upgrade
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(max(4, 2*runtime.NumCPU()))
	db.SetMaxIdleConns(max(4, 2*runtime.NumCPU()))
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return sqlstore.New(&conn{db: db}, Dialect), nil
}

// Migrate applies every pending embedded migration to db.
func Migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
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
	db *sql.DB
}

func (c *conn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return query(ctx, c.db, q, args)
}
func (c *conn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{c.db.QueryRowContext(ctx, q, args...)}
}
func (c *conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return exec(ctx, c.db, q, args)
}
func (c *conn) CopyIn(ctx context.Context, table string, columns []string, n int, rowAt func(int) []any) (int64, error) {
	return copyIn(ctx, c.db, table, columns, n, rowAt)
}
func (c *conn) Ping(ctx context.Context) error { return c.db.PingContext(ctx) }

// Stats reports database/sql's pool statistics.
func (c *conn) Stats() sqlstore.PoolStats {
	st := c.db.Stats()
	return sqlstore.PoolStats{Acquired: st.InUse, Idle: st.Idle, Total: st.OpenConnections,
		Max: st.MaxOpenConnections, Waits: st.WaitCount, WaitTime: st.WaitDuration}
}
func (c *conn) Close() error { return c.db.Close() }

func (c *conn) InTx(ctx context.Context, fn func(sqlstore.DB) error) error {
	sqlTx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(&tx{sqlTx}); err != nil {
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
	if err := fn(&tx{sqlTx}); err != nil {
		return err
	}
	return sqlTx.Commit()
}

// tx adapts *sql.Tx to sqlstore.DB.
type tx struct{ tx *sql.Tx }

func (t *tx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return query(ctx, t.tx, q, args)
}
func (t *tx) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{t.tx.QueryRowContext(ctx, q, args...)}
}
func (t *tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return exec(ctx, t.tx, q, args)
}
func (t *tx) CopyIn(ctx context.Context, table string, columns []string, n int, rowAt func(int) []any) (int64, error) {
	return copyIn(ctx, t.tx, table, columns, n, rowAt)
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

// copyIn inserts rows one prepared statement at a time; inside a
// transaction SQLite does this at several hundred thousand rows a second.
func copyIn(ctx context.Context, q queryer, table string, columns []string, n int, rowAt func(int) []any) (int64, error) {
	ph := make([]string, len(columns))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	stmt, err := q.PrepareContext(ctx, "INSERT INTO "+table+" ("+strings.Join(columns, ", ")+") VALUES ("+strings.Join(ph, ", ")+")")
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for i := range n {
		if _, err := stmt.ExecContext(ctx, rowAt(i)...); err != nil {
			return int64(i), fmt.Errorf("row %d: %w", i, err)
		}
	}
	return int64(n), nil
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
