package sqlstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/movierec/movierec"
)

// Deadlines bound the store's statements. A statement that has not
// finished by its deadline is cancelled and fails with an error wrapping
// movierec.ErrStoreUnavailable, so a hung database costs a request the
// deadline, not forever, and the client gets a 503.
type Deadlines struct {
	// Statement bounds each statement, each batch and the start and the
	// commit of each transaction (default 5s).
	Statement time.Duration
	// Long bounds the statements of bulk work: imports, catalog loads,
	// training reads, model saves (default 1h). See LongWork.
	Long time.Duration
}

// DefaultDeadlines are the store's deadlines unless SetDeadlines says
// otherwise.
var DefaultDeadlines = Deadlines{Statement: 5 * time.Second, Long: time.Hour}

// SetDeadlines replaces the store's deadlines (zero fields keep theirs).
// Call it before serving.
func (s *Store) SetDeadlines(d Deadlines) {
	if d.Statement > 0 {
		s.guard.deadlines.Statement = d.Statement
	}
	if d.Long > 0 {
		s.guard.deadlines.Long = d.Long
	}
}

type longWorkKey struct{}

// LongWork marks ctx as bulk work: the store's statements under it get
// the Long deadline instead of the Statement one, and on PostgreSQL run on
// connections whose server-side statement_timeout allows them.
func LongWork(ctx context.Context) context.Context {
	return context.WithValue(ctx, longWorkKey{}, true)
}

// IsLongWork reports whether ctx was marked by LongWork.
func IsLongWork(ctx context.Context) bool {
	long, _ := ctx.Value(longWorkKey{}).(bool)
	return long
}

// guardConn gives every statement of a Conn a deadline and turns the
// failures that mean "the database cannot answer now" into errors
// wrapping movierec.ErrStoreUnavailable: its deadline passing, and what
// the dialect's Unavailable recognises (refused or broken connections, a
// server shutting down). A caller's own cancellation (a client that hung
// up) is left as it is.
type guardConn struct {
	Conn
	deadlines   Deadlines
	unavailable func(error) bool
	full        func(error) bool
}

// storeUnavailable is a database failure a client should retry later.
type storeUnavailable struct{ err error }

func (e storeUnavailable) Error() string   { return "database unavailable: " + e.err.Error() }
func (e storeUnavailable) Unwrap() []error { return []error{movierec.ErrStoreUnavailable, e.err} }

// storeFull is a write the database refused for want of disk space (it
// was rolled back): a client should retry once space is freed.
type storeFull struct{ err error }

func (e storeFull) Error() string {
	return "the database is out of disk space (nothing of this write was kept): " + e.err.Error()
}
func (e storeFull) Unwrap() []error {
	return []error{movierec.ErrStoreFull, movierec.ErrStoreUnavailable, e.err}
}

// bound returns ctx with the deadline its statements get.
func (g *guardConn) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	d := g.deadlines.Statement
	if IsLongWork(ctx) {
		d = g.deadlines.Long
	}
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// classify wraps err in storeUnavailable when it means the database
// cannot answer now, or in storeFull when it ran out of disk space. parent
// is the caller's context: when the caller gave up (cancelled, or its own
// deadline passed), err stays as it is.
func (g *guardConn) classify(parent context.Context, err error) error {
	if err == nil || err == ErrNoRows || errors.Is(err, movierec.ErrStoreUnavailable) || parent.Err() != nil {
		return err
	}
	if g.full != nil && g.full(err) {
		return storeFull{err}
	}
	if errors.Is(err, context.DeadlineExceeded) || g.unavailable != nil && g.unavailable(err) {
		return storeUnavailable{err}
	}
	return err
}

func (g *guardConn) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	return guardQuery(ctx, g, g.Conn, q, args)
}
func (g *guardConn) QueryRow(ctx context.Context, q string, args ...any) Row {
	return guardQueryRow(ctx, g, g.Conn, q, args)
}
func (g *guardConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return guardExec(ctx, g, g.Conn, q, args)
}
func (g *guardConn) CopyIn(ctx context.Context, into CopyInto, rows CopyRows) (int64, error) {
	return guardCopy(ctx, g, g.Conn, into, rows)
}
func (g *guardConn) Ping(ctx context.Context) error {
	bctx, cancel := g.bound(ctx)
	defer cancel()
	return g.classify(ctx, g.Conn.Ping(bctx))
}

