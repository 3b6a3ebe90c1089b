// Command loadgen measures embedding servers that speak the OpenAI
// embeddings API, on the loopback interface only.
//
// Bench mode sends single sentences from N concurrent clients (closed loop:
// each client sends its next request when the previous one is answered) to
// each target in turn, level by level, and reports throughput (sentences/s)
// and p50/p99 latency:
//
//	loadgen -mode bench -targets simlearn=http://127.0.0.1:8081,hugot=http://127.0.0.1:8082 \
//	    -clients 1,16,64 -duration 20s -sentences sentences.txt
//
// Soak mode sends requests at a steady rate for a duration, scraping the
// target's /metrics for resident memory every interval, and reports errors
// and the memory trend:
//
//	loadgen -mode soak -targets simlearn=http://127.0.0.1:8081 -rate 50 -duration 5m
//
// Each level and the soak are bounded in time (-duration) and in requests
// (-max-requests).
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type target struct{ name, url string }

type options struct {
	mode        string
	targets     []target
	clients     []int
	duration    time.Duration
	warmup      time.Duration
	maxRequests int64
	rate        float64
	interval    time.Duration
	rounds      int
	sentences   []string
	dim         int
	jsonOut     string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var targets, clients, sentences string
	flag.StringVar(&o.mode, "mode", "bench", "bench or soak")
	flag.StringVar(&targets, "targets", "", "comma-separated name=http://127.0.0.1:PORT (loopback only)")
	flag.StringVar(&clients, "clients", "1,16,64", "bench: comma-separated concurrency levels")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "bench: time per level and target; soak: total time")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "bench: unmeasured time before each level")
	flag.Int64Var(&o.maxRequests, "max-requests", 200000, "bound on the requests of one level or of the soak")
	flag.Float64Var(&o.rate, "rate", 50, "soak: requests per second")
	flag.DurationVar(&o.interval, "interval", 10*time.Second, "soak: memory sampling interval")
	flag.IntVar(&o.rounds, "rounds", 1, "bench: measure every level and target this many times, interleaved; report the median")
	flag.StringVar(&sentences, "sentences", "", "file with one sentence per line (required)")
	flag.IntVar(&o.dim, "dim", 384, "expected embedding dimension, checked on every 50th response")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.Parse()

	for _, t := range strings.Split(targets, ",") {
		name, u, ok := strings.Cut(strings.TrimSpace(t), "=")
		if !ok {
			return fmt.Errorf("-targets: %q is not name=url", t)
		}
		if err := checkLoopback(u); err != nil {
			return err
		}
		o.targets = append(o.targets, target{name, strings.TrimRight(u, "/")})
	}
	for _, c := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n <= 0 || n > 1024 {
			return fmt.Errorf("-clients: %q is not a count in 1..1024", c)
		}
		o.clients = append(o.clients, n)
	}
	var err error
	if o.sentences, err = readLines(sentences); err != nil {
		return err
	}
	switch o.mode {
	case "bench":
		return bench(o)
	case "soak":
		return soak(o)
	}
	return fmt.Errorf("-mode %q: want bench or soak", o.mode)
}

// checkLoopback refuses any target that is not on this machine.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("target %q: want http://127.0.0.1:PORT", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("target %q is not a loopback address; loadgen only loads this machine", raw)
	}
	return nil
}

func readLines(path string) ([]string, error) {
	if path == "" {
		return nil, errors.New("-sentences is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no sentences", path)
	}
	return out, nil
}

// client sends one request and checks the answer.
type client struct {
	http *http.Client
	url  string
	dim  int
}

func newClient(base string, conns, dim int) *client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute}
	return &client{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}, url: base + "/v1/embeddings", dim: dim}
}

