package bench

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// writeCharts draws the report's charts as SVG files in dir and returns
// their names: latency percentiles per endpoint, throughput against
// connections, and mixed-load throughput against the write share.
func (rep *Report) writeCharts(dir string) ([]string, error) {
	var names []string
	save := func(p *plot.Plot, name string, w vg.Length) error {
		if err := p.Save(w, 5*vg.Inch, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("chart %s: %w", name, err)
		}
		names = append(names, name)
		return nil
	}
	if p := rep.latencyChart(); p != nil {
		if err := save(p, "latency.svg", 10*vg.Inch); err != nil {
			return nil, err
		}
	}
	if p := rep.throughputChart(); p != nil {
		if err := save(p, "throughput.svg", 10*vg.Inch); err != nil {
			return nil, err
		}
	}
	if p := rep.mixedChart(); p != nil {
		if err := save(p, "mixed.svg", 8*vg.Inch); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// connCounts lists the endpoint runs' connection counts, ascending.
func (rep *Report) connCounts() []int {
	var cs []int
	for _, r := range rep.Endpoints {
		if !slices.Contains(cs, r.Conns) {
			cs = append(cs, r.Conns)
		}
	}
	slices.Sort(cs)
	return cs
}

// scenarioNames lists the endpoint scenarios in the order they ran.
func (rep *Report) scenarioNames() []string {
	var names []string
	for _, r := range rep.Endpoints {
		if !slices.Contains(names, r.Scenario.Name) {
			names = append(names, r.Scenario.Name)
		}
	}
	return names
}

// positive keeps a value drawable on a log axis.
func positive(v float64) float64 { return math.Max(v, 1e-3) }

// latencyChart: p50, p95 and p99 of every endpoint at 50 connections (or
// the middle count run), on a log axis in milliseconds.
func (rep *Report) latencyChart() *plot.Plot {
	cs := rep.connCounts()
	if len(cs) == 0 {
		return nil
	}
	conns := cs[len(cs)/2]
	if slices.Contains(cs, 50) {
		conns = 50
	}
	names := rep.scenarioNames()
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Latency per endpoint at %d connections", conns)
	p.Y.Label.Text = "milliseconds (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 5
	p.X.Tick.Label.XAlign = draw.XRight
	p.Add(plotter.NewGrid())
	for i, q := range []struct {
		name string
		of   func(Result) time.Duration
	}{
		{"p50", func(r Result) time.Duration { return r.P50 }},
		{"p95", func(r Result) time.Duration { return r.P95 }},
		{"p99", func(r Result) time.Duration { return r.P99 }},
	} {
		var pts plotter.XYs
		for x, name := range names {
			if r, ok := find(rep.Endpoints, name, conns); ok {
				pts = append(pts, plotter.XY{X: float64(x), Y: positive(float64(q.of(r)) / float64(time.Millisecond))})
			}
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			continue
		}
		line.Color = plotutil.Color(i)
		line.Dashes = plotutil.Dashes(i)
		points.Color = plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(q.name, line, points)
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(8)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	return p
}

// throughputChart: each endpoint's requests per second against the
// connection count, both on log axes, with the bare baseline.
func (rep *Report) throughputChart() *plot.Plot {
	cs := rep.connCounts()
	if len(cs) < 2 {
		return nil
	}
	p := plot.New()
	p.Title.Text = "Throughput against connections"
	p.X.Label.Text = "connections (log scale)"
	p.Y.Label.Text = "requests per second (log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = plot.ConstantTicks(ticksOf(cs))
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	series := append([]string{"bare-gzip"}, rep.scenarioNames()...)
	for i, name := range series {
		var pts plotter.XYs
		for _, c := range cs {
			from := rep.Endpoints
			if name == "bare-gzip" {
				from = rep.Bare
			}
			var sum float64
			var n int
			for _, r := range from {
				if r.Scenario.Name == name && r.Conns == c {
					sum += r.RPS
					n++
				}
			}
			if n > 0 {
				pts = append(pts, plotter.XY{X: float64(c), Y: positive(sum / float64(n))})
			}
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			continue
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		line.Dashes = plotutil.Dashes(i / 7)
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(name, line, points)
	}
	// The legend goes right of the data: the X axis runs on to five times
	// the largest count, with ticks only where there are runs.
	p.X.Min, p.X.Max = float64(cs[0])*0.8, float64(cs[len(cs)-1])*5
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	return p
}

func ticksOf(cs []int) []plot.Tick {
	ts := make([]plot.Tick, len(cs))
	for i, c := range cs {
		ts[i] = plot.Tick{Value: float64(c), Label: fmt.Sprint(c)}
	}
	return ts
}

// mixedChart: the mixed workload's throughput for each write share.
func (rep *Report) mixedChart() *plot.Plot {
	if len(rep.Mixed) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Mixed workload, %d connections", rep.Mixed[0].Conns)
	p.Y.Label.Text = "requests per second"
	var vals plotter.Values
	var labels []string
	for _, r := range rep.Mixed {
		vals = append(vals, r.RPS)
		label := r.Scenario.Name[len("mixed-"):] + " writes"
		if r.ReadOnlyRatio > 0 && r.ReadOnlyRatio != 1 {
			label += fmt.Sprintf(" (%.2f×)", r.ReadOnlyRatio)
		}
		labels = append(labels, label)
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(40))
	if err != nil {
		return nil
	}
	bars.Color = plotutil.Color(0)
	p.Add(plotter.NewGrid(), bars)
	p.NominalX(labels...)
	p.Y.Min = 0
	p.X.Min, p.X.Max = -0.6, float64(len(vals))-0.4
	return p
}
