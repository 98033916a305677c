package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// AcquireLease takes the lease called name for holder until ttl from now,
// or extends it when holder has it already. It reports false when another
// holder's lease has not expired. One statement, so two instances racing
// for a lease cannot both get it.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.timestamp()
	var got string
	err := s.conn.QueryRow(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4
		RETURNING holder`, name, holder, now.Add(ttl), now).Scan(&got)
	switch {
	case err == ErrNoRows: // the conflicting row was another holder's, unexpired
		return false, nil
	case err != nil:
		return false, fmt.Errorf("AcquireLease(%s): %w", name, err)
	}
	return true, nil
}

// ReleaseLease gives up holder's lease called name (nothing when it is
// not holder's).
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.conn.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("ReleaseLease(%s): %w", name, err)
	}
	return nil
}
