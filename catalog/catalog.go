// Package catalog keeps the movie catalog in memory and answers every
// catalog read from it: lists with every filter and ordering, search,
// genres and tags, popular, trending and top-rated rankings, movie detail
// and rating statistics, without SQL on the read path.
//
// The store records every committed catalog change in a change log (a
// version, a kind and an id). A Catalog loads a snapshot at start-up and
// then applies the changes after it: its own instance's writes at once,
// before the write's response (a rating write from the change it
// recorded, see Own; other writes by Sync), other instances' writes
// when PostgreSQL NOTIFY says so (Notify) and, as a safety net that also
// serves SQLite files shared by several processes, on a short poll. A
// change is applied by reloading the one movie, genre or tag it names,
// except a rating write, which the log records with what it did and which
// is applied to the movie in memory. Each movie remembers the version its
// data reflects, so a change it already holds (by a reload at a later
// version) is never applied twice, and a missed notification is repaired
// by the next catch-up.
//
// Freshness: a movie's own answers (detail, stats) change as soon as its
// change is applied, so each Catalog exposes a per-movie version for cache
// keys; lists and rankings use ListVersion, which follows the applied
// version at most once per Coalesce interval, so a steady stream of
// writes costs list readers one recomputation per interval instead of one
// per write.
package catalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/movierec/movierec"
)

// Source is what the catalog reads from the store.
type Source interface {
	CatalogSnapshot(ctx context.Context, window time.Duration) (movierec.CatalogSnapshot, error)
	CatalogChanges(ctx context.Context, after int64, limit int) ([]movierec.CatalogChange, error)
	// CatalogMovies reloads some movies: Movies, Newest and Since as in
	// CatalogSnapshot, and the Version of the change log they reflect
	// (every change up to it, none after it).
	CatalogMovies(ctx context.Context, since time.Time, ids []int64) (movierec.CatalogSnapshot, error)
	Genre(ctx context.Context, id int64) (movierec.Genre, error)
	Tag(ctx context.Context, id int64) (movierec.Tag, error)
}

// Options tunes a Catalog. Zero values take the defaults.
type Options struct {
	// Window is how much rating history before the newest rating the
	// catalog keeps for trending lists (default 30 days, the longest
	// trending period).
	Window time.Duration
	// Poll is how often the change log is read even without a
	// notification (default 250ms).
	Poll time.Duration
	// Coalesce is the longest a list answer may lag behind an applied
	// change (default 500ms). With Poll it bounds how late lists show a
	// write made on another instance.
	Coalesce time.Duration
	// GapTimeout is how long a missing version (a transaction that took a
	// version and has not committed) is waited for before it is taken as
	// rolled back (default 30s). Since the log becomes visible in commit
	// order, a catch-up settles every version up to the newest it read at
	// once (see pass); this bounds what is left.
	GapTimeout time.Duration
	// Stale is how long without a successful catch-up makes the next one
	// reload everything, since the change log may have been pruned past
	// what this instance saw (default 30 minutes).
	Stale time.Duration
	// ReadWait bounds what a read spends catching up (EnsureFresh,
	// SyncMovie) when the database is slow or gone (default 250ms): past
	// it the read is answered from what this instance has.
	ReadWait time.Duration
	// Shared says other processes write to the store too. EnsureFresh
	// then reads the change log (unless Probe answers): one query that
	// both tells whether another instance committed something this one
	// has not applied and brings it. Concurrent readers share these
	// reads (see probeBatch).
	Shared bool
	// Probe, when set, returns the newest committed version known to any
	// instance (from Redis, say); EnsureFresh catches up when this
	// instance is behind it. When it fails, a Shared catalog reads the
	// log instead. Concurrent readers share its calls (see probeBatch).
	Probe func(ctx context.Context) (int64, error)
	// ProbeGap is the shortest time between the starts of two freshness
	// checks (Probe, or a Shared catalog's read of the log) of this
	// instance (0: none). Under a steady stream of reads that must be
	// fresh, checks otherwise run back to back, one per round trip;
	// with a gap a read waits at most ProbeGap longer for the check that
	// starts after it arrived. At most a fifth of ReadWait (larger values
	// are lowered to that, so readers do not give up waiting).
	ProbeGap time.Duration
	// Lagging, when set, marks the context of a read the catalog makes in
	// the background (loads, and the catch-ups of Run) as one a read
	// replica may answer if it has replayed version minVersion
	// (sqlstore.MayLag). The catalog asks for the newest version it knows
	// of, so a replica never takes it back in time, and reads that must be
	// fresh (a request's catch-up, a writer's) stay on the primary.
	Lagging func(ctx context.Context, minVersion int64) context.Context
	// Log receives catch-up failures and reloads (nil: discarded).
	Log *slog.Logger
}

