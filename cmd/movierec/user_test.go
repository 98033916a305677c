package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/sqlstore"
)

// withStore opens the database at url for the length of f.
func withStore(t *testing.T, url string, f func(s *sqlstore.Store)) {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return map[string]string{"DATABASE_URL": url}[k] })
	if err != nil {
		t.Fatal(err)
	}
	s, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f(s)
}

func lookupUser(t *testing.T, url, username string) (u movierec.User, err error) {
	t.Helper()
	withStore(t, url, func(s *sqlstore.Store) { u, err = s.UserByUsername(context.Background(), username) })
	return u, err
}

var testHasher = auth.NewHasher(auth.DefaultArgon2)

func TestUserCreateCommand(t *testing.T) {
	for backend, url := range dbURLs(t) {
		t.Run(backend, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": url}
			t.Run("StaffFromPipe", func(t *testing.T) {
				out, _, err := runCmdInput(t, env, "Corr3ct horse\r\nignored second line\n",
					"user", "create", "--username", "alice", "--email", "alice@example.com", "--staff")
				if err != nil {
					t.Fatal(err)
				}
				u, err := lookupUser(t, url, "alice")
				if err != nil {
					t.Fatalf("user not stored: %v", err)
				}
				if !u.IsStaff || !u.IsActive || u.Email != "alice@example.com" {
					t.Errorf("stored %+v, want an active staff user with the given email", u)
				}
				if !strings.Contains(out, "alice") || !strings.Contains(out, "id "+strconv.FormatInt(u.ID, 10)) {
					t.Errorf("output %q does not name the user and id %d", out, u.ID)
				}
				if !testHasher.Check(u.PasswordHash, "Corr3ct horse") {
					t.Errorf("the piped password does not check against the stored hash")
				}
				if testHasher.Check(u.PasswordHash, "Corr3ct horse\r") {
					t.Errorf("the line ending was kept in the password")
				}
			})
			t.Run("NotStaffByDefault", func(t *testing.T) {
				if _, _, err := runCmdInput(t, env, "An0ther-pass", "user", "create", "--username", "bob", "--email", "bob@example.com"); err != nil {
					t.Fatal(err)
				}
				if u, err := lookupUser(t, url, "bob"); err != nil || u.IsStaff {
					t.Errorf("bob: %+v, %v; want a non-staff user", u, err)
				}
			})
			t.Run("WeakPassword", func(t *testing.T) {
				_, _, err := runCmdInput(t, env, "12345678\n", "user", "create", "--username", "carol", "--email", "carol@example.com")
				if err == nil || !strings.Contains(err.Error(), "password") || errors.Is(err, errUsage) {
					t.Fatalf("got %v, want a (non-usage) error naming the password", err)
				}
				if _, err := lookupUser(t, url, "carol"); !errors.Is(err, movierec.ErrNotFound) {
					t.Errorf("a rejected create stored a user (lookup: %v)", err)
				}
			})
			t.Run("NoPassword", func(t *testing.T) {
				_, _, err := runCmdInput(t, env, "", "user", "create", "--username", "dave", "--email", "dave@example.com")
				if err == nil || !strings.Contains(err.Error(), "password") {
					t.Fatalf("got %v, want an error naming the password", err)
				}
			})
			t.Run("BadUsernameAndEmail", func(t *testing.T) {
				_, _, err := runCmdInput(t, env, "Corr3ct horse\n", "user", "create", "--username", "a b", "--email", "nope")
				if err == nil || !strings.Contains(err.Error(), "username") || !strings.Contains(err.Error(), "email") || errors.Is(err, errUsage) {
					t.Fatalf("got %v, want a (non-usage) error naming username and email", err)
				}
			})
			t.Run("DuplicateUsername", func(t *testing.T) {
				_, _, err := runCmdInput(t, env, "Corr3ct horse\n", "user", "create", "--username", "ALICE", "--email", "other@example.com")
				if err == nil || !strings.Contains(err.Error(), "username") || !strings.Contains(err.Error(), "already exists") {
					t.Fatalf("got %v, want an error saying the username is taken", err)
				}
			})
			t.Run("DuplicateEmail", func(t *testing.T) {
				_, _, err := runCmdInput(t, env, "Corr3ct horse\n", "user", "create", "--username", "alice2", "--email", "ALICE@example.com")
				if err == nil || !strings.Contains(err.Error(), "email") || !strings.Contains(err.Error(), "already exists") {
					t.Fatalf("got %v, want an error saying the email is taken", err)
				}
				if _, err := lookupUser(t, url, "alice2"); !errors.Is(err, movierec.ErrNotFound) {
					t.Errorf("a duplicate email was stored (lookup: %v)", err)
				}
			})
		})
	}
}

