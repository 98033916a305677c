package sqlstore

import (
	"context"
	"fmt"
)

// Stmt is one statement of a batch (see Batcher).
type Stmt struct {
	SQL  string
	Args []any
	// Scan reads the statement's one row (ErrNoRows when there is none);
	// nil runs the statement for its effect.
	Scan func(Row) error
}

// Batcher is implemented by transactions that can send several statements
// in one round trip (PostgreSQL's pipeline). The statements still run one
// after another, each on its own (on PostgreSQL each with its own
// snapshot, so one that waited for a lock sees what the lock's holder
// committed), and a failed one fails the rest. With commit, the
// transaction commits after the last statement in the same round trip,
// so the locks its statements took are held only inside the database,
// not across a round trip to the client; InTx then has nothing left to
// commit. Every Scan has run when Batch returns nil.
type Batcher interface {
	Batch(ctx context.Context, stmts []Stmt, commit bool) error
}

// batch runs stmts in tx, in one round trip where tx is a Batcher (then
// committing with the last when commit is set) and one by one otherwise
// (InTx commits after its function returns). The first failure is
// returned; a Scan's own error is returned as it is.
func batch(ctx context.Context, tx DB, commit bool, stmts ...Stmt) error {
	if b, ok := tx.(Batcher); ok {
		return b.Batch(ctx, stmts, commit)
	}
	return oneByOne(ctx, tx, stmts)
}

// oneByOne runs stmts in tx, one round trip each.
func oneByOne(ctx context.Context, tx DB, stmts []Stmt) error {
	for i, st := range stmts {
		if st.Scan != nil {
			if err := st.Scan(tx.QueryRow(ctx, st.SQL, st.Args...)); err != nil {
				return err
			}
			continue
		}
		if _, err := tx.Exec(ctx, st.SQL, st.Args...); err != nil {
			return fmt.Errorf("statement %d of a batch: %w", i+1, err)
		}
	}
	return nil
}