func (o *Options) defaults() {
	if o.Window <= 0 {
		o.Window = 30 * 24 * time.Hour
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Coalesce <= 0 {
		o.Coalesce = 500 * time.Millisecond
	}
	if o.GapTimeout <= 0 {
		o.GapTimeout = 30 * time.Second
	}
	if o.Stale <= 0 {
		o.Stale = 30 * time.Minute
	}
	if o.ReadWait <= 0 {
		o.ReadWait = 250 * time.Millisecond
	}
	o.ProbeGap = min(max(o.ProbeGap, 0), o.ReadWait/5)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// notifyGap is the shortest time between two catch-ups that notifications
// start (see Run).
const notifyGap = 100 * time.Millisecond

// changeBatch is how many changes one catch-up query reads.
const changeBatch = 5000

// roundTimeout bounds one background catch-up (a full reload of a large
// catalog included).
const roundTimeout = 5 * time.Minute

// Catalog is the in-memory catalog. Safe for concurrent use.
type Catalog struct {
	src  Source
	opts Options

	mu sync.RWMutex
	st *state

	// Catch-up bookkeeping, guarded by syncing (one catch-up at a time; a
	// channel so that waiting for it respects a context).
	syncing  chan struct{}
	floor    int64               // every version <= floor is applied
	applied  map[int64]bool      // versions > floor already applied
	gaps     map[int64]time.Time // versions < top not seen yet, and since when
	lastSync time.Time
	// This instance's committed rating writes waiting for the versions
	// before them (see Own), by version.
	own map[int64]movierec.CatalogChange

	top         atomic.Int64 // highest version applied
	told        atomic.Int64 // highest version a notification named (see Told)
	taxonomy    atomic.Int64 // version of the last genre or tag change applied
	listVer     atomic.Int64
	listAdvance atomic.Int64 // unix nanos of the last ListVersion advance
	hasGaps     atomic.Bool
	reloads     atomic.Int64
	wake        chan struct{}

	// Movies this instance wrote whose change is not applied yet (see
	// Wrote), and how many such writes there are.
	pendMu  sync.Mutex
	pending map[int64]int
	pendN   atomic.Int64

	probes *probeBatch // freshness checks, shared by concurrent readers; nil without Probe or Shared

	// Rankings (trending, top-rated) derive from the whole catalog; each
	// is computed at most once per applied version and parameters.
	rankMu   sync.Mutex
	rankVer  int64
	rankings map[string][]movierec.ScoredMovie
}

// New returns a catalog reading from src. Call Load before serving.
func New(src Source, opts Options) *Catalog {
	opts.defaults()
	c := &Catalog{src: src, opts: opts, applied: map[int64]bool{}, gaps: map[int64]time.Time{},
		wake: make(chan struct{}, 1), syncing: make(chan struct{}, 1), st: newState(movierec.CatalogSnapshot{}, opts.Window)}
	if opts.Probe != nil || opts.Shared {
		c.probes = &probeBatch{fn: c.newest, gap: opts.ProbeGap, ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), opts.ReadWait)
		}}
	}
	return c
}

// newest is the freshness check: the newest version committed by any
// instance, from Probe, or else (Shared) by catching up from the log,
// after which this instance has applied everything committed before the
// call.
func (c *Catalog) newest(ctx context.Context) (int64, error) {
	if c.opts.Probe != nil {
		v, err := c.opts.Probe(ctx)
		if err == nil || !c.opts.Shared {
			return v, err
		}
	}
	if err := c.sync(ctx, false); err != nil {
		return 0, err
	}
	return c.top.Load(), nil
}

// Load (re)reads the whole catalog from the store (from a read replica
// when Options.Lagging allows, at the newest version this catalog knows
// of or later).
func (c *Catalog) Load(ctx context.Context) error {
	if err := c.lockSync(ctx); err != nil {
		return err
	}
	defer c.unlockSync()
	return c.load(background(ctx))
}

