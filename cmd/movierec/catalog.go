package main

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/catalog"
	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlstore"
)

// startCatalog loads the in-memory catalog and keeps it current until ctx
// ends: this instance's writes through the returned store at once, other
// instances' through PostgreSQL notifications and the change-log poll
// (and it notifies them of this instance's rating writes).
// With several instances, Redis (when configured) or the database tells a
// request whether another instance wrote something this one has not
// applied yet.
func startCatalog(ctx context.Context, cfg config, store *sqlstore.Store, answers *cache.Cache, log *slog.Logger) (*catalog.Store, func(), error) {
	opts := cfg.Catalog
	opts.Log = log
	shared := store.Dialect() == "postgres"
	// Several instances: on PostgreSQL, or on one SQLite file when they
	// share Redis. Freshness checks ask Redis for the newest version, or
	// read the change log when there is no Redis or it fails.
	opts.Shared = shared || answers != nil && answers.Shared()
	if answers != nil && answers.Shared() {
		opts.Probe = answers.CatalogVersion
	}
	if len(store.ReplicaStats()) > 0 {
		opts.Lagging = sqlstore.MayLag
	}
	cat := catalog.New(store, opts)
	if opts.Lagging != nil {
		// Load from a replica only once it has what the primary has now.
		v, err := store.CatalogVersion(ctx)
		if err != nil {
			return nil, nil, err
		}
		cat.Told(v)
	}
	if err := cat.Load(ctx); err != nil {
		return nil, nil, err
	}
	cs := catalog.NewStore(store, cat, log)
	var publish []func(context.Context, int64)
	if answers != nil && answers.Shared() {
		publish = append(publish, answers.PublishCatalogVersion)
	}
	var notifier *postgres.Notifier
	if shared {
		// Rating writes notify the other instances after they commit,
		// throttled (see postgres.Notifier).
		var err error
		if notifier, err = postgres.NewNotifier(store, log); err != nil {
			return nil, nil, err
		}
		publish = append(publish, notifier.Notify)
	}
	if len(publish) > 0 {
		cs.Published = func(ctx context.Context, v int64) {
			for _, p := range publish {
				p(ctx, v)
			}
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, 3)
	go func() { defer func() { done <- struct{}{} }(); cat.Run(runCtx) }()
	waits := 1
	if shared {
		waits += 2
		go func() { defer func() { done <- struct{}{} }(); notifier.Run(runCtx) }()
		go func() {
			defer func() { done <- struct{}{} }()
			err := postgres.Listen(runCtx, postgres.Pool(store), postgres.Channel(store), func(msg string) {
				if v, err := strconv.ParseInt(msg, 10, 64); err == nil {
					cat.Told(v) // the payload is the change's version
				} else {
					cat.Notify()
				}
			}, log)
			if err != nil && runCtx.Err() == nil {
				log.Error("catalog notifications stopped; relying on the poll", slog.Any("err", err))
			}
		}()
	}
	return cs, func() {
		stop()
		for range waits {
			<-done
		}
	}, nil
}
