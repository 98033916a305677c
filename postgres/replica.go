package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movierec/movierec/sqlstore"
)

// Read replicas.
//
// Reads marked by sqlstore.MayLag go to a healthy replica: one that
// answers its health check, is a standby (pg_is_in_recovery()), replays
// the primary's WAL no later than MaxReplicaLag behind, and has replayed
// the catalog change log up to the version the mark asks for. Everything
// else goes to the primary. A background loop checks every replica each
// ReplicaCheck: it samples the primary's WAL position (pg_current_wal_lsn)
// and reads each replica's replay position (pg_last_wal_replay_lsn); a
// replica's lag is how long ago the primary had written WAL the replica
// has not replayed yet (to the check interval: 0 means "within one
// interval"). A replica that fails its check or a read is taken out at
// once and its reads in flight are cancelled (the primary answers them
// again: see sqlstore.ErrReplicaFailed); the loop puts it back when it
// passes a check.

const (
	// defaultReplicaLag is MaxReplicaLag's default.
	defaultReplicaLag = 5 * time.Second
	// defaultReplicaCheck is ReplicaCheck's default.
	defaultReplicaCheck = time.Second
	// versionRefreshGap is the shortest time between two reads of a
	// replica's catalog version on behalf of readers (see route).
	versionRefreshGap = 5 * time.Millisecond
)

// replicaSet is a primary's read replicas and their health checker.
type replicaSet struct {
	primary  *pgxpool.Pool
	replicas []*replica
	maxLag   time.Duration
	every    time.Duration
	log      *slog.Logger
	next     atomic.Uint64 // round robin

	samples []walSample // the primary's WAL positions, oldest first (checker only)
	stop    context.CancelFunc
	done    chan struct{}
}

// walSample is the primary's WAL position at a time.
type walSample struct {
	at  time.Time
	lsn int64
}

// replica is one read replica.
type replica struct {
	name       string
	pool, long *pgxpool.Pool
	// checks is the health checks' own small pool: a replica whose
	// readers hold every connection of pool is busy, not down.
	checks     *pgxpool.Pool
	version    atomic.Int64 // newest catalog version seen replayed
	refreshAt  atomic.Int64 // unix nanos of the last on-demand version read
	refreshing atomic.Bool  // an on-demand version read is running
	reads      atomic.Int64
	fallbacks  atomic.Int64

	mu        sync.Mutex
	usable    bool
	state     string
	lag       time.Duration
	checkedAt time.Time
	lastErr   string
	alive     context.Context // cancelled when the replica is taken out
	kill      context.CancelFunc
}

// replicaName is a replica URL's host:port/database, without credentials.
func replicaName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "replica"
	}
	return u.Host + u.Path
}

// openReplicas opens a pool per replica URL (lazily: a replica that is
// down at start is skipped until it answers) and runs one round of health
// checks before returning, so that the first reads may use them.
func openReplicas(ctx context.Context, cfg Config, primary *pgxpool.Pool, dl sqlstore.Deadlines) (*replicaSet, error) {
	set := &replicaSet{primary: primary, maxLag: cfg.MaxReplicaLag, every: cfg.ReplicaCheck, log: cfg.Log}
	if set.maxLag <= 0 {
		set.maxLag = defaultReplicaLag
	}
	if set.every <= 0 {
		set.every = defaultReplicaCheck
	}
	if set.log == nil {
		set.log = slog.New(slog.DiscardHandler)
	}
	for _, u := range cfg.ReplicaURLs {
		r := &replica{name: replicaName(u), state: "unknown"}
		var err error
		if r.pool, err = replicaPool(cfg, u, backstop(dl.Statement), readerConns); err == nil {
			if r.long, err = replicaPool(cfg, u, backstop(dl.Long), longConns); err == nil {
				r.checks, err = replicaPool(cfg, u, backstop(dl.Statement), checkConns)
			}
		}
		if err != nil {
			set.close()
			return nil, fmt.Errorf("postgres: replica %s: %w", r.name, err)
		}
		r.alive, r.kill = context.WithCancel(context.Background())
		set.replicas = append(set.replicas, r)
	}
	set.check(ctx)
	loop, stop := context.WithCancel(context.Background())
	set.stop, set.done = stop, make(chan struct{})
	go set.run(loop)
	return set, nil
}

// Sizes of a replica's pools (see replicaPool).
const (
	readerConns = 0 // sized like the primary's
	checkConns  = 2 // health checks and on-demand version reads
)

// replicaPool opens one of a replica's pools: with conns connections at
// most (readerConns: as many as the primary's pool), the same
// search_path, and without connecting yet.
func replicaPool(cfg Config, raw, statementTimeout string, conns int32) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("bad DATABASE_REPLICA_URLS entry: %w", err)
	}
	pc.MinConns, pc.MaxConns = 0, 20
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if conns > 0 {
		pc.MaxConns = conns
	}
	if cfg.Schema != "" {
		pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	}
	pc.ConnConfig.RuntimeParams["statement_timeout"] = statementTimeout
	pc.ConnConfig.ConnectTimeout = 2 * time.Second
	return pgxpool.NewWithConfig(context.Background(), pc)
}

