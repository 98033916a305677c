package observe

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/movierec/movierec/sqlstore"
)

// Explainer returns the plan of a statement (PostgreSQL's EXPLAIN).
type Explainer func(ctx context.Context, sql string, args []any) (string, error)

// DBObserver implements sqlstore.Observer: it counts statements into the
// request's statistics and the metrics, logs every statement when Debug is
// set, and logs statements slower than Slow with their plan.
type DBObserver struct {
	Metrics *Metrics      // may be nil
	Log     *slog.Logger  // the fallback logger; requests carry their own
	Debug   bool          // log every statement with its duration
	Slow    time.Duration // 0 turns the slow-statement log off
	// Explain, when set, adds the plan to slow-statement logs, at most
	// once per statement shape per ExplainEvery.
	Explain      Explainer
	ExplainEvery time.Duration

	mu        sync.Mutex
	explained map[string]time.Time
}

// Statement records one statement (sqlstore.Observer).
func (o *DBObserver) Statement(ctx context.Context, sql string, args []any, took time.Duration, err error) {
	if st := Stats(ctx); st != nil {
		st.add(took)
	}
	kind := statementKind(sql)
	if o.Metrics != nil {
		o.Metrics.QueryDuration.WithLabelValues(kind).Observe(took.Seconds())
		if err != nil {
			o.Metrics.QueryErrors.WithLabelValues(kind).Inc()
		}
	}
	log := Logger(ctx, o.Log)
	if o.Debug {
		log.LogAttrs(ctx, slog.LevelDebug, "sql", slog.String("statement", Shape(sql)), slog.Int("args", len(args)),
			slog.Duration("took", took), slog.Any("err", err))
	}
	if o.Slow > 0 && took >= o.Slow {
		attrs := []slog.Attr{slog.String("statement", clip(Shape(sql), maxLoggedStatement)), slog.Int("args", len(args)),
			slog.Duration("took", took)}
		if plan, ok := o.plan(ctx, sql, args); ok {
			attrs = append(attrs, slog.String("plan", clip(plan, maxLoggedPlan)))
		}
		log.LogAttrs(ctx, slog.LevelWarn, "slow statement", attrs...)
	}
}

// Slow-statement log lines stay bounded whatever the statement: its
// shape and its plan are cut to these many bytes.
const (
	maxLoggedStatement = 1000
	maxLoggedPlan      = 2000
)

// clip cuts s to at most n bytes (at a rune boundary), saying how much
// was left out.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + strconv.Itoa(len(s)-cut) + " more bytes)"
}

// plan explains sql unless its shape was explained recently.
func (o *DBObserver) plan(ctx context.Context, sql string, args []any) (string, bool) {
	if o.Explain == nil || !strings.HasPrefix(statementKind(sql), "select") {
		return "", false
	}
	shape := Shape(sql)
	now := time.Now()
	o.mu.Lock()
	if o.explained == nil {
		o.explained = map[string]time.Time{}
	}
	every := o.ExplainEvery
	if every <= 0 {
		every = 10 * time.Minute
	}
	if last, ok := o.explained[shape]; ok && now.Sub(last) < every {
		o.mu.Unlock()
		return "", false
	}
	o.explained[shape] = now
	o.mu.Unlock()
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	plan, err := o.Explain(ectx, sql, args)
	if err != nil {
		return "EXPLAIN failed: " + err.Error(), true
	}
	return plan, true
}

var (
	spaces   = regexp.MustCompile(`\s+`)
	inParams = regexp.MustCompile(`\$\d+(\s*,\s*\$\d+)+`)
)

// Shape normalises a statement for logs and for grouping: whitespace
// collapsed, placeholder lists folded ("IN ($1, $2, $3)" → "IN ($N...)").
// Statements carry no values, so shapes never leak parameters.
func Shape(sql string) string {
	s := strings.TrimSpace(spaces.ReplaceAllString(sql, " "))
	return inParams.ReplaceAllString(s, "$$N...")
}

// statementKind is the metric label of a statement.
func statementKind(sql string) string {
	s := strings.TrimSpace(sql)
	word, _, _ := strings.Cut(s, " ")
	switch w := strings.ToLower(word); w {
	case "select", "insert", "update", "delete", "copy":
		return w
	case "with":
		return "select"
	}
	return "other"
}

// Explain returns an Explainer running PostgreSQL's EXPLAIN (without
// ANALYZE: the statement is not run again) on db, which should bypass the
// observer so the plan query does not report itself.
func Explain(db sqlstore.DB) Explainer {
	return func(ctx context.Context, sql string, args []any) (string, error) {
		rows, err := db.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return "", err
			}
			lines = append(lines, line)
		}
		return strings.Join(lines, "\n"), rows.Err()
	}
}
