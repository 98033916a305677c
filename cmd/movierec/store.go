package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlite"
	"github.com/movierec/movierec/sqlstore"
)

// openStore opens and migrates the database cfg.DatabaseURL names.
func openStore(ctx context.Context, cfg config) (*sqlstore.Store, error) {
	u := cfg.DatabaseURL
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return postgres.Open(ctx, postgres.Config{URL: u, MinConns: cfg.DBMinConns, MaxConns: cfg.DBMaxConns})
	case strings.HasPrefix(u, "sqlite:"):
		path, err := sqlite.PathFromURL(u)
		if err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, path)
	}
	return nil, fmt.Errorf("DATABASE_URL %q: want sqlite:///path/to/file.db or postgres://...", redactURL(u))
}
