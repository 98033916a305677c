package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// TestPipelinedTx: InTx's transaction sends batches in one round trip and
// can commit with the last of them. A committed batch is visible and ends
// the transaction; a batch whose statement fails, a Scan error, a failed
// function and a cancelled context each leave the table as it was, and
// the pool's connections stay usable (none goes back in a transaction).
func TestPipelinedTx(t *testing.T) {
	s := storetest.OpenPostgres(t)
	db := s.Unobserved()
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE tx_probe (id int PRIMARY KEY, v text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM tx_probe`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	insert := func(id int) sqlstore.Stmt {
		return sqlstore.Stmt{SQL: `INSERT INTO tx_probe (id, v) VALUES ($1, 'x')`, Args: []any{id}}
	}
	batch := func(tx sqlstore.DB, commit bool, stmts ...sqlstore.Stmt) error {
		b, ok := tx.(sqlstore.Batcher)
		if !ok {
			t.Fatalf("the transaction (%T) takes no batches", tx)
		}
		return b.Batch(ctx, stmts, commit)
	}

	// Committed with the batch: visible, the transaction is over.
	var got int
	var after error
	err := db.InTx(ctx, func(tx sqlstore.DB) error {
		if err := batch(tx, false, sqlstore.Stmt{SQL: `SELECT count(*) FROM tx_probe`,
			Scan: func(r sqlstore.Row) error { return r.Scan(&got) }}); err != nil {
			return err
		}
		if err := batch(tx, true, insert(1), insert(2)); err != nil {
			return err
		}
		_, after = tx.Exec(ctx, `INSERT INTO tx_probe (id, v) VALUES (3, 'late')`)
		return nil
	})
	if err != nil || got != 0 {
		t.Fatalf("InTx = %v, count read in the batch %d", err, got)
	}
	if after == nil {
		t.Error("a statement after the committing batch ran")
	}
	if n := count(); n != 2 {
		t.Fatalf("after the committed batch: %d rows, want 2", n)
	}

	failures := map[string]func(tx sqlstore.DB) error{
		"a failing statement": func(tx sqlstore.DB) error {
			return batch(tx, true, insert(10), insert(1)) // 1 exists: unique violation
		},
		"a Scan error": func(tx sqlstore.DB) error {
			return batch(tx, false, insert(11), sqlstore.Stmt{SQL: `SELECT 1`,
				Scan: func(sqlstore.Row) error { return errors.New("scan refused") }})
		},
		"a failed function": func(tx sqlstore.DB) error {
			if err := batch(tx, false, insert(12)); err != nil {
				return err
			}
			return errors.New("changed my mind")
		},
		"a cancelled context": func(tx sqlstore.DB) error {
			ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			if err := batch(tx, false, insert(13)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `SELECT pg_sleep(5)`)
			return err
		},
	}
	for name, fn := range failures {
		if err := db.InTx(ctx, fn); err == nil {
			t.Errorf("%s: InTx reported success", name)
		}
		if n := count(); n != 2 {
			t.Fatalf("after %s: %d rows, want 2", name, n)
		}
	}
	// The caller's own context ends inside the transaction: no ROLLBACK
	// is waited for, the connection is dropped, nothing is committed.
	cctx, cancel := context.WithCancel(ctx)
	err = db.InTx(cctx, func(tx sqlstore.DB) error {
		if err := batch(tx, false, insert(14)); err != nil {
			return err
		}
		cancel()
		return cctx.Err()
	})
	if err == nil {
		t.Error("a transaction whose context ended reported success")
	}
	if n := count(); n != 2 {
		t.Fatalf("after the caller's context ended: %d rows, want 2", n)
	}
	// Every pooled connection is outside a transaction: more transactions
	// than the pool has connections all commit.
	for i := range 20 {
		if err := db.InTx(ctx, func(tx sqlstore.DB) error { return batch(tx, true, insert(100+i)) }); err != nil {
			t.Fatalf("transaction %d after the failures: %v", i, err)
		}
	}
	if n := count(); n != 22 {
		t.Fatalf("after 20 more transactions: %d rows, want 22", n)
	}
}
