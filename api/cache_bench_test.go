package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/observe"
	"github.com/movierec/movierec/storetest"
)

// discardWriter is the cheapest ResponseWriter there is, so in-process
// numbers show the handlers' own cost, not a recorder's.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *discardWriter) reset()                      { clear(w.h); w.status, w.n = 0, 0 }

// warmGzipList is a server in its default configuration (in-process
// cache, metrics, text logs at level) with /api/movies/ already cached,
// and a bare net/http handler that writes the same compressed bytes with
// as many headers.
func warmGzipList(b *testing.B, level slog.Level) (stack, bare http.Handler) {
	s := storetest.OpenSQLite(b)
	if _, err := s.Import(context.Background(), storetest.Fixture(200), nil); err != nil {
		b.Fatal(err)
	}
	c, err := cache.New(cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	opts := api.DefaultOptions()
	opts.Cache, opts.Metrics = c, observe.NewMetrics()
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level}))
	stack = api.New(s, storetest.Accounts(b, s), log, opts).Handler()

	req := httptest.NewRequest(http.MethodGet, "/api/movies/", nil)
	w := httptest.NewRecorder()
	stack.ServeHTTP(w, req) // warm
	if w.Code != http.StatusOK {
		b.Fatalf("warm: %d", w.Code)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	w = httptest.NewRecorder()
	stack.ServeHTTP(w, req)
	if w.Header().Get("Content-Encoding") != "gzip" {
		b.Fatalf("the stack did not compress: %q", w.Header().Get("Content-Encoding"))
	}
	gz := w.Body.Bytes() // the bytes the stack sends
	tag, cacheControl := w.Header().Get("ETag"), w.Header().Get("Cache-Control")
	bare = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Encoding", "gzip")
		h.Set("Content-Length", strconv.Itoa(len(gz)))
		h.Set("Vary", "Accept-Encoding")
		h.Set("Etag", tag)
		h.Set("Cache-Control", cacheControl)
		h.Set("X-Request-Id", "0123456789abcdef")
		h.Set("Server-Timing", `db;dur=0.000;desc="0 queries", app;dur=0.004, cache;desc="hit-local"`)
		w.WriteHeader(http.StatusOK)
		w.Write(gz)
	})
	return stack, bare
}

// BenchmarkWarmGzipList compares a warm cached list page asked for with
// Accept-Encoding: gzip, served by the whole handler stack, with a bare
// net/http handler writing the same compressed bytes, in process and over
// loopback with parallel clients. The "bare" lines report
// stack-of-bare: the stack's throughput as a fraction of bare's.
//
//	go test -run '^$' -bench WarmGzipList -benchmem ./api/
func BenchmarkWarmGzipList(b *testing.B) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		stack, bare := warmGzipList(b, level)
		name := "log=" + level.String()
		b.Run(name+"/inprocess", func(b *testing.B) {
			var stackNs float64
			run := func(b *testing.B, h http.Handler, out *float64) {
				req := httptest.NewRequest(http.MethodGet, "/api/movies/", nil)
				req.Header.Set("Accept-Encoding", "gzip")
				w := &discardWriter{h: http.Header{}}
				b.ReportAllocs()
				start := time.Now()
				for b.Loop() {
					w.reset()
					h.ServeHTTP(w, req)
					if w.status != http.StatusOK || w.h.Get("Content-Encoding") != "gzip" {
						b.Fatalf("%d %q", w.status, w.h.Get("Content-Encoding"))
					}
				}
				if out != nil {
					*out = float64(time.Since(start)) / float64(b.N)
				}
			}
			b.Run("stack", func(b *testing.B) { run(b, stack, &stackNs) })
			b.Run("bare", func(b *testing.B) {
				var bareNs float64
				run(b, bare, &bareNs)
				if stackNs > 0 {
					b.ReportMetric(bareNs/stackNs, "stack-of-bare")
				}
			})
		})
		b.Run(name+"/loopback", func(b *testing.B) {
			var stackRate float64
			run := func(b *testing.B, h http.Handler, rate *float64) {
				ts := httptest.NewServer(h)
				defer ts.Close()
				client := &http.Client{Transport: &http.Transport{DisableCompression: true,
					MaxIdleConnsPerHost: 4 * runtime.GOMAXPROCS(0)}}
				defer client.CloseIdleConnections()
				b.SetParallelism(4)
				b.ReportAllocs()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/movies/", nil)
					req.Header.Set("Accept-Encoding", "gzip")
					for pb.Next() {
						res, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "gzip" {
							b.Errorf("%d %q", res.StatusCode, res.Header.Get("Content-Encoding"))
							return
						}
					}
				})
				*rate = float64(b.N) / time.Since(start).Seconds()
				b.ReportMetric(*rate, "req/s")
			}
			b.Run("stack", func(b *testing.B) { run(b, stack, &stackRate) })
			b.Run("bare", func(b *testing.B) {
				var bareRate float64
				run(b, bare, &bareRate)
				if stackRate > 0 {
					b.ReportMetric(stackRate/bareRate, "stack-of-bare")
				}
			})
		})
	}
}