func TestUserSetPasswordCommand(t *testing.T) {
	for backend, url := range dbURLs(t) {
		t.Run(backend, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": url}
			if _, _, err := runCmdInput(t, env, "0ld-password\n", "user", "create", "--username", "erin", "--email", "erin@example.com"); err != nil {
				t.Fatal(err)
			}
			u, err := lookupUser(t, url, "erin")
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			withStore(t, url, func(s *sqlstore.Store) {
				for _, id := range []string{"erin-s1", "erin-s2"} {
					sess := movierec.Session{ID: id, UserID: u.ID, RefreshHash: "h-" + id, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
					if err := s.CreateSession(context.Background(), sess); err != nil {
						t.Fatal(err)
					}
				}
			})

			t.Run("OK", func(t *testing.T) {
				out, _, err := runCmdInput(t, env, "N3w-password\r\n", "user", "set-password", "--username", "ERIN")
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(out, "erin") {
					t.Errorf("output %q does not name the user", out)
				}
				after, err := lookupUser(t, url, "erin")
				if err != nil {
					t.Fatal(err)
				}
				if !testHasher.Check(after.PasswordHash, "N3w-password") {
					t.Errorf("the new password does not check")
				}
				if testHasher.Check(after.PasswordHash, "0ld-password") {
					t.Errorf("the old password still checks")
				}
				withStore(t, url, func(s *sqlstore.Store) {
					for _, id := range []string{"erin-s1", "erin-s2"} {
						sess, err := s.Session(context.Background(), id)
						if err != nil {
							t.Fatal(err)
						}
						if sess.RevokedAt == nil {
							t.Errorf("session %s survived set-password", id)
						}
					}
				})
			})
			t.Run("WeakPassword", func(t *testing.T) {
				before, _ := lookupUser(t, url, "erin")
				_, _, err := runCmdInput(t, env, "erin\n", "user", "set-password", "--username", "erin")
				if err == nil || !strings.Contains(err.Error(), "password") {
					t.Fatalf("got %v, want an error naming the password", err)
				}
				if after, _ := lookupUser(t, url, "erin"); after.PasswordHash != before.PasswordHash {
					t.Errorf("a rejected password was stored")
				}
			})
			t.Run("UnknownUser", func(t *testing.T) {
				_, _, err := runCmdInput(t, env, "N3w-password\n", "user", "set-password", "--username", "nobody")
				if err == nil || !strings.Contains(err.Error(), `no user named "nobody"`) || errors.Is(err, errUsage) {
					t.Fatalf("got %v, want a (non-usage) error saying there is no user named nobody", err)
				}
			})
		})
	}
}

func TestUserUsageErrors(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "u.db")}
	for _, args := range [][]string{
		{"user"},
		{"user", "delete", "--username", "x"},
		{"user", "create", "--username", "frank"},
		{"user", "create", "--email", "frank@example.com"},
		{"user", "create", "--username", "frank", "--email", "frank@example.com", "extra"},
		{"user", "set-password"},
		{"user", "set-password", "--username", "frank", "--staff"},
	} {
		if _, _, err := runCmdInput(t, env, "Corr3ct horse\n", args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
}

// TestReadPasswordFile reads from an *os.File that is not a terminal (a
// redirected file) like a pipe.
func TestReadPasswordFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(path, []byte("s3cret  \r\nmore\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pw, err := readPassword(context.Background(), f, nil)
	if err != nil || pw != "s3cret  " {
		t.Errorf("readPassword = %q, %v; want %q", pw, err, "s3cret  ")
	}
	if pw, err := readPassword(context.Background(), strings.NewReader("no newline"), nil); err != nil || pw != "no newline" {
		t.Errorf("readPassword without a line ending = %q, %v", pw, err)
	}
}

// TestUserCreateDBFlagAfterSubcommand: -db after "user create" picks the
// database, as it does before it.
func TestUserCreateDBFlagAfterSubcommand(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "flag.db")
	if _, _, err := runCmdInput(t, nil, "Corr3ct horse\n", "user", "create", "-db", url, "--username", "flagged", "--email", "f@example.com"); err != nil {
		t.Fatal(err)
	}
	withStore(t, url, func(s *sqlstore.Store) {
		if _, err := s.UserByUsername(context.Background(), "flagged"); err != nil {
			t.Errorf("user not in the -db database: %v", err)
		}
	})
}
