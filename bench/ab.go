package bench

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ABResult is the seed guide's load test: `ab -n 1000 -c 10` on the movie
// list (ApacheBench: a new connection for every request, no compression).
type ABResult struct {
	// Command is what ran.
	Command string
	// Tool is "ab", or "vegeta" when ab is not installed (same shape: 1,000
	// requests, 10 at a time, a new connection each, no compression).
	Tool                 string
	Requests, Failed     int
	RPS                  float64
	P50, P95, P99, Max   time.Duration
	Non2xx               int
	percentileResolution string
}

// runAB runs the seed's command against url with ab when it is installed,
// else the same load with vegeta.
func runAB(ctx context.Context, url string, seed uint64) (ABResult, error) {
	if path, err := exec.LookPath("ab"); err == nil {
		out, err := exec.CommandContext(ctx, path, "-n", "1000", "-c", "10", url).CombinedOutput()
		if err != nil {
			return ABResult{}, fmt.Errorf("ab -n 1000 -c 10 %s: %v\n%s", url, err, out)
		}
		res, err := parseAB(string(out))
		if err != nil {
			return ABResult{}, err
		}
		res.Command = "ab -n 1000 -c 10 " + url
		return res, nil
	}
	gen := func(*rand.Rand) Request { return Request{URL: url} }
	run := attack(ctx, "ab", gen, loadSpec{conns: 10, requests: 1000, noKeepAlive: true}, seed, nil)
	return ABResult{
		Command:  "vegeta: 1000 requests, 10 concurrent, no keep-alive, GET " + url,
		Tool:     "vegeta (ab is not installed: apt-get install apache2-utils)",
		Requests: int(run.Requests),
		Failed:   int(run.Errors),
		RPS:      run.RPS,
		P50:      run.P50, P95: run.P95, P99: run.P99, Max: run.Max,
	}, nil
}

// parseAB reads ApacheBench's report: counts, requests per second and the
// percentile table (whole milliseconds).
func parseAB(out string) (ABResult, error) {
	res := ABResult{Tool: "ab", percentileResolution: "1 ms"}
	var seen int
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, ":")
		if ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				continue
			}
			switch k {
			case "Complete requests":
				res.Requests, _ = strconv.Atoi(f[0])
				seen++
			case "Failed requests":
				res.Failed, _ = strconv.Atoi(f[0])
				seen++
			case "Non-2xx responses":
				res.Non2xx, _ = strconv.Atoi(f[0])
			case "Requests per second":
				res.RPS, _ = strconv.ParseFloat(f[0], 64)
				seen++
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 && strings.HasSuffix(f[0], "%") {
			msv, err := strconv.Atoi(f[1])
			if err != nil {
				continue
			}
			d := time.Duration(msv) * time.Millisecond
			switch f[0] {
			case "50%":
				res.P50 = d
				seen++
			case "95%":
				res.P95 = d
			case "99%":
				res.P99 = d
				seen++
			case "100%":
				res.Max = d
			}
		}
	}
	if seen < 5 {
		return res, fmt.Errorf("bench: could not read ab's report:\n%s", out)
	}
	return res, nil
}
