// Command bare is the baseline of the load tests: a minimal net/http server
// that fetches one URL once at start (normally movierec's warm list page,
// asked for with "Accept-Encoding: gzip") and then answers every request with
// exactly those bytes and the same Content-Type and Content-Encoding.
//
// Comparing movierec's throughput on that URL with this server's, under the
// same wrk load, shows what share of the bare net/http ceiling the API's
// routing, caching, metrics and logging leave. See ../README.md.
//
//	bare -url http://127.0.0.1:18080/api/movies/ -addr 127.0.0.1:18090
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:18080/api/movies/", "URL to fetch once and then serve")
	addr := flag.String("addr", "127.0.0.1:18090", "listen address (loopback)")
	encoding := flag.String("accept-encoding", "gzip", `Accept-Encoding sent when fetching ("" sends none)`)
	lifetime := flag.Duration("max-lifetime", 30*time.Minute, "exit after this long, whatever happens")
	flag.Parse()
	if err := run(*url, *addr, *encoding, *lifetime); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

// page is the one response the server repeats.
type page struct {
	contentType     string
	contentEncoding string
	body            []byte
}

func fetch(url, encoding string) (page, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return page{}, err
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	// DisableCompression keeps the body exactly as sent (still gzipped).
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return page{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return page{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return page{
		contentType:     resp.Header.Get("Content-Type"),
		contentEncoding: resp.Header.Get("Content-Encoding"),
		body:            body,
	}, nil
}

func run(url, addr, encoding string, lifetime time.Duration) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-addr %s: only loopback addresses", addr)
	}
	p, err := fetch(url, encoding)
	if err != nil {
		return err
	}
	length := strconv.Itoa(len(p.body))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if p.contentType != "" {
			h["Content-Type"] = []string{p.contentType}
		}
		if p.contentEncoding != "" {
			h["Content-Encoding"] = []string{p.contentEncoding}
		}
		h["Content-Length"] = []string{length}
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(p.body)
		}
	})
	srv := &http.Server{Addr: addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("bare: serving %d bytes (Content-Type %q, Content-Encoding %q) from %s on http://%s/",
		len(p.body), p.contentType, p.contentEncoding, url, ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, lifetime)
	defer cancel()
	go func() {
		<-ctx.Done()
		shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