type backgroundKey struct{}

// background marks ctx as the catalog's own background work, whose reads
// Options.Lagging may send to a replica.
func background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// lagging returns ctx marked by Options.Lagging when it is background
// work (ctx unchanged otherwise).
func (c *Catalog) lagging(ctx context.Context, minVersion int64) context.Context {
	if c.opts.Lagging == nil || ctx.Value(backgroundKey{}) == nil {
		return ctx
	}
	return c.opts.Lagging(ctx, minVersion)
}

// known is the newest version this catalog knows was committed: applied,
// or named by a notification.
func (c *Catalog) known() int64 { return max(c.top.Load(), c.told.Load()) }

// lockSync waits for the catch-up lock, or for ctx to end.
func (c *Catalog) lockSync(ctx context.Context) error {
	select {
	case c.syncing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("catalog: waiting for a catch-up: %w", ctx.Err())
	}
}

func (c *Catalog) unlockSync() { <-c.syncing }

func (c *Catalog) load(ctx context.Context) error {
	start := time.Now()
	snap, err := c.src.CatalogSnapshot(c.lagging(ctx, c.known()), c.opts.Window)
	if err != nil {
		return fmt.Errorf("catalog: load: %w", err)
	}
	st := newState(snap, c.opts.Window)
	st.sortNames()
	c.mu.Lock()
	c.st = st
	c.mu.Unlock()
	c.floor = snap.Version
	clear(c.applied)
	clear(c.gaps)
	c.pruneOwn()
	c.hasGaps.Store(false)
	c.lastSync = time.Now()
	if snap.Version > c.top.Load() {
		c.top.Store(snap.Version)
	}
	c.reloads.Add(1)
	c.taxonomy.Store(c.top.Load())
	c.advanceList()
	c.opts.Log.Info("catalog loaded", slog.Int("movies", len(snap.Movies)), slog.Int("genres", len(snap.Genres)),
		slog.Int("tags", len(snap.Tags)), slog.Int64("version", snap.Version),
		slog.Duration("took", time.Since(start).Round(time.Millisecond)))
	return nil
}

// Sync applies every committed change not applied yet, reloading
// everything when the log says so (an import) or this instance has not
// caught up for too long (Options.Stale). Writers call it after their
// write commits, so their own next read sees it.
func (c *Catalog) Sync(ctx context.Context) error { return c.sync(ctx, true) }

// errReloadDue: a read's catch-up found that only a full reload brings
// this instance up to date. Reads do not reload (a 62,000-movie catalog
// loads in 2-3 s, far past ReadWait, so every read would start one and
// give it up); Run does it, and the read is answered from what this
// instance has meanwhile.
var errReloadDue = errors.New("catalog: a full reload is due; the background catch-up runs it")

// sync is Sync; without reload, a reload that is due is left to Run
// (woken up) and errReloadDue returned.
func (c *Catalog) sync(ctx context.Context, reload bool) error {
	if err := c.lockSync(ctx); err != nil {
		return err
	}
	defer c.unlockSync()
	// Every write registered so far has committed: this catch-up sees it.
	c.pendMu.Lock()
	taken := c.pending
	c.pending = nil
	c.pendMu.Unlock()
	err := c.catchUp(ctx, reload)
	if err != nil && len(taken) > 0 {
		// Not applied after all: keep them pending.
		c.pendMu.Lock()
		if c.pending == nil {
			c.pending = map[int64]int{}
		}
		for id, n := range taken {
			c.pending[id] += n
		}
		c.pendMu.Unlock()
		return err
	}
	for _, n := range taken {
		c.pendN.Add(-int64(n))
	}
	return err
}

// Wrote registers committed writes of this instance to the given movies
// (ratings) without applying them: the background catch-up applies them
// in a moment, and until then any read that must see them (SyncMovie,
// EnsureFresh) applies them first. It is Own's fallback, for a write
// whose change could not be applied at once (the database failed).
func (c *Catalog) Wrote(ids ...int64) {
	c.pendMu.Lock()
	if c.pending == nil {
		c.pending = map[int64]int{}
	}
	for _, id := range ids {
		c.pending[id]++
	}
	c.pendMu.Unlock()
	c.pendN.Add(int64(len(ids)))
	c.Notify()
}

