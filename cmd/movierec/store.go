package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/movierec/movierec/auth"

	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlite"
	"github.com/movierec/movierec/sqlstore"
)

// openStore opens and migrates the database cfg.DatabaseURL names.
func openStore(ctx context.Context, cfg config) (*sqlstore.Store, error) {
	u := cfg.DatabaseURL
	var s *sqlstore.Store
	var err error
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		s, err = postgres.Open(ctx, postgres.Config{URL: u, MinConns: cfg.DBMinConns, MaxConns: cfg.DBMaxConns,
			Deadlines: cfg.DBDeadlines, ReplicaURLs: cfg.ReplicaURLs, MaxReplicaLag: cfg.ReplicaMaxLag,
			ReplicaCheck: cfg.ReplicaInterval, Log: cfg.logger()})
	case strings.HasPrefix(u, "sqlite:"):
		var path string
		if path, err = sqlite.PathFromURL(u); err != nil {
			return nil, err
		}
		if s, err = sqlite.Open(ctx, path); err == nil {
			s.SetDeadlines(cfg.DBDeadlines)
		}
	default:
		return nil, fmt.Errorf("DATABASE_URL %q: want sqlite:///path/to/file.db or postgres://...", redactURL(u))
	}
	if err != nil {
		return nil, err
	}
	if cfg.DBWriters > 0 {
		s.LimitRatingWriters(int(cfg.DBWriters))
	}
	return s, nil
}

// signingKeySetting names the settings row holding the generated token
// signing key.
const signingKeySetting = "token_signing_key"

// secretKeyWarning is the start-up warning for a production database
// without MOVIEREC_SECRET_KEY ("" when there is nothing to say): the
// generated signing key then lives in the database, beside the accounts,
// so a copy of the database can sign tokens (it still cannot name a
// session: only SHA-256 keys of session IDs are stored).
func secretKeyWarning(cfg config, dialect string) string {
	if cfg.SecretKey != "" || dialect != "postgres" {
		return ""
	}
	return "MOVIEREC_SECRET_KEY is not set: the token signing key is generated and kept in the database; " +
		"set MOVIEREC_SECRET_KEY (32+ characters, the same on every instance) in production"
}

// newAccounts builds the accounts service. Without MOVIEREC_SECRET_KEY the
// signing key is generated once and kept in the database, so restarts and
// every instance on the same database accept the same tokens.
func newAccounts(ctx context.Context, cfg config, store *sqlstore.Store) (*auth.Service, error) {
	key := cfg.SecretKey
	if key == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		var err error
		if key, err = store.Setting(ctx, signingKeySetting, hex.EncodeToString(b)); err != nil {
			return nil, err
		}
	}
	return auth.New(store, []byte(key), auth.NewHasher(cfg.Argon2))
}
