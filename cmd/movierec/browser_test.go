package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BrowserEnv forces the browser tests: set (as .ci/run does), a missing
// node, Chromium or playwright-core fails them instead of skipping.
const BrowserEnv = "MOVIEREC_TEST_BROWSER"

// TestDocsPageInBrowser opens /api/docs/ of a real "movierec serve" in
// headless Chromium (scripts/browser/docs-page.js): every operation of
// the schema is rendered, "try it out" gets a 200 from the server, no
// request leaves the server's origin (the page works offline) and the
// console shows no error. MOVIEREC_SCREENSHOTS=DIR saves the page there.
func TestDocsPageInBrowser(t *testing.T) {
	node, script := browserTools(t)
	dir := t.TempDir()
	base := startServe(t, map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(dir, "m.db")})
	args := []string{script, base}
	if shots := os.Getenv("MOVIEREC_SCREENSHOTS"); shots != "" {
		args = append(args, filepath.Join(shots, "api-docs.png"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docs page in Chromium: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// browserTools finds node and a browser test script whose playwright-core
// is installed (npm ci --prefix scripts/browser), and Chromium; without
// them the test skips, unless BrowserEnv is set.
func browserTools(t *testing.T) (node, script string) {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv(BrowserEnv) != "" {
			t.Fatalf("%s is set but %s", BrowserEnv, what)
		}
		t.Skipf("%s (set %s to make this a failure)", what, BrowserEnv)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing("Chromium is not at " + chromium + " (apt-get install chromium)")
	}
	browser, err := filepath.Abs(filepath.Join("..", "..", "scripts", "browser"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(browser, "node_modules", "playwright-core")); err != nil {
		missing("playwright-core is not installed (npm ci --prefix scripts/browser)")
	}
	return node, filepath.Join(browser, "docs-page.js")
}
