package serve

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// histogram is a Prometheus histogram with fixed upper bounds.
type histogram struct {
	bounds []float64
	counts []uint64 // one per bound, plus +Inf
	sum    float64
	n      uint64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v) // first bound >= v
	h.counts[i]++
	h.sum += v
	h.n++
}

func (h *histogram) write(w io.Writer, name, labels string) {
	sep := ""
	if labels != "" {
		sep = ","
	}
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{%s%sle=%q} %d\n", name, labels, sep, strconv.FormatFloat(b, 'g', -1, 64), cum)
	}
	cum += h.counts[len(h.bounds)]
	fmt.Fprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, cum)
	if labels != "" {
		labels = "{" + labels + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %s\n", name, labels, strconv.FormatFloat(h.sum, 'g', -1, 64))
	fmt.Fprintf(w, "%s_count%s %d\n", name, labels, h.n)
}

var (
	latencyBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	batchBounds   = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}
)

type reqKey struct {
	path string
	code int
}

// metrics holds the service's counters; it writes the Prometheus text
// exposition format (version 0.0.4) by hand.
type metrics struct {
	mu       sync.Mutex
	requests map[reqKey]uint64
	latency  map[string]*histogram
	batches  *histogram
	texts    uint64
	failures uint64
	inFlight atomic.Int64
	queueLen func() int
}

func newMetrics() *metrics {
	return &metrics{
		requests: map[reqKey]uint64{},
		latency:  map[string]*histogram{},
		batches:  newHistogram(batchBounds),
	}
}

func (m *metrics) observeRequest(path string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[reqKey{path, code}]++
	h := m.latency[path]
	if h == nil {
		h = newHistogram(latencyBounds)
		m.latency[path] = h
	}
	h.observe(d.Seconds())
}

func (m *metrics) observeBatch(size int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches.observe(float64(size))
	m.texts += uint64(size)
	if err != nil {
		m.failures++
	}
}

// write emits every metric in the Prometheus text format.
func (m *metrics) write(out io.Writer) error {
	w := bufio.NewWriter(out)
	m.mu.Lock()
	keys := make([]reqKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].path != keys[j].path {
			return keys[i].path < keys[j].path
		}
		return keys[i].code < keys[j].code
	})
	fmt.Fprintln(w, "# HELP simlearn_http_requests_total HTTP requests by route and status code.")
	fmt.Fprintln(w, "# TYPE simlearn_http_requests_total counter")
	for _, k := range keys {
		fmt.Fprintf(w, "simlearn_http_requests_total{path=%q,code=\"%d\"} %d\n", k.path, k.code, m.requests[k])
	}
	paths := make([]string, 0, len(m.latency))
	for p := range m.latency {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	fmt.Fprintln(w, "# HELP simlearn_http_request_duration_seconds HTTP request latency by route.")
	fmt.Fprintln(w, "# TYPE simlearn_http_request_duration_seconds histogram")
	for _, p := range paths {
		m.latency[p].write(w, "simlearn_http_request_duration_seconds", fmt.Sprintf("path=%q", p))
	}
	fmt.Fprintln(w, "# HELP simlearn_batch_size Texts per model call (micro-batch size).")
	fmt.Fprintln(w, "# TYPE simlearn_batch_size histogram")
	m.batches.write(w, "simlearn_batch_size", "")
	fmt.Fprintln(w, "# HELP simlearn_embedded_texts_total Texts passed to the model.")
	fmt.Fprintln(w, "# TYPE simlearn_embedded_texts_total counter")
	fmt.Fprintf(w, "simlearn_embedded_texts_total %d\n", m.texts)
	fmt.Fprintln(w, "# HELP simlearn_batch_failures_total Model calls that returned an error.")
	fmt.Fprintln(w, "# TYPE simlearn_batch_failures_total counter")
	fmt.Fprintf(w, "simlearn_batch_failures_total %d\n", m.failures)
	m.mu.Unlock()

	fmt.Fprintln(w, "# HELP simlearn_http_requests_in_flight Requests being served now.")
	fmt.Fprintln(w, "# TYPE simlearn_http_requests_in_flight gauge")
	fmt.Fprintf(w, "simlearn_http_requests_in_flight %d\n", m.inFlight.Load())
	if m.queueLen != nil {
		fmt.Fprintln(w, "# HELP simlearn_queue_parts Request parts waiting for a batch.")
		fmt.Fprintln(w, "# TYPE simlearn_queue_parts gauge")
		fmt.Fprintf(w, "simlearn_queue_parts %d\n", m.queueLen())
	}
	writeRuntimeMetrics(w)
	return w.Flush()
}

// writeRuntimeMetrics adds the process and Go runtime figures a soak test
// watches for growth.
func writeRuntimeMetrics(w io.Writer) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintln(w, "# HELP go_goroutines Number of goroutines that currently exist.")
	fmt.Fprintln(w, "# TYPE go_goroutines gauge")
	fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintln(w, "# HELP go_memstats_heap_alloc_bytes Bytes of allocated heap objects.")
	fmt.Fprintln(w, "# TYPE go_memstats_heap_alloc_bytes gauge")
	fmt.Fprintf(w, "go_memstats_heap_alloc_bytes %d\n", ms.HeapAlloc)
	if cpu, ok := cpuSeconds(); ok {
		fmt.Fprintln(w, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.")
		fmt.Fprintln(w, "# TYPE process_cpu_seconds_total counter")
		fmt.Fprintf(w, "process_cpu_seconds_total %s\n", strconv.FormatFloat(cpu, 'f', 3, 64))
	}
	if rss, ok := residentBytes(); ok {
		fmt.Fprintln(w, "# HELP process_resident_memory_bytes Resident memory size in bytes (Go heap and native memory).")
		fmt.Fprintln(w, "# TYPE process_resident_memory_bytes gauge")
		fmt.Fprintf(w, "process_resident_memory_bytes %d\n", rss)
	}
}

// residentBytes reads the resident set size from /proc (Linux only).
func residentBytes() (int64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}
