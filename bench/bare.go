package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// BarePage is the one answer the bare baseline repeats: a warm list page's
// bytes, uncompressed and gzip-compressed, as movierec sent them.
type BarePage struct {
	ContentType string
	Plain, Gzip []byte
}

// FetchBarePage asks url for its answer twice, without and with
// "Accept-Encoding: gzip", and keeps both bodies exactly as sent.
func FetchBarePage(ctx context.Context, url string) (BarePage, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	fetch := func(encoding string) ([]byte, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, "", err
		}
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, "", err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, "", fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if got := resp.Header.Get("Content-Encoding"); got != encoding {
			return nil, "", fmt.Errorf("GET %s with Accept-Encoding %q: answered with Content-Encoding %q", url, encoding, got)
		}
		return body, resp.Header.Get("Content-Type"), nil
	}
	plain, ctype, err := fetch("")
	if err != nil {
		return BarePage{}, err
	}
	gz, _, err := fetch("gzip")
	if err != nil {
		return BarePage{}, err
	}
	return BarePage{ContentType: ctype, Plain: plain, Gzip: gz}, nil
}

// ServeHTTP writes the page: compressed when the request accepts gzip.
// Nothing else happens per request, which is the point of the baseline.
func (p BarePage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := p.Plain
	h := w.Header()
	h.Set("Content-Type", p.ContentType)
	h.Set("Vary", "Accept-Encoding")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		body = p.Gzip
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// ServeBare fetches the page at from and serves it on addr until ctx ends.
// `movierec bench` runs it in a process of its own, so the baseline gets the
// machine the way a movierec server does.
func ServeBare(ctx context.Context, addr, from string) error {
	page, err := FetchBarePage(ctx, from)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: page, ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