// Own applies a rating write this instance has just committed, from the
// change the write recorded (see sqlstore.Store.RateMovieChange), before
// the write's response: the writer's next read sees it, and no read of
// the change log is needed. A change is applied only once every version
// before it is: when one is missing (another instance's write, or this
// instance's concurrent write that has not reached Own yet), Own catches
// up from the log instead, which brings both. When that fails too (the
// database is gone), the write is registered as pending (see Wrote), so
// the next read of the movie retries.
func (c *Catalog) Own(ctx context.Context, ch movierec.CatalogChange) {
	if ch.Kind != movierec.ChangeMovie || !appliable(ch.Rating) || ch.Version <= 0 {
		c.Wrote(ch.ID)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.ReadWait)
	defer cancel()
	if err := c.lockSync(ctx); err != nil {
		c.Wrote(ch.ID)
		return
	}
	defer c.unlockSync()
	if err := c.applyOwn(ctx, ch); err != nil {
		c.opts.Log.Warn("catalog: applying this instance's rating write failed; the next read retries", slog.Any("err", err))
		c.Wrote(ch.ID)
	}
}

// applyOwn is Own under the catch-up lock.
func (c *Catalog) applyOwn(ctx context.Context, ch movierec.CatalogChange) error {
	if ch.Version <= c.floor || c.applied[ch.Version] {
		return nil // a catch-up applied it already
	}
	if c.own == nil {
		c.own = map[int64]movierec.CatalogChange{}
	}
	c.own[ch.Version] = ch
	var run []movierec.CatalogChange
	for v := c.floor + 1; ; v++ {
		o, ok := c.own[v]
		if !ok {
			break
		}
		run = append(run, o)
	}
	if len(run) > 0 {
		if err := c.apply(ctx, run); err != nil {
			return err
		}
		c.settle(run)
	}
	if ch.Version > c.floor {
		// A version before it is missing: read them from the log.
		return c.catchUp(ctx, false)
	}
	return nil
}

// SyncMovie applies this instance's own pending writes when one of them
// is to movie id, so the movie's answers show them.
func (c *Catalog) SyncMovie(ctx context.Context, id int64) error {
	if c.pendN.Load() == 0 {
		return nil
	}
	c.pendMu.Lock()
	n := c.pending[id]
	c.pendMu.Unlock()
	if n == 0 {
		return nil
	}
	return c.sync(ctx, false)
}

// catchUp applies the log's changes after the floor; see sync for
// reload.
func (c *Catalog) catchUp(ctx context.Context, reload bool) error {
	if time.Since(c.lastSync) > c.opts.Stale {
		if !reload {
			c.Notify()
			return errReloadDue
		}
		c.opts.Log.Warn("catalog: no catch-up for too long; reloading everything")
		return c.load(ctx)
	}
	var fresh []movierec.CatalogChange
	after := c.floor
	read := c.floor // the newest version read
	for {
		batch, err := c.src.CatalogChanges(c.lagging(ctx, c.known()), after, changeBatch)
		if err != nil {
			return fmt.Errorf("catalog: changes: %w", err)
		}
		for _, ch := range batch {
			read = max(read, ch.Version)
			if !c.applied[ch.Version] {
				fresh = append(fresh, ch)
			}
		}
		if len(batch) < changeBatch {
			break
		}
		after = batch[len(batch)-1].Version
	}
	for _, ch := range fresh {
		if ch.Kind == movierec.ChangeAll {
			if !reload {
				c.Notify()
				return errReloadDue
			}
			return c.load(ctx)
		}
	}
	if err := c.apply(ctx, fresh); err != nil {
		return err
	}
	c.lastSync = time.Now()
	c.settle(fresh)
	c.pass(read)
	return nil
}

// pass moves the floor up to v, the newest version a read of the log
// returned. The log becomes visible in commit order (every version below
// one that is visible is visible too, or will never be: see
// sqlstore.Store.CatalogChanges), so a version up to v that the read did
// not return was rolled back: it is not waited for, and freshness checks
// do not read the log again for it.
func (c *Catalog) pass(v int64) {
	if v <= c.floor {
		return
	}
	for ver := range c.applied {
		if ver <= v {
			delete(c.applied, ver)
		}
	}
	for ver := range c.gaps {
		if ver <= v {
			delete(c.gaps, ver)
		}
	}
	c.floor = v
	c.hasGaps.Store(len(c.gaps) > 0)
	c.pruneOwn()
}

