package api

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
)

// AccessLog says which requests get an access log line. Whatever the
// mode (except AccessLogOff), 4xx and 5xx answers and slow requests are
// always logged.
type AccessLog int

// Access log modes.
const (
	AccessLogAll    AccessLog = iota // every request
	AccessLogSample                  // one in Options.AccessLogSample ordinary requests
	AccessLogErrors                  // no ordinary requests
	AccessLogOff                     // nothing, not even errors
)

var accessLogNames = [...]string{AccessLogAll: "all", AccessLogSample: "sample", AccessLogErrors: "errors", AccessLogOff: "off"}

func (m AccessLog) String() string {
	if m < 0 || int(m) >= len(accessLogNames) {
		return "AccessLog(" + strconv.Itoa(int(m)) + ")"
	}
	return accessLogNames[m]
}

// ParseAccessLog parses "all", "sample", "errors" or "off"; anything else
// is an error.
func ParseAccessLog(s string) (AccessLog, error) {
	for m, name := range accessLogNames {
		if s == name {
			return AccessLog(m), nil
		}
	}
	return 0, fmt.Errorf("access log %q: want all, sample, errors or off", s)
}

// accessLog decides, per request, whether and at which level the access
// log line is written.
type accessLog struct {
	mode     AccessLog
	every    uint64        // AccessLogSample: log one in every
	slow     time.Duration // 0: no slow rule
	seen     atomic.Uint64 // ordinary requests seen under AccessLogSample
	seenDown atomic.Uint64 // requests refused for an unavailable database
}

func newAccessLog(opts Options) *accessLog {
	a := &accessLog{mode: opts.AccessLog, slow: opts.AccessLogSlow, every: 100}
	if opts.AccessLogSample > 0 {
		a.every = uint64(opts.AccessLogSample)
	}
	return a
}

// decide returns the level of a request's line, and how many requests
// the line stands for (1 unless sampled); ok is false when nothing is
// logged. 5xx answers and slow requests are warnings; 4xx and ordinary
// requests are info. Under sampling the first ordinary request is
// logged, then every every-th. Requests refused because the database
// could not answer (storeDown) are sampled the same way, as warnings,
// under every mode but "all": an outage refuses every request, and one
// line per interval describes it (see Server.storeUnavailable).
func (a *accessLog) decide(status int, took time.Duration, storeDown bool) (level slog.Level, stands uint64, ok bool) {
	switch {
	case a.mode == AccessLogOff:
		return 0, 0, false
	case storeDown && a.mode != AccessLogAll:
		if (a.seenDown.Add(1)-1)%a.every == 0 {
			return slog.LevelWarn, a.every, true
		}
		return 0, 0, false
	case status >= 500, a.slow > 0 && took >= a.slow:
		return slog.LevelWarn, 1, true
	case status >= 400:
		return slog.LevelInfo, 1, true
	case a.mode == AccessLogAll:
		return slog.LevelInfo, 1, true
	case a.mode == AccessLogSample && (a.seen.Add(1)-1)%a.every == 0:
		return slog.LevelInfo, a.every, true
	}
	return 0, 0, false
}

// requestLogHandler adds a request's ID to each record as it is handled.
// slog.Logger.With would format the attribute up front, on every
// request; most requests log nothing.
type requestLogHandler struct {
	slog.Handler
	id string
}

func (h *requestLogHandler) Handle(ctx context.Context, r slog.Record) error {
	// A fresh record: the one passed in may share its attributes with the
	// caller's.
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(slog.String("request_id", h.id))
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return h.Handler.Handle(ctx, out)
}

func (h *requestLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &requestLogHandler{Handler: h.Handler.WithAttrs(attrs), id: h.id}
}

// WithGroup fixes the ID outside the group, where every other line has it.
func (h *requestLogHandler) WithGroup(name string) slog.Handler {
	return h.Handler.WithAttrs([]slog.Attr{slog.String("request_id", h.id)}).WithGroup(name)
}
