package onnx

import (
	"math"
	"slices"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		v, min string
		want   bool
	}{
		{"1.32.0", "1.24.0", true}, {"1.24.0", "1.24.0", true}, {"1.24", "1.24.0", true},
		{"1.23.2", "1.24.0", false}, {"1.16.3", "1.24.0", false}, {"2.0.0", "1.24.0", true},
		{"1.25.0-dev", "1.24.0", true}, {"1.100.0", "1.24.0", true},
	} {
		if got := versionAtLeast(c.v, c.min); got != c.want {
			t.Errorf("versionAtLeast(%q, %q) = %t", c.v, c.min, got)
		}
	}
}

func TestPool(t *testing.T) {
	// Three tokens of width 2, the last one padding (n = 2).
	tokens := []float32{1, -4, 3, 2, 100, 100}
	for _, c := range []struct {
		p    Pooling
		want []float32
	}{
		{PoolingMean, []float32{2, -1}},
		{PoolingCLS, []float32{1, -4}},
		{PoolingMax, []float32{3, 2}},
	} {
		v := make([]float32, 2)
		pool(v, tokens, 2, 2, c.p)
		if v[0] != c.want[0] || v[1] != c.want[1] {
			t.Errorf("%s pooling: %v, want %v", c.p, v, c.want)
		}
	}
	v := []float32{3, 4}
	normalize(v)
	if math.Abs(float64(v[0])-0.6) > 1e-7 || math.Abs(float64(v[1])-0.8) > 1e-7 {
		t.Errorf("normalize: %v", v)
	}
	zero := []float32{0, 0}
	normalize(zero)
	if zero[0] != 0 || zero[1] != 0 {
		t.Errorf("normalize(0) = %v, want 0 (the norm is clamped, no NaN)", zero)
	}
}

func TestPlanRuns(t *testing.T) {
	padded := func(lo, hi int) run {
		var r run
		for k := lo; k < hi; k++ {
			r = append(r, []int{k})
		}
		return r
	}
	for _, c := range []struct {
		name     string
		lengths  []int
		maxBatch int
		packable bool
		want     []run
	}{
		{"empty", nil, 32, true, nil},
		{"one", []int{7}, 32, true, []run{{{0}}}},
		{"equal lengths share one run", []int{12, 12, 12, 12, 12}, 32, false, []run{padded(0, 5)}},
		// Padding costs nothing here; packing would add attention.
		{"equal lengths stay padded", []int{12, 12, 12, 12, 12}, 32, true, []run{padded(0, 5)}},
		{"max batch caps a run", []int{12, 12, 12, 12, 12}, 2, false, []run{padded(0, 2), padded(2, 4), padded(4, 5)}},
		// Padding 7 texts from 9 to 60 tokens costs 357 tokens; a second run 11.
		{"a long text runs alone", []int{60, 9, 9, 9, 9, 9, 9, 9}, 32, false, []run{padded(0, 1), padded(1, 8)}},
		// Two rows of 60 and 63 tokens: one run, little padding, and less
		// attention than one row of 123.
		{"a long text beside the short ones packed", []int{60, 9, 9, 9, 9, 9, 9, 9}, 32, true, []run{{{0}, {1, 2, 3, 4, 5, 6, 7}}}},
		// A server's micro-batch: 94 tokens in one row against 180 padded.
		{"mixed lengths pack", []int{30, 20, 14, 12, 10, 8}, 32, true, []run{{{0, 1, 2, 3, 4, 5}}}},
		{"mixed lengths split unpacked", []int{30, 20, 14, 12, 10, 8}, 32, false, []run{padded(0, 2), padded(2, 6)}},
		// Padding 12 to 13 costs 1 token: cheaper than a second run.
		{"close lengths share", []int{13, 12}, 32, false, []run{padded(0, 2)}},
	} {
		got := planRuns(c.lengths, c.maxBatch, c.packable, 384)
		if !slices.EqualFunc(got, c.want, func(a, b run) bool { return slices.EqualFunc(a, b, slices.Equal) }) {
			t.Errorf("%s: planRuns(%v, %d, %t) = %v, want %v", c.name, c.lengths, c.maxBatch, c.packable, got, c.want)
		}
	}
	// With attention made negligible (a huge hidden size), one row of 300
	// and 250 tokens would be cheapest, but it is over maxPackedTokens.
	if got := planRuns([]int{300, 250}, 32, true, 1<<30); len(got) != 2 {
		t.Errorf("planRuns([300 250]) = %v, want two runs of one text", got)
	}
}

func TestPackRows(t *testing.T) {
	var placed [3][]int
	sums, longest := packRows(nil, []int{9, 7, 5, 4, 3}, 3, func(k, row int) { placed[row] = append(placed[row], k) })
	// 9 | 7 | 5, then 4 to the 5-row (9) and 3 to the 7-row (10).
	if !slices.Equal(sums, []int{9, 10, 9}) || longest != 10 {
		t.Errorf("sums %v, longest %d; want [9 10 9], 10", sums, longest)
	}
	if want := [3][]int{{0}, {1, 4}, {2, 3}}; !slices.EqualFunc(placed[:], want[:], slices.Equal) {
		t.Errorf("placed %v, want %v", placed, want)
	}
}

// TestPickIdleSession checks when a run gets the idle-threads session: when
// it starts alone, but not while another run is in flight, nor for
// idleAfter after two runs overlapped.
func TestPickIdleSession(t *testing.T) {
	shared, idle := new(ort.DynamicAdvancedSession), new(ort.DynamicAdvancedSession)
	e := &TextEncoder{idle: idle}
	s, done := e.pick(shared)
	if s != idle {
		t.Fatal("a first run alone did not get the idle session")
	}
	done()
	s, done = e.pick(shared)
	if s != idle {
		t.Fatal("a second run alone, with no overlap yet, did not get the idle session")
	}
	s2, done2 := e.pick(shared)
	if s2 != shared {
		t.Fatal("a run beside another got the idle session")
	}
	done()
	done2()
	s, done = e.pick(shared)
	if s != shared {
		t.Fatal("a run alone right after two overlapped got the idle session")
	}
	done()
	time.Sleep(idleAfter)
	s, done = e.pick(shared)
	if s != idle {
		t.Fatalf("a run alone %v after the last overlap did not get the idle session", idleAfter)
	}
	done()
	if n := e.inFlight.Load(); n != 0 {
		t.Errorf("%d runs in flight after all ended", n)
	}
}
