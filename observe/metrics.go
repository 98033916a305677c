package observe

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/movierec/movierec/sqlstore"
)

// Metrics holds movierec's Prometheus collectors on a registry of its own
// (with the process and Go runtime collectors).
type Metrics struct {
	Registry          *prometheus.Registry
	RequestDuration   *prometheus.HistogramVec // route, method, status class
	InFlight          prometheus.Gauge
	QueriesPerRequest *prometheus.HistogramVec // route
	QueryDuration     *prometheus.HistogramVec // statement kind
	QueryErrors       *prometheus.CounterVec   // statement kind
	CacheRequests     *prometheus.CounterVec   // policy, result (hit, miss, error)
	RedisErrors       prometheus.Counter
	DBUnavailable     prometheus.Counter // requests answered 503 because the database could not answer
}

// NewMetrics registers every collector on a fresh registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	m := &Metrics{
		Registry: reg,
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "movierec", Name: "http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern, method and status class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "status"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "movierec", Name: "http_requests_in_flight", Help: "Requests being served.",
		}),
		QueriesPerRequest: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "movierec", Name: "db_queries_per_request",
			Help:    "Database statements run per HTTP request, by route pattern.",
			Buckets: []float64{0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50},
		}, []string{"route"}),
		QueryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "movierec", Name: "db_query_duration_seconds",
			Help:    "Database statement durations, by kind (select, insert, update, delete, copy, other).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"kind"}),
		QueryErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "movierec", Name: "db_query_errors_total", Help: "Failed database statements, by kind.",
		}, []string{"kind"}),
		CacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "movierec", Name: "cache_requests_total", Help: "Cache lookups by policy and result (hit, miss, error).",
		}, []string{"policy", "result"}),
		RedisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "movierec", Name: "redis_errors_total", Help: "Failed Redis commands.",
		}),
		DBUnavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "movierec", Name: "db_unavailable_total",
			Help: "Requests answered 503 because the database was unreachable, shutting down or past a statement deadline.",
		}),
	}
	reg.MustRegister(m.RequestDuration, m.InFlight, m.QueriesPerRequest, m.QueryDuration, m.QueryErrors, m.CacheRequests,
		m.RedisErrors, m.DBUnavailable)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// StatusClass turns 404 into "4xx".
func StatusClass(code int) string {
	if code < 100 || code > 599 {
		return "unknown"
	}
	return string(rune('0'+code/100)) + "xx"
}

// RegisterPool exports a connection pool's statistics.
func (m *Metrics) RegisterPool(stats func() sqlstore.PoolStats) {
	gauge := func(name, help string, v func(sqlstore.PoolStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "movierec", Subsystem: "db_pool", Name: name, Help: help},
			func() float64 { return v(stats()) })
	}
	m.Registry.MustRegister(
		gauge("acquired_connections", "Connections in use.", func(s sqlstore.PoolStats) float64 { return float64(s.Acquired) }),
		gauge("idle_connections", "Idle connections.", func(s sqlstore.PoolStats) float64 { return float64(s.Idle) }),
		gauge("total_connections", "Open connections.", func(s sqlstore.PoolStats) float64 { return float64(s.Total) }),
		gauge("max_connections", "Pool size limit.", func(s sqlstore.PoolStats) float64 { return float64(s.Max) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "movierec", Subsystem: "db_pool", Name: "waits_total",
			Help: "Acquisitions that waited for a connection."}, func() float64 { return float64(stats().Waits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "movierec", Subsystem: "db_pool", Name: "wait_seconds_total",
			Help: "Time spent waiting for connections."}, func() float64 { return stats().WaitTime.Seconds() }),
	)
}

// RegisterReplicas exports each read replica's state (see
// sqlstore.ReplicaStats), labelled by replica name.
func (m *Metrics) RegisterReplicas(stats func() []sqlstore.ReplicaStats) {
	m.Registry.MustRegister(&replicaCollector{stats: stats})
}

var (
	replicaUpDesc = prometheus.NewDesc("movierec_db_replica_up",
		"1 when the read replica takes reads (state ok), else 0.", []string{"replica", "state"}, nil)
	replicaLagDesc = prometheus.NewDesc("movierec_db_replica_lag_seconds",
		"How long ago the primary had written WAL the replica has not replayed (to the check interval).", []string{"replica"}, nil)
	replicaReadsDesc = prometheus.NewDesc("movierec_db_replica_reads_total",
		"Statements the read replica answered.", []string{"replica"}, nil)
	replicaFallbacksDesc = prometheus.NewDesc("movierec_db_replica_fallbacks_total",
		"Reads the replica failed, which the primary answered again.", []string{"replica"}, nil)
	replicaConnsDesc = prometheus.NewDesc("movierec_db_replica_connections",
		"The read replica's connections, by state (acquired, idle, total, max).", []string{"replica", "state"}, nil)
)

type replicaCollector struct {
	stats func() []sqlstore.ReplicaStats
}

func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{replicaUpDesc, replicaLagDesc, replicaReadsDesc, replicaFallbacksDesc, replicaConnsDesc} {
		ch <- d
	}
}

func (c *replicaCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.stats() {
		up := 0.0
		if r.State == "ok" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(replicaUpDesc, prometheus.GaugeValue, up, r.Name, r.State)
		ch <- prometheus.MustNewConstMetric(replicaLagDesc, prometheus.GaugeValue, r.Lag.Seconds(), r.Name)
		ch <- prometheus.MustNewConstMetric(replicaReadsDesc, prometheus.CounterValue, float64(r.Reads), r.Name)
		ch <- prometheus.MustNewConstMetric(replicaFallbacksDesc, prometheus.CounterValue, float64(r.Fallbacks), r.Name)
		for _, st := range []struct {
			name string
			v    int
		}{{"acquired", r.Pool.Acquired}, {"idle", r.Pool.Idle}, {"total", r.Pool.Total}, {"max", r.Pool.Max}} {
			ch <- prometheus.MustNewConstMetric(replicaConnsDesc, prometheus.GaugeValue, float64(st.v), r.Name, st.name)
		}
	}
}

// ModelInfo describes the served recommendation model.
type ModelInfo struct {
	Version          string
	TrainedAt        time.Time
	TrainingDuration time.Duration
}

// RegisterModel exports the served model's version, age and training
// time; info reports ok false before the first model.
func (m *Metrics) RegisterModel(info func() (ModelInfo, bool)) {
	m.Registry.MustRegister(&modelCollector{info: info})
}

var (
	modelInfoDesc = prometheus.NewDesc("movierec_model_info", "The served recommendation model (value 1).", []string{"version"}, nil)
	modelAgeDesc  = prometheus.NewDesc("movierec_model_age_seconds", "Seconds since the served model was trained.", nil, nil)
	modelTrainDsc = prometheus.NewDesc("movierec_model_training_duration_seconds", "How long the served model took to train.", nil, nil)
)

type modelCollector struct {
	info func() (ModelInfo, bool)
}

func (c *modelCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- modelInfoDesc
	ch <- modelAgeDesc
	ch <- modelTrainDsc
}

func (c *modelCollector) Collect(ch chan<- prometheus.Metric) {
	mi, ok := c.info()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(modelInfoDesc, prometheus.GaugeValue, 1, mi.Version)
	ch <- prometheus.MustNewConstMetric(modelAgeDesc, prometheus.GaugeValue, time.Since(mi.TrainedAt).Seconds())
	ch <- prometheus.MustNewConstMetric(modelTrainDsc, prometheus.GaugeValue, mi.TrainingDuration.Seconds())
}
