package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/movierec/movierec"
)

const userColumns = `u.id, u.username, u.email, u.first_name, u.last_name, u.is_staff, u.is_active, u.date_joined, u.password_hash`

func scanUser(r Row, u *movierec.User) error {
	var joined nullTime
	if err := r.Scan(&u.ID, &u.Username, &u.Email, &u.FirstName, &u.LastName, &u.IsStaff, &u.IsActive, &joined, &u.PasswordHash); err != nil {
		return err
	}
	u.DateJoined = joined.Time
	return nil
}

// CreateUser stores a new account and returns it with its ID. A username or
// email already taken (case-insensitively) is an EINVALID error naming the
// field.
func (s *Store) CreateUser(ctx context.Context, u movierec.User) (movierec.User, error) {
	u.DateJoined = s.timestamp()
	err := s.conn.InTx(ctx, func(tx DB) error {
		if err := s.checkUnique(ctx, tx, 0, &u.Username, &u.Email); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO users (username, email, password_hash, first_name, last_name, is_staff, is_active, date_joined)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			u.Username, u.Email, u.PasswordHash, u.FirstName, u.LastName, u.IsStaff, u.IsActive, u.DateJoined).Scan(&u.ID)
		return s.uniqueError(err, "username", "A user with that username or email already exists.")
	})
	if err != nil {
		return movierec.User{}, fmt.Errorf("CreateUser(%q): %w", u.Username, err)
	}
	return u, nil
}

// checkUnique fails with field details when another user (not id) has the
// username or email.
func (s *Store) checkUnique(ctx context.Context, tx DB, id int64, username, email *string) error {
	details := map[string][]string{}
	if username != nil {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE lower(username) = lower($1) AND id <> $2`, *username, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			details["username"] = []string{"A user with that username already exists."}
		}
	}
	if email != nil && *email != "" {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE lower(email) = lower($1) AND id <> $2`, *email, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			details["email"] = []string{"A user with that email already exists."}
		}
	}
	if len(details) > 0 {
		return &movierec.Error{Code: movierec.EINVALID, Message: "Invalid input data.", Details: details}
	}
	return nil
}

// uniqueError turns a unique violation that slipped past a check (a
// concurrent insert) into a validation error on field.
func (s *Store) uniqueError(err error, field, msg string) error {
	if err != nil && s.dialect.IsUniqueViolation != nil && s.dialect.IsUniqueViolation(err) {
		return &movierec.Error{Code: movierec.EINVALID, Message: "Invalid input data.", Details: map[string][]string{field: {msg}}}
	}
	return err
}

// User returns the account with id, or an error wrapping ErrNotFound.
func (s *Store) User(ctx context.Context, id int64) (movierec.User, error) {
	var u movierec.User
	err := scanUser(s.conn.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id), &u)
	if err == ErrNoRows {
		return u, fmt.Errorf("User(%d): %w", id, movierec.ErrNotFound)
	} else if err != nil {
		return u, fmt.Errorf("User(%d): %w", id, err)
	}
	return u, nil
}

// UserByUsername finds an account by username, case-insensitively, or
// returns an error wrapping ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (movierec.User, error) {
	var u movierec.User
	err := scanUser(s.conn.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE lower(u.username) = lower($1)`, username), &u)
	if err == ErrNoRows {
		return u, fmt.Errorf("UserByUsername: %w", movierec.ErrNotFound)
	} else if err != nil {
		return u, fmt.Errorf("UserByUsername: %w", err)
	}
	return u, nil
}

// UpdateUser applies upd to the account with id and returns the result.
// Taken usernames or emails are EINVALID errors naming the field.
func (s *Store) UpdateUser(ctx context.Context, id int64, upd movierec.UserUpdate) (movierec.User, error) {
	var u movierec.User
	err := s.conn.InTx(ctx, func(tx DB) error {
		if err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`+s.dialect.ForUpdate, id), &u); err == ErrNoRows {
			return movierec.ErrNotFound
		} else if err != nil {
			return err
		}
		if err := s.checkUnique(ctx, tx, id, upd.Username, upd.Email); err != nil {
			return err
		}
		for _, f := range []struct {
			dst *string
			src *string
		}{{&u.Username, upd.Username}, {&u.Email, upd.Email}, {&u.FirstName, upd.FirstName}, {&u.LastName, upd.LastName}} {
			if f.src != nil {
				*f.dst = *f.src
			}
		}
		_, err := tx.Exec(ctx, `UPDATE users SET username = $1, email = $2, first_name = $3, last_name = $4 WHERE id = $5`,
			u.Username, u.Email, u.FirstName, u.LastName, id)
		return s.uniqueError(err, "username", "A user with that username or email already exists.")
	})
	if err != nil {
		return movierec.User{}, fmt.Errorf("UpdateUser(%d): %w", id, err)
	}
	return u, nil
}

