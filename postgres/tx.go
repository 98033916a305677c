package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/movierec/movierec/sqlstore"
)

// InTx runs fn in a transaction on one pooled connection. BEGIN goes out
// with the transaction's first statements, and a Batch with commit sends
// COMMIT after its statements (see sqlstore.Batcher): a rating write is
// two round trips, and its row and commit-order locks are never held
// across a round trip to this process.
func (c *conn) InTx(ctx context.Context, fn func(sqlstore.DB) error) error {
	pc, err := c.pick(ctx).Acquire(ctx)
	if err != nil {
		return err
	}
	// Release destroys a connection left inside a transaction.
	defer pc.Release()
	t := &pipeTx{conn: pc.Conn()}
	defer func() {
		if p := recover(); p != nil {
			t.rollback(ctx)
			panic(p)
		}
	}()
	if err := fn(t); err != nil {
		t.rollback(ctx)
		return err
	}
	return t.commit(ctx)
}

// errTxDone: a statement after a batch that committed.
var errTxDone = errors.New("postgres: the transaction has committed already")

// pipeTx is InTx's transaction.
type pipeTx struct {
	conn  *pgx.Conn
	begun bool // BEGIN sent
	done  bool // committed by a batch
}

// begin sends BEGIN unless a batch or statement has.
func (t *pipeTx) begin(ctx context.Context) error {
	if t.done {
		return errTxDone
	}
	if t.begun {
		return nil
	}
	t.begun = true
	_, err := t.conn.Exec(ctx, "BEGIN")
	return err
}

func (t *pipeTx) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.conn.Query(ctx, sql, args...)
}

func (t *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	if err := t.begin(ctx); err != nil {
		return errRow{err}
	}
	return row{t.conn.QueryRow(ctx, sql, args...)}
}

func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	if err := t.begin(ctx); err != nil {
		return 0, err
	}
	tag, err := t.conn.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (t *pipeTx) CopyIn(ctx context.Context, into sqlstore.CopyInto, rows sqlstore.CopyRows) (int64, error) {
	if err := t.begin(ctx); err != nil {
		return 0, err
	}
	return copyIn(ctx, t.conn, into, rows)
}

// Batch sends stmts in one round trip, preceded by BEGIN when nothing was
// sent yet and followed by COMMIT with commit. After a statement fails the
// server skips the rest (COMMIT included) and the transaction is rolled
// back by InTx. A Scan that fails after every statement succeeded
// reports its error, though with commit the transaction has committed:
// the Scans of a committing batch only read.
func (t *pipeTx) Batch(ctx context.Context, stmts []sqlstore.Stmt, commit bool) error {
	if t.done {
		return errTxDone
	}
	b := &pgx.Batch{}
	if !t.begun {
		b.Queue("BEGIN")
		t.begun = true
	}
	for _, st := range stmts {
		q := b.Queue(st.SQL, st.Args...)
		if scan := st.Scan; scan != nil {
			q.QueryRow(func(r pgx.Row) error { return scan(row{r}) })
		} else {
			q.Exec(func(pgconn.CommandTag) error { return nil })
		}
	}
	if commit {
		b.Queue("COMMIT").Exec(func(tag pgconn.CommandTag) error {
			if tag.String() == "ROLLBACK" {
				return pgx.ErrTxCommitRollback
			}
			return nil
		})
	}
	err := t.conn.SendBatch(ctx, b).Close()
	if commit && t.conn.PgConn().TxStatus() == 'I' && !t.conn.IsClosed() {
		t.done = true // committed, or rolled back by a failed COMMIT
	}
	return err
}

// commit commits unless a batch has, or nothing was sent.
func (t *pipeTx) commit(ctx context.Context) error {
	if !t.begun || t.done {
		return nil
	}
	t.done = true
	tag, err := t.conn.Exec(ctx, "COMMIT")
	if err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// rollback ends a transaction that failed, within ctx and at most
// rollbackTimeout. When ctx has ended already or ROLLBACK cannot be sent,
// nothing more is waited for: the pool destroys a connection released
// inside a transaction (see InTx), which ends it on the server.
func (t *pipeTx) rollback(ctx context.Context) {
	if !t.begun || t.done || t.conn.IsClosed() || t.conn.PgConn().TxStatus() == 'I' || ctx.Err() != nil {
		return
	}
	t.done = true
	ctx, cancel := context.WithTimeout(ctx, rollbackTimeout)
	defer cancel()
	t.conn.Exec(ctx, "ROLLBACK") //nolint:errcheck // a failure leaves the connection to be destroyed
}

// rollbackTimeout bounds a ROLLBACK (a frozen database must not hold the
// request much longer).
const rollbackTimeout = time.Second

// errRow is a Row whose statement could not be sent.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
