package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Check is one target of the run, met or not.
type Check struct {
	What, Want, Got string
	Pass            bool
}

// guardFloors are the short run's floors: a scenario's share of the bare
// baseline in the same run, by server CPU per answer (by throughput when
// the servers are not the bench's own processes, which is more lenient:
// the load generator's own cost narrows throughput ratios). They sit at
// about a quarter of what this machine measures, so only gross
// regressions trip them (see docs/benchmarks/README.md).
var guardFloors = map[string]float64{
	"list-warm":       0.25,
	"list-warm-plain": 0.25,
	"list":            0.06,
	"detail":          0.12,
	"similar":         0.07,
	"recommendations": 0.02,
	"rate":            0.02,
	"mixed-0%":        0.15,
	"mixed-5%":        0.045,
}

// find returns the result of scenario name at conns connections.
func find(rs []Result, name string, conns int) (Result, bool) {
	for _, r := range rs {
		if r.Scenario.Name == name && (conns == 0 || r.Conns == conns) {
			return r, true
		}
	}
	return Result{}, false
}

// checks holds the report against the and the seed's targets (full
// run) or against the guard's floors (short run).
func checks(rep *Report, o Options) []Check {
	var out []Check
	var requests, errs uint64
	var bad []string
	for _, group := range [][]Result{rep.Endpoints, rep.Mixed, rep.Bare} {
		for _, r := range group {
			requests += r.Requests
			errs += r.Errors
			if r.Errors > 0 {
				bad = append(bad, fmt.Sprintf("%s c=%d: %s", r.Scenario.Name, r.Conns, codeList(r.Codes)))
			}
		}
	}
	if rep.AB != nil {
		requests += uint64(rep.AB.Requests)
		errs += uint64(rep.AB.Failed + rep.AB.Non2xx)
	}
	got := fmt.Sprintf("%d errors in %d requests", errs, requests)
	if len(bad) > 0 {
		got += " (" + strings.Join(bad, "; ") + ")"
	}
	out = append(out, Check{What: "errors, every run", Want: "0", Got: got, Pass: errs == 0 && requests > 0})

	if o.Short {
		for _, r := range append(append([]Result{}, rep.Endpoints...), rep.Mixed...) {
			floor, ok := guardFloors[r.Scenario.Name]
			if !ok {
				continue
			}
			c := Check{
				What: fmt.Sprintf("%s at %d connections, share of bare by throughput", r.Scenario.Name, r.Conns),
				Want: fmt.Sprintf("≥ %.3g", floor),
				Got:  fmt.Sprintf("%.3f (%.0f of %.0f req/s)", r.Ratio, r.RPS, r.Baseline),
				Pass: r.Ratio >= floor,
			}
			if r.CPURatio > 0 {
				c.What = fmt.Sprintf("%s at %d connections, share of bare by server CPU per answer", r.Scenario.Name, r.Conns)
				c.Got = fmt.Sprintf("%.3f (%s per answer; %.0f req/s, %.3f of bare)", r.CPURatio, us(r.CPUPerRequest), r.RPS, r.Ratio)
				c.Pass = r.CPURatio >= floor
			}
			out = append(out, c)
		}
		return out
	}

	if ab := rep.AB; ab != nil {
		out = append(out, Check{What: "the seed's `ab -n 1000 -c 10` on the list, p99", Want: "< 5 ms",
			Got: fmt.Sprintf("%s (%.0f req/s, %d failed)", ms(ab.P99), ab.RPS, ab.Failed+ab.Non2xx), Pass: ab.P99 < 5*time.Millisecond && ab.Failed+ab.Non2xx == 0})
	}
	for _, name := range []string{"list-warm", "list-warm-plain"} {
		enc := "gzip"
		if name == "list-warm-plain" {
			enc = "plain"
		}
		for _, byCPU := range []bool{false, true} {
			lowest, at, seen := 0.0, 0, false
			for _, r := range rep.Endpoints {
				v := r.Ratio
				if byCPU {
					v = r.CPURatio
				}
				if r.Scenario.Name == name && v > 0 && (!seen || v < lowest) {
					lowest, at, seen = v, r.Conns, true
				}
			}
			if !seen {
				continue
			}
			what := "warm list, " + enc + ", share of bare by throughput (lowest over connection counts)"
			if byCPU {
				what = "warm list, " + enc + ", share of bare by server CPU per answer (lowest)"
			}
			out = append(out, Check{What: what, Want: "≥ 0.50", Got: fmt.Sprintf("%.2f (at %d connections)", lowest, at), Pass: lowest >= 0.5})
		}
	}
	p99 := func(what, name string, conns int, limit time.Duration, note string) {
		if r, ok := find(rep.Endpoints, name, conns); ok {
			out = append(out, Check{What: what, Want: "< " + ms(limit) + note, Got: fmt.Sprintf("%s (%.0f req/s)", ms(r.P99), r.RPS), Pass: r.P99 < limit && r.Errors == 0})
		}
	}
	note := ""
	if !rep.Postgres {
		note = " (set for PostgreSQL; this run is SQLite)"
	}
	p99("list, cache off, p99 at 50 connections", "list", 50, 50*time.Millisecond, note)
	p99("recommendations, cache off, p99 at 50 connections", "recommendations", 50, 20*time.Millisecond, "")
	p99("login p99 at 10 connections", "login", 10, 200*time.Millisecond, "")
	// Issue 10's serving targets, set for a MovieLens-25M-size catalog.
	p99("similar movies, cache off, p99 at 10 connections", "similar", 10, 10*time.Millisecond, " (set at 25M ratings)")
	p99("similar movies of any movie, cache off, p99 at 10 connections", "similar-any", 10, 10*time.Millisecond, " (set at 25M ratings)")
	p99("a data-set user's recommendations, cache off, p99 at 10 connections", "recommendations-data", 10, 20*time.Millisecond, " (set at 25M ratings)")
	for _, r := range rep.Mixed {
		out = append(out, Check{What: fmt.Sprintf("%s at %d connections, p99", r.Scenario.Name, r.Conns), Want: "< 100 ms",
			Got: fmt.Sprintf("%s (%.0f req/s)", ms(r.P99), r.RPS), Pass: r.P99 < 100*time.Millisecond && r.Errors == 0})
	}
	if len(rep.Mixed) > 0 {
		lowest := rep.Mixed[0]
		for _, r := range rep.Mixed {
			if r.RPS < lowest.RPS {
				lowest = r
			}
		}
		out = append(out,
			Check{What: "seed: 100+ concurrent users (mixed workload, every write share)", Want: "≥ 100 connections, 0 errors",
				Got: fmt.Sprintf("%d connections", lowest.Conns), Pass: lowest.Conns >= 100 && errs == 0},
			Check{What: "seed: 1000+ requests per minute (slowest mixed run)", Want: "≥ 1,000/min",
				Got: fmt.Sprintf("%.0f/min (%s)", lowest.RPS*60, lowest.Scenario.Name), Pass: lowest.RPS*60 >= 1000})
	}
	return out
}