func (s *replicaSet) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.check(ctx)
		}
	}
}

func (s *replicaSet) close() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	for _, r := range s.replicas {
		r.kill()
		for _, p := range []*pgxpool.Pool{r.pool, r.long, r.checks} {
			if p != nil {
				p.Close()
			}
		}
	}
}

// checkTimeout bounds one health check query.
func (s *replicaSet) checkTimeout() time.Duration { return max(s.every, time.Second) }

// check samples the primary's WAL position and checks every replica.
func (s *replicaSet) check(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, s.checkTimeout())
	var lsn int64
	err := s.primary.QueryRow(pctx, `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint`).Scan(&lsn)
	cancel()
	now := time.Now()
	if err == nil {
		s.samples = append(s.samples, walSample{at: now, lsn: lsn})
	}
	// Keep what can tell a lag up to twice the bound.
	keep := 0
	for keep < len(s.samples)-1 && now.Sub(s.samples[keep+1].at) > 2*s.maxLag+2*s.every {
		keep++
	}
	s.samples = s.samples[keep:]
	var wg sync.WaitGroup
	for _, r := range s.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.checkOne(ctx, r)
		}()
	}
	wg.Wait()
}

// lagOf returns how long ago the primary had written WAL beyond replay,
// and false when this process cannot tell yet: the replica is behind even
// the oldest sample, and that sample is younger than the bound (right
// after start a replica hours behind would otherwise read as caught up).
func (s *replicaSet) lagOf(replay int64, now time.Time) (time.Duration, bool) {
	if len(s.samples) == 0 {
		return 0, false // the primary has not answered a sample yet
	}
	for i, smp := range s.samples {
		if smp.lsn > replay {
			if i == 0 && now.Sub(smp.at) <= s.maxLag {
				return 0, false
			}
			return now.Sub(smp.at), true
		}
	}
	return 0, true
}

func (s *replicaSet) checkOne(ctx context.Context, r *replica) {
	cctx, cancel := context.WithTimeout(ctx, s.checkTimeout())
	defer cancel()
	var standby bool
	var replay, version int64
	err := r.checks.QueryRow(cctx, `SELECT pg_is_in_recovery(),
		COALESCE((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0),
		(SELECT COALESCE(max(version), 0) FROM catalog_changes)`).Scan(&standby, &replay, &version)
	if ctx.Err() != nil {
		return // closing
	}
	now := time.Now()
	switch {
	case err != nil:
		r.takeOut(s.log, "unreachable", err.Error())
	case !standby:
		r.takeOut(s.log, "not a standby", "pg_is_in_recovery() is false: never read from a server that is not a standby")
	default:
		r.raiseVersion(version)
		lag, known := s.lagOf(replay, now)
		r.mu.Lock()
		r.lag = lag
		r.mu.Unlock()
		if !known {
			r.takeOut(s.log, "unknown", "behind the primary by an amount this process cannot tell yet")
		} else if lag > s.maxLag {
			r.takeOut(s.log, "lagging", fmt.Sprintf("replay %s behind the primary (bound %s)", lag.Round(time.Millisecond), s.maxLag))
		} else {
			r.putBack(s.log)
		}
	}
	r.mu.Lock()
	r.checkedAt = now
	r.mu.Unlock()
}

// takeOut stops reads going to r; an unreachable replica's reads in
// flight are cancelled (their callers retry on the primary).
func (r *replica) takeOut(log *slog.Logger, state, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != state {
		log.Warn("read replica taken out; the primary answers its reads", slog.String("replica", r.name),
			slog.String("state", state), slog.String("why", why))
	}
	r.usable, r.state, r.lastErr = false, state, why
	if state == "unreachable" && r.alive.Err() == nil {
		r.kill()
	}
}

// putBack lets reads go to r again.
func (r *replica) putBack(log *slog.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != "ok" && r.state != "unknown" {
		log.Info("read replica back in use", slog.String("replica", r.name))
	}
	if r.alive.Err() != nil {
		r.alive, r.kill = context.WithCancel(context.Background())
	}
	r.usable, r.state, r.lastErr = true, "ok", ""
}

func (r *replica) raiseVersion(v int64) {
	for {
		old := r.version.Load()
		if v <= old || r.version.CompareAndSwap(old, v) {
			return
		}
	}
}

// ready reports whether r may take reads, and the context that ends when
// it is taken out.
func (r *replica) ready() (context.Context, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.alive, r.usable
}

