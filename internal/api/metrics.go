package api

import (
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// metrics counts requests and their latency per route, exposed in the
// Prometheus text format at /metrics. Routes, not raw paths, label the
// series, so ids in URLs cannot explode the number of series.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // route, status
	buckets  map[string]*histogram
	started  time.Time
}

var latencyBounds = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64
	sum    float64
	n      uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, buckets: map[string]*histogram{}, started: time.Now()}
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{route, fmt.Sprint(status)}]++
	h := m.buckets[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBounds))}
		m.buckets[route] = h
	}
	s := d.Seconds()
	for i, b := range latencyBounds {
		if s <= b {
			h.counts[i]++
		}
	}
	h.sum += s
	h.n++
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	var b strings.Builder
	m.mu.Lock()
	b.WriteString("# HELP postern_http_requests_total API requests by route and status.\n# TYPE postern_http_requests_total counter\n")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		fmt.Fprintf(&b, "postern_http_requests_total{route=%q,status=%q} %d\n", k[0], k[1], m.requests[k])
	}
	b.WriteString("# HELP postern_http_request_duration_seconds API request latency by route.\n# TYPE postern_http_request_duration_seconds histogram\n")
	routes := make([]string, 0, len(m.buckets))
	for r := range m.buckets {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		h := m.buckets[r]
		for i, bound := range latencyBounds {
			fmt.Fprintf(&b, "postern_http_request_duration_seconds_bucket{route=%q,le=\"%g\"} %d\n", r, bound, h.counts[i])
		}
		fmt.Fprintf(&b, "postern_http_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", r, h.n)
		fmt.Fprintf(&b, "postern_http_request_duration_seconds_sum{route=%q} %g\n", r, h.sum)
		fmt.Fprintf(&b, "postern_http_request_duration_seconds_count{route=%q} %d\n", r, h.n)
	}
	started := m.started
	m.mu.Unlock()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(&b, "# TYPE postern_goroutines gauge\npostern_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintf(&b, "# TYPE postern_heap_bytes gauge\npostern_heap_bytes %d\n", ms.HeapAlloc)
	fmt.Fprintf(&b, "# TYPE postern_stack_bytes gauge\npostern_stack_bytes %d\n", ms.StackInuse)
	fmt.Fprintf(&b, "# TYPE postern_memory_bytes gauge\npostern_memory_bytes %d\n", ms.Sys-ms.HeapReleased)
	fmt.Fprintf(&b, "# TYPE postern_gc_cycles_total counter\npostern_gc_cycles_total %d\n", ms.NumGC)
	fmt.Fprintf(&b, "# TYPE postern_uptime_seconds gauge\npostern_uptime_seconds %g\n", time.Since(started).Seconds())
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}