func (c *client) embed(ctx context.Context, sentence string, check bool) error {
	body, _ := json.Marshal(map[string]any{"input": sentence, "model": "bench"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, data)
	}
	if check {
		var r struct {
			Data []struct {
				Embedding []float32 `json:"embedding"`
			} `json:"data"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("response: %w", err)
		}
		if len(r.Data) != 1 || len(r.Data[0].Embedding) != c.dim {
			return fmt.Errorf("response has %d embeddings, want 1 of %d values", len(r.Data), c.dim)
		}
	}
	return nil
}

// levelResult is what one concurrency level against one target measured.
type levelResult struct {
	Target     string  `json:"target"`
	Clients    int     `json:"clients"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"sentences_per_second"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	// CPUSeconds is the server's CPU time during the level (from its
	// process_cpu_seconds_total), and PerCPUSecond the sentences per CPU
	// second: a measure that holds even when other work shares the machine.
	CPUSeconds   float64 `json:"cpu_seconds"`
	PerCPUSecond float64 `json:"sentences_per_cpu_second"`
	FirstError   string  `json:"first_error,omitempty"`
}

func bench(o options) error {
	type key struct {
		target  string
		clients int
	}
	runs := map[key][]levelResult{}
	for r := 0; r < max(1, o.rounds); r++ {
		for _, n := range o.clients {
			for _, t := range o.targets {
				res := runLevel(o, t, n)
				runs[key{t.name, n}] = append(runs[key{t.name, n}], res)
				fmt.Fprintf(os.Stderr, "round %d: %s, %d clients: %.1f sentences/s, p99 %.1f ms, %.1f per CPU second\n",
					r+1, t.name, n, res.Throughput, res.P99ms, res.PerCPUSecond)
			}
		}
	}
	var results []levelResult
	fmt.Printf("%-10s %7s %9s %7s %12s %9s %9s %12s\n", "target", "clients", "requests", "errors", "sentences/s", "p50 ms", "p99 ms", "per CPU-sec")
	for _, n := range o.clients {
		for _, t := range o.targets {
			r := median(runs[key{t.name, n}])
			results = append(results, r)
			fmt.Printf("%-10s %7d %9d %7d %12.1f %9.2f %9.2f %12.1f\n", r.Target, r.Clients, r.Requests, r.Errors, r.Throughput, r.P50ms, r.P99ms, r.PerCPUSecond)
			if r.FirstError != "" {
				fmt.Printf("           first error: %s\n", r.FirstError)
			}
		}
	}
	if len(o.targets) == 2 {
		fmt.Println()
		for i := 0; i+1 < len(results); i += 2 {
			a, b := results[i], results[i+1]
			fmt.Printf("clients %3d: %s/%s throughput %.2fx, per CPU second %.2fx, p99 %.2f vs %.2f ms\n",
				a.Clients, a.Target, b.Target, a.Throughput/b.Throughput, a.PerCPUSecond/b.PerCPUSecond, a.P99ms, b.P99ms)
		}
	}
	all := map[string]any{"mode": "bench", "rounds": max(1, o.rounds), "levels": results}
	var every []levelResult
	for _, n := range o.clients {
		for _, t := range o.targets {
			every = append(every, runs[key{t.name, n}]...)
		}
	}
	all["runs"] = every
	return writeJSON(o.jsonOut, all)
}

// median returns the run with the median throughput (the lower middle one
// for an even count), with the errors of all runs added up.
func median(rs []levelResult) levelResult {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b levelResult) int { return cmp.Compare(a.Throughput, b.Throughput) })
	m := s[(len(s)-1)/2]
	m.Errors = 0
	for _, r := range rs {
		m.Errors += r.Errors
		if m.FirstError == "" {
			m.FirstError = r.FirstError
		}
	}
	return m
}

func runLevel(o options, t target, n int) levelResult {
	c := newClient(t.url, n, o.dim)
	var next atomic.Int64
	// Warm-up: same load, not measured.
	drive(c, o, n, o.warmup, &next, nil)
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	var first string
	cpu0, cpuErr := scrapeMetric(t.url, "process_cpu_seconds_total")
	start := time.Now()
	drive(c, o, n, o.duration, &next, func(d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs++
			if first == "" {
				first = err.Error()
			}
			return
		}
		lat = append(lat, d)
	})
	el := time.Since(start).Seconds()
	cpu1, cpuErr1 := scrapeMetric(t.url, "process_cpu_seconds_total")
	c.http.CloseIdleConnections()
	slices.Sort(lat)
	r := levelResult{Target: t.name, Clients: n, Requests: len(lat) + errs, Errors: errs, Seconds: el,
		Throughput: float64(len(lat)) / el, P50ms: pct(lat, 0.50), P99ms: pct(lat, 0.99), FirstError: first}
	if cpuErr == nil && cpuErr1 == nil && cpu1 > cpu0 {
		r.CPUSeconds = cpu1 - cpu0
		r.PerCPUSecond = float64(len(lat)) / r.CPUSeconds
	}
	return r
}

// drive runs n closed-loop clients for d (or until maxRequests).
func drive(c *client, o options, n int, d time.Duration, next *atomic.Int64, record func(time.Duration, error)) {
	if d <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && sent.Add(1) <= o.maxRequests {
				i := next.Add(1)
				s := o.sentences[int(i)%len(o.sentences)]
				t0 := time.Now()
				err := c.embed(ctx, s, i%50 == 0)
				if ctx.Err() != nil {
					return // cut off by the end of the level: not counted
				}
				if record != nil {
					record(time.Since(t0), err)
				}
			}
		}()
	}
	wg.Wait()
}