// apply installs the changes: the genres and tags they name are
// reloaded; a rating write to a movie in the catalog is applied in memory
// from what its change carries (see delta.go); any other movie change
// reloads the movie, which also covers the rating writes to it up to the
// reload's version. A batch of rating writes alone reads nothing more.
func (c *Catalog) apply(ctx context.Context, changes []movierec.CatalogChange) error {
	if len(changes) == 0 {
		return nil
	}
	var ratings []movierec.CatalogChange
	reloadIDs, genreIDs, tagIDs := map[int64]bool{}, map[int64]bool{}, map[int64]bool{}
	var taxonomy, newest int64
	for _, ch := range changes {
		newest = max(newest, ch.Version)
		switch ch.Kind {
		case movierec.ChangeMovie:
			if appliable(ch.Rating) {
				ratings = append(ratings, ch)
			} else {
				reloadIDs[ch.ID] = true
			}
		case movierec.ChangeGenre:
			genreIDs[ch.ID] = true
			taxonomy = max(taxonomy, ch.Version)
		case movierec.ChangeTag:
			tagIDs[ch.ID] = true
			taxonomy = max(taxonomy, ch.Version)
		}
	}
	genres, goneGenres, err := reload(c.lagging(ctx, newest), genreIDs, c.src.Genre)
	if err != nil {
		return fmt.Errorf("catalog: genres: %w", err)
	}
	tags, goneTags, err := reload(c.lagging(ctx, newest), tagIDs, c.src.Tag)
	if err != nil {
		return fmt.Errorf("catalog: tags: %w", err)
	}
	// Movies are added and removed only by apply and load, which hold the
	// catch-up lock: which ones are in the catalog cannot change before
	// the write lock below.
	c.mu.RLock()
	since := c.st.since()
	var deltas []movierec.CatalogChange
	for _, ch := range ratings {
		switch {
		case reloadIDs[ch.ID]:
			// Reloaded: the reload holds this write (the changes were
			// read before it).
		case c.st.entryByID(ch.ID) == nil:
			reloadIDs[ch.ID] = true
		default:
			deltas = append(deltas, ch)
		}
	}
	c.mu.RUnlock()
	slices.SortFunc(deltas, func(a, b movierec.CatalogChange) int { return cmp.Compare(a.Version, b.Version) })
	ids := slices.Sorted(maps.Keys(reloadIDs))
	var snap movierec.CatalogSnapshot
	if len(ids) > 0 {
		// At or after every change read (see CatalogMovies' Version).
		if snap, err = c.src.CatalogMovies(c.lagging(ctx, newest), since, ids); err != nil {
			return fmt.Errorf("catalog: movies: %w", err)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	for _, g := range genres {
		_, known := st.genres[g.ID]
		st.putGenre(g)
		if !known {
			st.relinkGenre(g.ID)
		}
	}
	for _, id := range goneGenres {
		st.deleteGenre(id)
	}
	for _, t := range tags {
		_, known := st.tags[t.ID]
		st.putTag(t)
		if !known {
			st.relinkTag(t.ID)
		}
	}
	for _, id := range goneTags {
		st.deleteTag(id)
	}
	for _, ch := range deltas {
		st.applyRating(ch)
	}
	found := map[int64]bool{}
	for _, m := range snap.Movies {
		found[m.ID] = true
		st.putMovie(newEntry(m, snap.Version))
	}
	for _, id := range ids {
		if !found[id] {
			st.deleteMovie(id)
		}
	}
	if len(ids) > 0 {
		// The store's, at a version at or after every change applied.
		st.newest = snap.Newest
	}
	st.sortNames()
	if taxonomy > c.taxonomy.Load() {
		c.taxonomy.Store(taxonomy)
	}
	return nil
}

// reload fetches each id with get; those not found are returned as gone.
func reload[T any](ctx context.Context, ids map[int64]bool, get func(context.Context, int64) (T, error)) (found []T, gone []int64, err error) {
	for id := range ids {
		v, err := get(ctx, id)
		if errors.Is(err, movierec.ErrNotFound) {
			gone = append(gone, id)
			continue
		} else if err != nil {
			return nil, nil, err
		}
		found = append(found, v)
	}
	return found, gone, nil
}

// settle records applied versions, tracks versions still missing below the
// newest one (transactions that commit out of order), and moves the floor
// past everything settled.
func (c *Catalog) settle(changes []movierec.CatalogChange) {
	top := c.top.Load()
	for _, ch := range changes {
		c.applied[ch.Version] = true
		delete(c.gaps, ch.Version)
		top = max(top, ch.Version)
	}
	now := time.Now()
	for v := c.floor + 1; v < top; v++ {
		if !c.applied[v] {
			if _, ok := c.gaps[v]; !ok {
				c.gaps[v] = now
			}
		}
	}
	for {
		next := c.floor + 1
		if c.applied[next] {
			delete(c.applied, next)
		} else if seen, ok := c.gaps[next]; ok && now.Sub(seen) > c.opts.GapTimeout {
			delete(c.gaps, next) // rolled back, or lost: stop waiting
		} else {
			break
		}
		c.floor = next
	}
	c.hasGaps.Store(len(c.gaps) > 0)
	if top > c.top.Load() {
		c.top.Store(top)
	}
	c.pruneOwn()
}

// pruneOwn forgets the own writes (see Own) that are applied.
func (c *Catalog) pruneOwn() {
	for v := range c.own {
		if v <= c.floor || c.applied[v] {
			delete(c.own, v)
		}
	}
}

// pruner is a Source that can drop old changes from its log.
type pruner interface {
	PruneCatalogChanges(ctx context.Context, before time.Time) (int64, error)
}

// prune drops changes older than twice Stale: an instance that has not
// caught up for Stale reloads everything instead of reading them. Every
// instance prunes; the deletes are idempotent.
func (c *Catalog) prune(ctx context.Context) {
	p, ok := c.src.(pruner)
	if !ok {
		return
	}
	if n, err := p.PruneCatalogChanges(ctx, time.Now().Add(-2*c.opts.Stale)); err != nil {
		c.opts.Log.Warn("catalog: pruning the change log failed", slog.Any("err", err))
	} else if n > 0 {
		c.opts.Log.Debug("catalog: pruned the change log", slog.Int64("changes", n))
	}
}

// Told is Notify for a notification that names the version committed:
// background catch-ups then read from a replica only once it has
// replayed that version (see Options.Lagging).
func (c *Catalog) Told(version int64) {
	for {
		old := c.told.Load()
		if version <= old || c.told.CompareAndSwap(old, version) {
			break
		}
	}
	c.Notify()
}

// Notify asks Run to catch up now (a PostgreSQL notification arrived).
func (c *Catalog) Notify() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run catches up on every notification and every Poll interval until ctx
// is done. Failures are logged; the next round retries.
func (c *Catalog) Run(ctx context.Context) {
	tick := time.NewTicker(c.opts.Poll)
	defer tick.Stop()
	prune := time.NewTicker(10 * time.Minute)
	defer prune.Stop()
	var lastErr, last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-prune.C:
			c.prune(ctx)
			continue
		case <-tick.C:
		case <-c.wake:
			// Every write elsewhere notifies: catch up at most once per
			// notifyGap for them (reads that must be fresh catch up
			// themselves; lists may lag by Coalesce anyway).
			if d := notifyGap - time.Since(last); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
		}
		last = time.Now()
		// A frozen database must not hold the catch-up lock for ever.
		round, cancel := context.WithTimeout(background(ctx), roundTimeout)
		err := c.Sync(round)
		cancel()
		if err != nil && ctx.Err() == nil && time.Since(lastErr) > 30*time.Second {
			lastErr = time.Now()
			c.opts.Log.Error("catalog catch-up failed; retrying", slog.Any("err", err))
		}
	}
}

