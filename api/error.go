package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/observe"
)

// statusOf maps each error code to its HTTP status. It is the only place
// where domain errors meet HTTP.
var statusOf = map[string]int{
	movierec.EINVALID:      http.StatusBadRequest,
	movierec.EUNAUTHORIZED: http.StatusUnauthorized,
	movierec.EFORBIDDEN:    http.StatusForbidden,
	movierec.ENOTFOUND:     http.StatusNotFound,
	movierec.ECONFLICT:     http.StatusConflict,
	movierec.EUNAVAILABLE:  http.StatusServiceUnavailable,
	movierec.EINTERNAL:     http.StatusInternalServerError,
	codeMethodNotAllowed:   http.StatusMethodNotAllowed,
	codePayloadTooLarge:    http.StatusRequestEntityTooLarge,
	codeUnsupportedMedia:   http.StatusUnsupportedMediaType,
	codeThrottled:          http.StatusTooManyRequests,
}

// codeMethodNotAllowed is produced by the HTTP layer only.
const codeMethodNotAllowed = "METHOD_NOT_ALLOWED"

// errorBody is the contract's error shape.
type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Details is always an object: field → messages, empty when the
	// error concerns no field.
	Details map[string][]string `json:"details"`
}

// writeError writes err as the contract's error body with the status its
// code maps to. Internal errors are logged and never shown to the client.
// statusClientClosed is the status recorded for a request whose client
// hung up before its answer (nginx's 499, "client closed request").
const statusClientClosed = 499

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := movierec.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if code == movierec.EINTERNAL && errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client hung up: nobody reads this answer, and it is not a
		// server fault. (A write that failed this way rolled back.) The
		// access log and the metrics record nginx's 499 instead of a 500.
		status = statusClientClosed
		observe.Logger(r.Context(), s.log).DebugContext(r.Context(), "client went away", slog.String("path", r.URL.Path))
	} else if errors.Is(err, movierec.ErrStoreUnavailable) {
		s.storeUnavailable(r, err)
	} else if code == movierec.EINTERNAL {
		observe.Logger(r.Context(), s.log).ErrorContext(r.Context(), "internal error", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="movierec"`)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(5))
	}
	details := movierec.ErrorDetails(err)
	if details == nil {
		details = map[string][]string{}
	}
	writeJSON(w, status, errorBody{Error: errorJSON{Code: code, Message: movierec.ErrorMessage(err), Details: details}})
}

// unavailableLogEvery is the longest a database outage goes unlogged:
// every failing request counts in movierec_db_unavailable_total, and one
// line per interval says how many there were.
const unavailableLogEvery = 10 * time.Second

// storeUnavailable records a request refused because the database could
// not answer.
func (s *Server) storeUnavailable(r *http.Request, err error) {
	if st := observe.Stats(r.Context()); st != nil {
		st.SetStoreUnavailable() // its access line is sampled (see accessLog.decide)
	}
	if s.metrics != nil {
		s.metrics.DBUnavailable.Inc()
	}
	if ok, more := s.unavailableLog.Allow(time.Now()); ok {
		observe.Logger(r.Context(), s.log).WarnContext(r.Context(), "database unavailable: answering 503",
			slog.String("path", r.URL.Path), slog.Int("more_since_last_line", more), slog.Any("err", err))
	}
}
