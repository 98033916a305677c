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
func TestDocsPageInBrowser(t *testing.T) { runBrowserScript(t, "docs-page.js", "api-docs.png") }

// TestWebAppInBrowser: in headless Chromium, a new visitor of a real
// "movierec serve" signs up, searches, opens a movie, rates it and sees
// "Recommended for you" change (scripts/browser/webapp.js); every page
// passes axe-core's WCAG 2 A/AA rules, logs no console error and weighs
// under 100 KB of HTML and CSS.
func TestWebAppInBrowser(t *testing.T) { runBrowserScript(t, "webapp.js", "webapp.png") }

// runBrowserScript runs a script of scripts/browser against a fresh
// "movierec serve" on the embedded database (a generated catalog), saving a
// screenshot as shot under MOVIEREC_SCREENSHOTS when that is set.
func runBrowserScript(t *testing.T, script, shot string) {
	node, dir := browserTools(t)
	base := startServe(t, map[string]string{"DATABASE_URL": smallCatalog(t, 7), "MOVIEREC_DEMO_DATA": "never"})
	args := []string{filepath.Join(dir, script), base}
	if shots := os.Getenv("MOVIEREC_SCREENSHOTS"); shots != "" {
		args = append(args, filepath.Join(shots, shot))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s in Chromium: %v\n%s", script, err, out)
	}
	t.Logf("%s", out)
}

// browserTools finds node, the browser scripts' folder with its
// playwright-core and axe-core installed (npm ci --prefix scripts/browser),
// and Chromium; without them the test skips, unless BrowserEnv is set.
func browserTools(t *testing.T) (node, dir string) {
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
	for _, mod := range []string{"playwright-core", "axe-core"} {
		if _, err := os.Stat(filepath.Join(browser, "node_modules", mod)); err != nil {
			missing(mod + " is not installed (npm ci --prefix scripts/browser)")
		}
	}
	return node, browser
}
