package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/api"
)

// serve runs the HTTP API until ctx is cancelled, then shuts down
// gracefully: readiness flips to 503, in-flight requests get
// cfg.ShutdownGrace to finish, and the pool is closed.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	log.Info("database ready", slog.String("backend", store.Dialect()), slog.String("url", redactURL(cfg.DatabaseURL)))
	if cfg.RedisURL != "" {
		log.Warn("REDIS_URL is set, but this build caches in process only; it is ignored")
	}
	if fill := cfg.DemoData == "always" || (cfg.DemoData == "auto" && store.Dialect() == "sqlite"); fill {
		page, err := store.ListMovies(ctx, movierec.MovieFilter{Limit: 1})
		if err != nil {
			return err
		}
		if page.Count == 0 {
			log.Info("empty database: loading the demo catalog (MOVIEREC_DEMO_DATA=never turns this off)")
			res, err := importDemo(ctx, store, newProgress(os.Stderr))
			if err != nil {
				return fmt.Errorf("demo data: %w", err)
			}
			log.Info("demo catalog loaded", slog.Int("movies", res.Movies), slog.Int("ratings", res.Ratings),
				slog.Duration("took", res.Elapsed.Round(time.Millisecond)))
		}
	}

	accounts, err := newAccounts(ctx, cfg, store)
	if err != nil {
		return err
	}
	srv := api.New(store, accounts, log, api.Options{LoginLimit: cfg.LoginLimit,
		RegisterLimit: cfg.RegisterLimit, TrustProxy: cfg.TrustProxy})
	hs := &http.Server{
		Addr:              cfg.Addr,
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	log.Info("movierec listening", slog.String("url", "http://"+displayAddr(ln.Addr())+"/api/"))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Duration("grace", cfg.ShutdownGrace))
	srv.SetReady(false)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// displayAddr turns a wildcard listen address into one a person can click.
func displayAddr(a net.Addr) string {
	s := a.String()
	for _, wild := range []string{"[::]:", "0.0.0.0:"} {
		if port, ok := strings.CutPrefix(s, wild); ok {
			return "localhost:" + port
		}
	}
	return s
}
