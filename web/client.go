package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// apiError is the API's error body.
type apiError struct {
	Status  int
	Code    string              `json:"code"`
	Message string              `json:"message"`
	Details map[string][]string `json:"details"`
}

func (e *apiError) Error() string { return e.Message }

// Lines are the error's message and its field details, for the page.
func (e *apiError) Lines() []string {
	lines := []string{e.Message}
	fields := make([]string, 0, len(e.Details))
	for f := range e.Details {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		for _, m := range e.Details[f] {
			lines = append(lines, strings.ReplaceAll(f, "_", " ")+": "+m)
		}
	}
	return lines
}

// recorder keeps the API's answer to an in-process call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// call sends one request to the API handler in process, on behalf of the
// visitor's request r (its address and host, so throttles and links are
// theirs), with token as the bearer (none when ""), body as JSON (none
// when nil), and decodes a 2xx answer into out (when non-nil). A 4xx or
// 5xx comes back as *apiError.
func (a *App) call(ctx context.Context, r *http.Request, method, path string, q url.Values, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return err
	}
	req.Host, req.RemoteAddr, req.TLS = r.Host, r.RemoteAddr, r.TLS
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := &recorder{header: http.Header{}}
	a.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 400 {
		var eb struct {
			Error apiError `json:"error"`
		}
		if err := json.Unmarshal(rec.body.Bytes(), &eb); err != nil || eb.Error.Message == "" {
			return &apiError{Status: rec.status, Code: "INTERNAL_ERROR", Message: fmt.Sprintf("The server answered %d.", rec.status)}
		}
		eb.Error.Status = rec.status
		return &eb.Error
	}
	if out != nil && rec.status != http.StatusNoContent {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return fmt.Errorf("web: decoding %s %s: %w", method, path, err)
		}
	}
	return nil
}