// EnsureFresh catches up when another instance has committed a change this
// one has not applied yet (as far as Probe can tell). Requests that must
// see every committed write (a movie's own answers, a writer's reads) call
// it first. Without a Probe it does nothing: one process sees its own
// writes through Sync. A full reload that is due is left to Run (see
// errReloadDue).
func (c *Catalog) EnsureFresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReadWait)
	defer cancel()
	if c.pendN.Load() > 0 {
		if err := c.sync(ctx, false); err != nil {
			return err
		}
	}
	return c.probe(ctx)
}

// EnsureFreshMovie is EnsureFresh for the answers of one movie: this
// instance's own pending writes matter only when they are to that movie.
func (c *Catalog) EnsureFreshMovie(ctx context.Context, id int64) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReadWait)
	defer cancel()
	if err := c.SyncMovie(ctx, id); err != nil {
		return err
	}
	return c.probe(ctx)
}

// probe catches up when Probe says another instance is ahead.
func (c *Catalog) probe(ctx context.Context) error {
	if c.probes == nil {
		return nil
	}
	v, err := c.probes.do(ctx)
	if err != nil {
		return err
	}
	if v > c.top.Load() || c.hasGaps.Load() {
		return c.sync(ctx, false)
	}
	return nil
}

// Version is the highest change-log version applied.
func (c *Catalog) Version() int64 { return c.top.Load() }