// InTx bounds the whole transaction (taking a connection, BEGIN, COMMIT)
// by one deadline, and each statement in it by its own: fn's statements
// carry fn's context, so each is bounded where it runs.
func (g *guardConn) InTx(ctx context.Context, fn func(DB) error) error {
	bctx, cancel := g.bound(ctx)
	defer cancel()
	return g.classify(ctx, g.Conn.InTx(bctx, func(tx DB) error { return fn(&guardDB{DB: tx, g: g}) }))
}

// InReadTx is InTx for the connection's read transaction (an ordinary one
// when it has none).
func (g *guardConn) InReadTx(ctx context.Context, fn func(DB) error) error {
	bctx, cancel := g.bound(ctx)
	defer cancel()
	wrapped := func(tx DB) error { return fn(&guardDB{DB: tx, g: g}) }
	if rc, ok := g.Conn.(ReadTxConn); ok {
		return g.classify(ctx, rc.InReadTx(bctx, wrapped))
	}
	return g.classify(ctx, g.Conn.InTx(bctx, wrapped))
}

// guardDB is a transaction under a guardConn.
type guardDB struct {
	DB
	g *guardConn
}

func (d *guardDB) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	return guardQuery(ctx, d.g, d.DB, q, args)
}
func (d *guardDB) QueryRow(ctx context.Context, q string, args ...any) Row {
	return guardQueryRow(ctx, d.g, d.DB, q, args)
}
func (d *guardDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return guardExec(ctx, d.g, d.DB, q, args)
}
func (d *guardDB) CopyIn(ctx context.Context, into CopyInto, rows CopyRows) (int64, error) {
	return guardCopy(ctx, d.g, d.DB, into, rows)
}

// Batch bounds a batch like one statement.
func (d *guardDB) Batch(ctx context.Context, stmts []Stmt, commit bool) error {
	b, ok := d.DB.(Batcher)
	if !ok {
		return oneByOne(ctx, d, stmts)
	}
	bctx, cancel := d.g.bound(ctx)
	defer cancel()
	return d.g.classify(ctx, b.Batch(bctx, stmts, commit))
}

func guardQuery(ctx context.Context, g *guardConn, db DB, q string, args []any) (Rows, error) {
	bctx, cancel := g.bound(ctx)
	rows, err := db.Query(bctx, q, args...)
	if err != nil {
		cancel()
		return nil, g.classify(ctx, err)
	}
	return &guardRows{Rows: rows, ctx: ctx, g: g, cancel: cancel}, nil
}

func guardQueryRow(ctx context.Context, g *guardConn, db DB, q string, args []any) Row {
	bctx, cancel := g.bound(ctx)
	return &guardRow{row: db.QueryRow(bctx, q, args...), ctx: ctx, g: g, cancel: cancel}
}

func guardExec(ctx context.Context, g *guardConn, db DB, q string, args []any) (int64, error) {
	bctx, cancel := g.bound(ctx)
	defer cancel()
	n, err := db.Exec(bctx, q, args...)
	return n, g.classify(ctx, err)
}

func guardCopy(ctx context.Context, g *guardConn, db DB, into CopyInto, rows CopyRows) (int64, error) {
	bctx, cancel := g.bound(ctx)
	defer cancel()
	got, err := db.CopyIn(bctx, into, rows)
	return got, g.classify(ctx, err)
}

// guardRows releases its deadline when closed.
type guardRows struct {
	Rows
	ctx    context.Context
	g      *guardConn
	cancel context.CancelFunc
	once   sync.Once
}

func (r *guardRows) Scan(dest ...any) error { return r.g.classify(r.ctx, r.Rows.Scan(dest...)) }
func (r *guardRows) Err() error             { return r.g.classify(r.ctx, r.Rows.Err()) }
func (r *guardRows) Close() {
	r.Rows.Close()
	r.once.Do(r.cancel)
}

// guardRow releases its deadline once scanned.
type guardRow struct {
	row    Row
	ctx    context.Context
	g      *guardConn
	cancel context.CancelFunc
}

func (r *guardRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.g.classify(r.ctx, r.row.Scan(dest...))
}