// SetPassword stores a new password hash for the user and revokes every
// session except keep (pass "" to revoke all). It returns the IDs of the
// sessions it revoked, so callers can forget them at once.
func (s *Store) SetPassword(ctx context.Context, userID int64, hash, keep string) ([]string, error) {
	var revoked []string
	now := s.timestamp()
	err := s.conn.InTx(ctx, func(tx DB) error {
		n, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
		if err != nil {
			return err
		}
		if n == 0 {
			return movierec.ErrNotFound
		}
		rows, err := tx.Query(ctx, `SELECT id FROM sessions WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL`, userID, keep)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			revoked = append(revoked, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL`, now, userID, keep)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("SetPassword(%d): %w", userID, err)
	}
	return revoked, nil
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, sess movierec.Session) error {
	_, err := s.conn.Exec(ctx, `INSERT INTO sessions (id, user_id, refresh_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		sess.ID, sess.UserID, sess.RefreshHash, sess.CreatedAt.UTC(), sess.ExpiresAt.UTC())
	if err != nil {
		return fmt.Errorf("CreateSession: %w", err)
	}
	return nil
}

// Session returns the session with id, or an error wrapping ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (movierec.Session, error) {
	var sess movierec.Session
	var created, expires, revoked nullTime
	err := s.conn.QueryRow(ctx, `SELECT id, user_id, refresh_hash, previous_refresh_hash, created_at, expires_at, revoked_at
		FROM sessions WHERE id = $1`, id).
		Scan(&sess.ID, &sess.UserID, &sess.RefreshHash, &sess.PreviousRefreshHash, &created, &expires, &revoked)
	if err == ErrNoRows {
		return sess, fmt.Errorf("Session: %w", movierec.ErrNotFound)
	} else if err != nil {
		return sess, fmt.Errorf("Session: %w", err)
	}
	sess.CreatedAt, sess.ExpiresAt = created.Time, expires.Time
	if revoked.Valid {
		t := revoked.Time
		sess.RevokedAt = &t
	}
	return sess, nil
}

// RotateRefresh replaces a live session's refresh hash oldHash with
// newHash and extends it to expires. It reports false, changing nothing,
// when the session is revoked, expired, or holds another hash.
func (s *Store) RotateRefresh(ctx context.Context, id, oldHash, newHash string, expires time.Time) (bool, error) {
	n, err := s.conn.Exec(ctx, `UPDATE sessions SET refresh_hash = $1, previous_refresh_hash = refresh_hash, expires_at = $2
		WHERE id = $3 AND refresh_hash = $4 AND revoked_at IS NULL AND expires_at > $5`,
		newHash, expires.UTC(), id, oldHash, s.timestamp())
	if err != nil {
		return false, fmt.Errorf("RotateRefresh: %w", err)
	}
	return n == 1, nil
}

// RevokeSession ends a session. Revoking an unknown or revoked session is
// not an error.
func (s *Store) RevokeSession(ctx context.Context, id string) error {
	if _, err := s.conn.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, s.timestamp(), id); err != nil {
		return fmt.Errorf("RevokeSession: %w", err)
	}
	return nil
}

// Setting returns the value stored under key, storing value first when the
// key has none: the first writer wins, so instances sharing a database
// agree.
func (s *Store) Setting(ctx context.Context, key, value string) (string, error) {
	if _, err := s.conn.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", fmt.Errorf("Setting(%s): %w", key, err)
	}
	var v string
	if err := s.conn.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v); err != nil {
		return "", fmt.Errorf("Setting(%s): %w", key, err)
	}
	return v, nil
}