// Reloads counts full loads (start-up, imports, recoveries).
func (c *Catalog) Reloads() int64 { return c.reloads.Load() }

// ListVersion versions list and ranking answers: it follows Version, but
// moves at most once per Coalesce interval.
func (c *Catalog) ListVersion() int64 {
	lv := c.listVer.Load()
	if lv != c.top.Load() && time.Now().UnixNano()-c.listAdvance.Load() >= int64(c.opts.Coalesce) {
		c.advanceList()
		lv = c.listVer.Load()
	}
	return lv
}

func (c *Catalog) advanceList() {
	c.listVer.Store(c.top.Load())
	c.listAdvance.Store(time.Now().UnixNano())
}

// TaxonomyVersion is the version of the last genre or tag change applied
// (names shown in every movie's answers).
func (c *Catalog) TaxonomyVersion() int64 { return c.taxonomy.Load() }

// MovieVersion versions a movie's own answers: the change-log version its
// data reflects (0 for an unknown movie).
func (c *Catalog) MovieVersion(id int64) int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.st.entryByID(id); e != nil {
		return e.version
	}
	return 0
}

// read runs fn on the current state under the read lock.
func read[T any](c *Catalog, fn func(st *state) T) T {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return fn(c.st)
}

// ListMovies answers a movie list. An empty search-free ordering is the
// default (-popularity_score); a search without an ordering ranks by
// relevance (title, then genre, then tag matches; popularity within).
func (c *Catalog) ListMovies(ctx context.Context, f movierec.MovieFilter) (movierec.Page[movierec.Movie], error) {
	t := trackerOf(ctx)
	return read(c, func(st *state) movierec.Page[movierec.Movie] {
		page, top := st.listSlots(f)
		if t != nil {
			t.note(st, movieRead(st, f, top))
		}
		return page
	}), nil
}

// Movie returns one movie with genres, tags and rating distribution.
func (c *Catalog) Movie(ctx context.Context, id int64) (movierec.Movie, error) {
	untracked(ctx)
	m, ok := readPair(c, func(st *state) (movierec.Movie, bool) {
		if e := st.entryByID(id); e != nil {
			return st.detailMovie(e), true
		}
		return movierec.Movie{}, false
	})
	if !ok {
		return m, fmt.Errorf("Movie(%d): %w", id, movierec.ErrNotFound)
	}
	return m, nil
}

// MoviesByIDs returns the list fields of the movies with ids, in the order
// of ids; unknown ids are skipped.
func (c *Catalog) MoviesByIDs(ctx context.Context, ids []int64) ([]movierec.Movie, error) {
	untracked(ctx)
	return read(c, func(st *state) []movierec.Movie {
		out := make([]movierec.Movie, 0, len(ids))
		for _, id := range ids {
			if e := st.entryByID(id); e != nil {
				out = append(out, st.listMovie(e))
			}
		}
		return out
	}), nil
}

// PopularMovies returns the limit movies with the highest popularity.
func (c *Catalog) PopularMovies(ctx context.Context, limit int) ([]movierec.Movie, error) {
	page, err := c.ListMovies(ctx, movierec.MovieFilter{Limit: limit})
	return page.Items, err
}

// TrendingMovies ranks movies by their ratings in the period ending at the
// newest rating; Score is that count.
func (c *Catalog) TrendingMovies(ctx context.Context, period time.Duration, limit int) ([]movierec.ScoredMovie, error) {
	untracked(ctx)
	return c.ranking(fmt.Sprintf("t%d/%d", period, limit), func(st *state) []movierec.ScoredMovie { return st.trending(period, limit) }), nil
}