// has reports whether r has replayed catalog version v, reading its
// version again (at most every versionRefreshGap) when what is known is
// older.
func (r *replica) has(ctx context.Context, v int64) bool {
	if r.version.Load() >= v {
		return true
	}
	now := time.Now().UnixNano()
	last := r.refreshAt.Load()
	if now-last < int64(versionRefreshGap) || !r.refreshAt.CompareAndSwap(last, now) {
		return false
	}
	// One at a time: the other connection of the checks pool stays free
	// for the health check.
	if !r.refreshing.CompareAndSwap(false, true) {
		return false
	}
	defer r.refreshing.Store(false)
	ctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel()
	var got int64
	if err := r.checks.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM catalog_changes`).Scan(&got); err != nil {
		return false
	}
	r.raiseVersion(got)
	return got >= v
}

// route picks the replica for a read under ctx's MayLag mark: nil (the
// primary) without a mark or a replica that can answer it.
func (s *replicaSet) route(ctx context.Context) *replica {
	if s == nil {
		return nil
	}
	mark, ok := sqlstore.LagAllowed(ctx)
	if !ok {
		return nil
	}
	n := uint64(len(s.replicas))
	start := s.next.Add(1)
	for i := range n {
		r := s.replicas[(start+i)%n]
		if _, ok := r.ready(); ok && r.has(ctx, mark.MinVersion) {
			return r
		}
	}
	return nil
}

// binding is a read bound to a replica: its context also ends when the
// replica is taken out.
type binding struct {
	r      *replica
	alive  context.Context // the replica's, when the read began
	caller context.Context // the reader's own
	ctx    context.Context
	log    *slog.Logger
	stop   func() bool
	cancel context.CancelFunc
}

// bind binds a read under ctx to r.
func (r *replica) bind(ctx context.Context, log *slog.Logger) *binding {
	alive, _ := r.ready()
	c, cancel := context.WithCancel(ctx)
	return &binding{r: r, alive: alive, caller: ctx, ctx: c, log: log, stop: context.AfterFunc(alive, cancel), cancel: cancel}
}

// release ends the binding.
func (b *binding) release() {
	b.stop()
	b.cancel()
}

// replicaError marks a read the replica failed (see sqlstore.ErrReplicaFailed).
type replicaError struct{ err error }

func (e replicaError) Error() string   { return "read replica: " + e.err.Error() }
func (e replicaError) Unwrap() []error { return []error{sqlstore.ErrReplicaFailed, e.err} }

// failed turns the error of a read on the replica into a replicaError
// when it is the replica's failure, not the read's: the connection broke,
// the replica was taken out meanwhile, it cancelled the read for a
// conflict with recovery (SQLSTATE 40001), or its disk had no room for the
// read's temporary files (53100: the primary's may). When the reader's own
// context ended, the error stays its own.
func (b *binding) failed(err error) error {
	if err == nil || b.caller.Err() != nil || errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	var pgErr *pgconn.PgError
	conflict := errors.As(err, &pgErr) && pgErr.Code == "40001"
	switch {
	case b.alive.Err() != nil, conflict, DiskFull(err): // taken out already, or it stays in
	case Unavailable(err):
		b.r.takeOut(b.log, "unreachable", err.Error())
	default:
		return err
	}
	b.r.fallbacks.Add(1)
	return replicaError{err}
}

// stats reports every replica's state.
func (s *replicaSet) stats() []sqlstore.ReplicaStats {
	if s == nil {
		return nil
	}
	out := make([]sqlstore.ReplicaStats, 0, len(s.replicas))
	for _, r := range s.replicas {
		r.mu.Lock()
		st := sqlstore.ReplicaStats{Name: r.name, State: r.state, Lag: r.lag, CheckedAt: r.checkedAt, Err: r.lastErr}
		r.mu.Unlock()
		st.Version, st.Reads, st.Fallbacks = r.version.Load(), r.reads.Load(), r.fallbacks.Load()
		st.Pool = poolStats(r.pool)
		for _, p := range []*pgxpool.Pool{r.long, r.checks} {
			ps := poolStats(p)
			st.Pool.Acquired += ps.Acquired
			st.Pool.Idle += ps.Idle
			st.Pool.Total += ps.Total
			st.Pool.Max += ps.Max
			st.Pool.Waits += ps.Waits
			st.Pool.WaitTime += ps.WaitTime
		}
		out = append(out, st)
	}
	return out
}

// replicaRows ends the replica binding with the rows.
type replicaRows struct {
	pgx.Rows
	b *binding
}

func (rr *replicaRows) Err() error { return rr.b.failed(rr.Rows.Err()) }
func (rr *replicaRows) Close() {
	rr.Rows.Close()
	rr.b.release()
}

// replicaRow ends the replica binding once scanned.
type replicaRow struct {
	row pgx.Row
	b   *binding
}

func (rr replicaRow) Scan(dest ...any) error {
	defer rr.b.release()
	err := rr.row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlstore.ErrNoRows
	}
	return rr.b.failed(err)
}
