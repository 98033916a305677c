package sqlstore

import (
	"context"
	"sync"
	"time"
)

// Observer sees every statement the store runs: its SQL (with $N
// placeholders, never values), arguments, duration and error. Durations
// of queries run until their rows are closed.
type Observer interface {
	Statement(ctx context.Context, sql string, args []any, took time.Duration, err error)
}

// PoolStats describes the connection pool.
type PoolStats struct {
	Acquired, Idle, Total, Max int
	// Waits counts acquisitions that had to wait for a connection, and
	// WaitTime their total wait.
	Waits    int64
	WaitTime time.Duration
}

// statser is implemented by backends that report pool statistics.
type statser interface{ Stats() PoolStats }

// PoolStats reports the connection pool's state (zero when the backend
// cannot tell).
func (s *Store) PoolStats() PoolStats {
	if st, ok := s.raw.(statser); ok {
		return st.Stats()
	}
	return PoolStats{}
}

// Observe sends every later statement to o. Call it before serving.
func (s *Store) Observe(o Observer) {
	s.conn = &observedConn{Conn: s.guard, o: o}
}

// Unobserved returns a connection that bypasses the observer (for EXPLAIN
// of a slow statement, which must not report itself).
func (s *Store) Unobserved() Conn { return s.raw }

type observedConn struct {
	Conn
	o Observer
}

func (c *observedConn) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	return observeQuery(ctx, c.o, c.Conn, q, args)
}
func (c *observedConn) QueryRow(ctx context.Context, q string, args ...any) Row {
	start := time.Now() // pgx runs the statement here, the SQLite driver at Scan
	return &observedRow{ctx: ctx, o: c.o, sql: q, args: args, start: start, row: c.Conn.QueryRow(ctx, q, args...)}
}
func (c *observedConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return observeExec(ctx, c.o, c.Conn, q, args)
}
func (c *observedConn) CopyIn(ctx context.Context, into CopyInto, rows CopyRows) (int64, error) {
	return observeCopy(ctx, c.o, c.Conn, into, rows)
}
func (c *observedConn) InTx(ctx context.Context, fn func(DB) error) error {
	return c.Conn.InTx(ctx, func(tx DB) error { return fn(&observedDB{DB: tx, o: c.o}) })
}

// InReadTx runs fn in the underlying connection's read transaction (an
// ordinary one when it has none), observing its statements.
func (c *observedConn) InReadTx(ctx context.Context, fn func(DB) error) error {
	wrapped := func(tx DB) error { return fn(&observedDB{DB: tx, o: c.o}) }
	if rc, ok := c.Conn.(ReadTxConn); ok {
		return rc.InReadTx(ctx, wrapped)
	}
	return c.Conn.InTx(ctx, wrapped)
}

type observedDB struct {
	DB
	o Observer
}

func (d *observedDB) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	return observeQuery(ctx, d.o, d.DB, q, args)
}
func (d *observedDB) QueryRow(ctx context.Context, q string, args ...any) Row {
	start := time.Now()
	return &observedRow{ctx: ctx, o: d.o, sql: q, args: args, start: start, row: d.DB.QueryRow(ctx, q, args...)}
}
func (d *observedDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return observeExec(ctx, d.o, d.DB, q, args)
}
func (d *observedDB) CopyIn(ctx context.Context, into CopyInto, rows CopyRows) (int64, error) {
	return observeCopy(ctx, d.o, d.DB, into, rows)
}

// Batch forwards a batch to the transaction when it can take one,
// reporting each statement with an equal share of the round trip's time.
// Without, it runs the statements one by one through d (observed as
// usual).
func (d *observedDB) Batch(ctx context.Context, stmts []Stmt, commit bool) error {
	b, ok := d.DB.(Batcher)
	if !ok {
		return oneByOne(ctx, d, stmts)
	}
	start := time.Now()
	err := b.Batch(ctx, stmts, commit)
	share := time.Since(start) / time.Duration(max(1, len(stmts)))
	for _, st := range stmts {
		d.o.Statement(ctx, st.SQL, st.Args, share, err)
	}
	return err
}

func observeQuery(ctx context.Context, o Observer, db DB, q string, args []any) (Rows, error) {
	start := time.Now()
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		o.Statement(ctx, q, args, time.Since(start), err)
		return nil, err
	}
	return &observedRows{Rows: rows, done: func() { o.Statement(ctx, q, args, time.Since(start), rows.Err()) }}, nil
}

func observeExec(ctx context.Context, o Observer, db DB, q string, args []any) (int64, error) {
	start := time.Now()
	n, err := db.Exec(ctx, q, args...)
	o.Statement(ctx, q, args, time.Since(start), err)
	return n, err
}

func observeCopy(ctx context.Context, o Observer, db DB, into CopyInto, rows CopyRows) (int64, error) {
	start := time.Now()
	got, err := db.CopyIn(ctx, into, rows)
	o.Statement(ctx, "COPY "+into.Table, nil, time.Since(start), err)
	return got, err
}

// observedRows reports its query when closed (once).
type observedRows struct {
	Rows
	once sync.Once
	done func()
}

func (r *observedRows) Close() {
	r.Rows.Close()
	r.once.Do(r.done)
}

// observedRow reports its query when scanned, timed from the QueryRow
// call.
type observedRow struct {
	ctx   context.Context
	o     Observer
	sql   string
	args  []any
	row   Row
	start time.Time
}

func (r *observedRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	reported := err
	if err == ErrNoRows {
		reported = nil
	}
	r.o.Statement(r.ctx, r.sql, r.args, time.Since(r.start), reported)
	return err
}