// TopRatedMovies ranks movies with at least minRatings ratings by their
// Bayesian average; Score is that average.
func (c *Catalog) TopRatedMovies(ctx context.Context, minRatings, limit int) ([]movierec.ScoredMovie, error) {
	untracked(ctx)
	return c.ranking(fmt.Sprintf("r%d/%d", minRatings, limit), func(st *state) []movierec.ScoredMovie { return st.topRated(minRatings, limit) }), nil
}

// maxRankings bounds the remembered rankings (parameters vary).
const maxRankings = 64

// ranking returns the ranking named key, computing it with fn unless it
// was computed at the current version. The version is read before the
// state, so a remembered ranking is never older than its version.
func (c *Catalog) ranking(key string, fn func(st *state) []movierec.ScoredMovie) []movierec.ScoredMovie {
	v := c.top.Load()
	c.rankMu.Lock()
	if c.rankVer != v || c.rankings == nil {
		c.rankVer, c.rankings = v, map[string][]movierec.ScoredMovie{}
	}
	r, ok := c.rankings[key]
	c.rankMu.Unlock()
	if ok {
		return slices.Clone(r)
	}
	r = read(c, fn)
	c.rankMu.Lock()
	if c.rankVer == v && len(c.rankings) < maxRankings {
		c.rankings[key] = r
	}
	c.rankMu.Unlock()
	return slices.Clone(r)
}

// Genres returns a page of genres by name, with movie counts.
func (c *Catalog) Genres(ctx context.Context, offset, limit int) (movierec.Page[movierec.Genre], error) {
	t := trackerOf(ctx)
	return read(c, func(st *state) movierec.Page[movierec.Genre] {
		t.note(st, &pageRead{kind: readGenres})
		return st.genrePage(offset, limit)
	}), nil
}

// Genre returns one genre with its movie count.
func (c *Catalog) Genre(ctx context.Context, id int64) (movierec.Genre, error) {
	t := trackerOf(ctx)
	g, ok := readPair(c, func(st *state) (movierec.Genre, bool) {
		t.note(st, &pageRead{kind: readGenres})
		return st.genre(id)
	})
	if !ok {
		return g, fmt.Errorf("Genre(%d): %w", id, movierec.ErrNotFound)
	}
	return g, nil
}

// Tags returns a page of tags by name (those containing search, when
// given), with the number of movies carrying each.
func (c *Catalog) Tags(ctx context.Context, search string, offset, limit int) (movierec.Page[movierec.Tag], error) {
	t := trackerOf(ctx)
	return read(c, func(st *state) movierec.Page[movierec.Tag] {
		t.note(st, &pageRead{kind: readTags})
		return st.tagPage(search, offset, limit)
	}), nil
}

// Tag returns one tag with its movie count.
func (c *Catalog) Tag(ctx context.Context, id int64) (movierec.Tag, error) {
	tr := trackerOf(ctx)
	t, ok := readPair(c, func(st *state) (movierec.Tag, bool) {
		tr.note(st, &pageRead{kind: readTags})
		return st.tag(id)
	})
	if !ok {
		return t, fmt.Errorf("Tag(%d): %w", id, movierec.ErrNotFound)
	}
	return t, nil
}

// MovieRatingStats summarises a movie's ratings.
func (c *Catalog) MovieRatingStats(ctx context.Context, id int64) (movierec.RatingStats, error) {
	untracked(ctx)
	st, ok := readPair(c, func(st *state) (movierec.RatingStats, bool) {
		e := st.entryByID(id)
		if e == nil {
			return movierec.RatingStats{}, false
		}
		rs := movierec.RatingStats{Count: e.movie.RatingCount, Distribution: distribution(e.dist)}
		if rs.Count > 0 {
			avg := e.movie.AverageRating
			rs.Average = &avg
		}
		return rs, true
	})
	if !ok {
		return st, fmt.Errorf("MovieRatingStats(%d): %w", id, movierec.ErrNotFound)
	}
	return st, nil
}

func readPair[T any](c *Catalog, fn func(st *state) (T, bool)) (T, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return fn(c.st)
}