// us renders a duration in microseconds.
func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

// cpuCell renders a result's server CPU per answer and its share of bare.
func cpuCell(r Result) (string, string) {
	if r.CPUPerRequest <= 0 {
		return "—", "—"
	}
	ratio := "—"
	if r.CPURatio > 0 {
		ratio = fmt.Sprintf("%.3f", r.CPURatio)
	}
	return us(r.CPUPerRequest), ratio
}

// ms renders a duration in milliseconds with sensible precision.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func passMark(ok bool) string {
	if ok {
		return "pass"
	}
	return "**FAIL**"
}

// WriteMarkdown writes the report as Markdown; charts, when given, are the
// SVG files (relative to the Markdown file) to show.
func (rep *Report) WriteMarkdown(w io.Writer, command string, charts []string) error {
	var b strings.Builder
	title := "movierec bench"
	if rep.Short {
		title += " (short: regression guard)"
	}
	fmt.Fprintf(&b, "# %s — %s\n\n", title, rep.Started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: %s\n- command: `%s`\n- took: %s\n", rep.Machine, command, rep.Took.Round(time.Second))
	for _, s := range rep.Setup {
		fmt.Fprintf(&b, "- %s\n", s)
	}
	b.WriteString("- load generator: vegeta (github.com/tsenart/vegeta) as a library, closed loop: each connection sends its next request when the previous answer is read; the first tenth of each run (at most 1 s) is not counted\n")
	b.WriteString("- baseline: a bare `net/http` handler in a process of its own writing the warm list page's bytes (plain or gzip); it runs before and after every group of scenarios, and \"× bare\" is a run's throughput over the baseline's around it, same connections and encoding\n\n")

	b.WriteString("## Targets\n\n| target | want | measured | |\n|---|---|---|---|\n")
	for _, c := range rep.Checks {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.What, c.Want, c.Got, passMark(c.Pass))
	}
	b.WriteString("\n")

	if ab := rep.AB; ab != nil {
		fmt.Fprintf(&b, "## The seed guide's load test\n\n`%s` (%s; a new connection per request, no compression)\n\n", ab.Command, ab.Tool)
		b.WriteString("| requests | failed | req/s | p50 | p95 | p99 | max |\n|---|---|---|---|---|---|---|\n")
		fmt.Fprintf(&b, "| %d | %d | %.0f | %s | %s | %s | %s |\n\n", ab.Requests, ab.Failed+ab.Non2xx, ab.RPS, ms(ab.P50), ms(ab.P95), ms(ab.P99), ms(ab.Max))
		if ab.percentileResolution != "" {
			fmt.Fprintf(&b, "ab reports percentiles in whole milliseconds.\n\n")
		}
	}

	if len(rep.Endpoints) > 0 {
		b.WriteString("## Endpoints\n\np99 is held to the seed guide's target for the endpoint.\n")
		conns := -1
		for _, r := range rep.Endpoints {
			if r.Conns != conns {
				conns = r.Conns
				fmt.Fprintf(&b, "\n### %d connections\n\n| scenario | req/s | × bare | p50 | p95 | p99 | max | errors | server CPU per answer | × bare by CPU | seed target (p99) | |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n", conns)
			}
			target, mark := "—", ""
			if r.Scenario.Target.P99 > 0 {
				target = r.Scenario.Target.Name
				mark = passMark(float64(r.P99)/float64(time.Millisecond) < r.Scenario.Target.P99 && r.Errors == 0)
			}
			cpu, cpuRatio := cpuCell(r)
			fmt.Fprintf(&b, "| %s | %.0f | %.3f | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n", r.Scenario.Name, r.RPS, r.Ratio, ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), r.Errors, cpu, cpuRatio, target, mark)
		}
		b.WriteString("\n")
	}
	if len(rep.Mixed) > 0 {
		b.WriteString("## Mixed workload (people using the site)\n\n| write share | connections | req/s | × read-only | × bare | p50 | p95 | p99 | max | errors | server CPU per answer | × bare by CPU |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rep.Mixed {
			ro := "—"
			if r.ReadOnlyRatio > 0 {
				ro = fmt.Sprintf("%.2f", r.ReadOnlyRatio)
			}
			cpu, cpuRatio := cpuCell(r)
			fmt.Fprintf(&b, "| %s | %d | %.0f | %s | %.3f | %s | %s | %s | %s | %d | %s | %s |\n", strings.TrimPrefix(r.Scenario.Name, "mixed-"), r.Conns, r.RPS, ro, r.Ratio, ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), r.Errors, cpu, cpuRatio)
		}
		b.WriteString("\nThe mix (share of reads): list pages 22%, filtered lists 8%, movie details 25%, search 10%, popular/trending/top-rated 8%, similar movies 8%, the user's recommendations 7%, a genre's movies 7%, a movie's rating stats 5%; a request is a rating write with the write share's probability. Reads ask for gzip.\n\n")
	}
	if len(rep.Bare) > 0 {
		b.WriteString("## Baseline runs\n\n| connections | encoding | req/s (each run, in order) | server CPU per answer |\n|---|---|---|---|\n")
		type key struct {
			conns int
			name  string
		}
		var order []key
		runs, cpus := map[key][]string{}, map[key][]string{}
		for _, r := range rep.Bare {
			k := key{r.Conns, r.Scenario.Name}
			if _, ok := runs[k]; !ok {
				order = append(order, k)
			}
			runs[k] = append(runs[k], fmt.Sprintf("%.0f", r.RPS))
			cpu, _ := cpuCell(r)
			cpus[k] = append(cpus[k], cpu)
		}
		for _, k := range order {
			fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", k.conns, strings.TrimPrefix(k.name, "bare-"), strings.Join(runs[k], ", "), strings.Join(cpus[k], ", "))
		}
		b.WriteString("\n")
	}
	if len(charts) > 0 {
		b.WriteString("## Charts\n\n")
		for _, c := range charts {
			fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(filepath.Base(c), ".svg"), c)
		}
	}
	b.WriteString("## Scenarios\n\n| scenario | what |\n|---|---|\n")
	seen := map[string]bool{}
	for _, r := range append(append([]Result{}, rep.Endpoints...), rep.Mixed...) {
		if !seen[r.Scenario.Name] {
			seen[r.Scenario.Name] = true
			fmt.Fprintf(&b, "| %s | %s |\n", r.Scenario.Name, r.Scenario.About)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteFiles writes report.md, results.json and the charts into dir.
func (rep *Report) WriteFiles(dir, command string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	charts, err := rep.writeCharts(dir)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return err
	}
	if err := rep.WriteMarkdown(f, command, charts); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
