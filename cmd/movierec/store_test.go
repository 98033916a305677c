package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/movierec/movierec/auth"
)

// TestSigningKeyShared: without MOVIEREC_SECRET_KEY, two servers on one
// database (or one server before and after a restart) accept each other's
// tokens; a configured key is used as given.
func TestSigningKeyShared(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "k.db")}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Argon2 = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}
	store, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a, err := newAccounts(ctx, cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newAccounts(ctx, cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := a.Register(ctx, auth.Registration{Username: "olga", Email: "olga@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, tok.Access); err != nil {
		t.Errorf("second instance rejects the first's token: %v", err)
	}
	cfg.SecretKey = "a-configured-key-of-at-least-32-characters"
	c, err := newAccounts(ctx, cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, tok.Access); err == nil {
		t.Error("a server with another configured key accepted the token")
	}
}

// TestSecretKeyWarning: on PostgreSQL (production) a missing
// MOVIEREC_SECRET_KEY is warned about at start-up; a configured key, or
// the embedded SQLite default, is not.
func TestSecretKeyWarning(t *testing.T) {
	for _, c := range []struct {
		key, dialect string
		warn         bool
	}{{"", "postgres", true}, {"a-configured-key-of-at-least-32-characters", "postgres", false}, {"", "sqlite", false}} {
		msg := secretKeyWarning(config{SecretKey: c.key}, c.dialect)
		if (msg != "") != c.warn || c.warn && !strings.Contains(msg, "MOVIEREC_SECRET_KEY") {
			t.Errorf("key %q on %s: %q", c.key, c.dialect, msg)
		}
	}
}