func pct(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

// memSample is one scrape of a target's memory figures.
type memSample struct {
	Seconds  float64 `json:"seconds"`
	RSS      int64   `json:"rss_bytes"`
	HeapLive int64   `json:"heap_alloc_bytes"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
}

func soak(o options) error {
	if len(o.targets) != 1 {
		return errors.New("soak: give exactly one target")
	}
	t := o.targets[0]
	if o.rate <= 0 {
		return errors.New("soak: -rate must be positive")
	}
	c := newClient(t.url, 64, o.dim)
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var reqs, errs atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var first string
	inflight := make(chan struct{}, 256) // bounds concurrency if the server falls behind
	var wg sync.WaitGroup
	start := time.Now()
	var samples []memSample
	sample := func() {
		rss, heap, err := scrapeMemory(t.url)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: metrics:", err)
			return
		}
		s := memSample{Seconds: time.Since(start).Seconds(), RSS: rss, HeapLive: heap, Requests: reqs.Load(), Errors: errs.Load()}
		samples = append(samples, s)
		fmt.Printf("t=%5.0fs requests=%7d errors=%d rss=%6.1f MiB heap=%6.1f MiB\n", s.Seconds, s.Requests, s.Errors, mib(s.RSS), mib(s.HeapLive))
	}
	sample()
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer tick.Stop()
	probe := time.NewTicker(o.interval)
	defer probe.Stop()
	var i int64
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-probe.C:
			sample()
		case <-tick.C:
			if i >= o.maxRequests {
				break loop
			}
			i++
			select {
			case inflight <- struct{}{}:
			case <-ctx.Done():
				break loop
			}
			wg.Add(1)
			go func(i int64) {
				defer wg.Done()
				defer func() { <-inflight }()
				t0 := time.Now()
				err := c.embed(context.Background(), o.sentences[int(i)%len(o.sentences)], i%50 == 0)
				reqs.Add(1)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs.Add(1)
					if first == "" {
						first = err.Error()
					}
					return
				}
				lat = append(lat, time.Since(t0))
			}(i)
		}
	}
	wg.Wait()
	sample()
	slices.Sort(lat)
	el := time.Since(start).Seconds()
	res := map[string]any{
		"mode": "soak", "target": t.name, "seconds": el, "requests": reqs.Load(), "errors": errs.Load(),
		"rate": float64(reqs.Load()) / el, "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "samples": samples,
	}
	fmt.Printf("\nsoak %s: %.0fs, %d requests (%.1f/s), %d errors, p50 %.2f ms, p99 %.2f ms\n",
		t.name, el, reqs.Load(), float64(reqs.Load())/el, errs.Load(), pct(lat, 0.5), pct(lat, 0.99))
	if first != "" {
		fmt.Println("first error:", first)
	}
	if len(samples) >= 4 {
		// Compare the second half's mean RSS with the first half's (after the first sample, which is before load).
		s := samples[1:]
		h := len(s) / 2
		a, b := meanRSS(s[:h]), meanRSS(s[h:])
		fmt.Printf("rss: first half mean %.1f MiB, second half mean %.1f MiB (%+.1f%%), max %.1f MiB\n",
			mib(int64(a)), mib(int64(b)), 100*(b-a)/a, mib(maxRSS(s)))
		res["rss_first_half_mib"], res["rss_second_half_mib"] = mib(int64(a)), mib(int64(b))
	}
	if err := writeJSON(o.jsonOut, res); err != nil {
		return err
	}
	if errs.Load() > 0 {
		return fmt.Errorf("soak: %d errors", errs.Load())
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func meanRSS(s []memSample) float64 {
	t := 0.0
	for _, x := range s {
		t += float64(x.RSS)
	}
	return t / float64(len(s))
}

func maxRSS(s []memSample) int64 {
	m := int64(0)
	for _, x := range s {
		m = max(m, x.RSS)
	}
	return m
}

// scrapeMemory reads process_resident_memory_bytes and
// go_memstats_heap_alloc_bytes from the target's /metrics.
func scrapeMemory(base string) (rss, heap int64, err error) {
	vals, err := scrape(base)
	if err != nil {
		return 0, 0, err
	}
	return int64(vals["process_resident_memory_bytes"]), int64(vals["go_memstats_heap_alloc_bytes"]), nil
}

// scrapeMetric reads one unlabelled metric from the target's /metrics.
func scrapeMetric(base, name string) (float64, error) {
	vals, err := scrape(base)
	if err != nil {
		return 0, err
	}
	v, ok := vals[name]
	if !ok {
		return 0, fmt.Errorf("%s/metrics has no %s", base, name)
	}
	return v, nil
}

// scrape returns the unlabelled metrics of the target's /metrics.
func scrape(base string) (map[string]float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	vals := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			vals[name] = f
		}
	}
	return vals, sc.Err()
}

func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
