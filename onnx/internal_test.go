package onnx

import (
	"math"
	"slices"
	"testing"
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

func TestPlanBatches(t *testing.T) {
	for _, c := range []struct {
		name       string
		lengths    []int
		maxBatch   int
		packable   bool
		want       []int
		wantPacked []bool
	}{
		{"empty", nil, 32, true, []int{0}, nil},
		{"one", []int{7}, 32, true, []int{0, 1}, []bool{false}},
		{"equal lengths share one run", []int{12, 12, 12, 12, 12}, 32, false, []int{0, 5}, []bool{false}},
		// Padding costs nothing here, packing adds attention over 60 tokens.
		{"equal lengths stay padded", []int{12, 12, 12, 12, 12}, 32, true, []int{0, 5}, []bool{false}},
		{"max batch caps a run", []int{12, 12, 12, 12, 12}, 2, false, []int{0, 2, 4, 5}, []bool{false, false, false}},
		// Padding 7 texts from 9 to 60 tokens costs 357 tokens; a second run 11.
		{"a long text runs alone", []int{60, 9, 9, 9, 9, 9, 9, 9}, 32, false, []int{0, 1, 8}, []bool{false, false}},
		// Packed, the eight cost their 123 tokens plus 6.6 of attention.
		{"a long text packs with short ones", []int{60, 9, 9, 9, 9, 9, 9, 9}, 32, true, []int{0, 8}, []bool{true}},
		// A server's micro-batch: 94 tokens packed against 180 padded.
		{"mixed lengths pack", []int{30, 20, 14, 12, 10, 8}, 32, true, []int{0, 6}, []bool{true}},
		{"mixed lengths split unpacked", []int{30, 20, 14, 12, 10, 8}, 32, false, []int{0, 2, 6}, []bool{false, false}},
		// Padding 12 to 13 costs 1 token: cheaper than a second run.
		{"close lengths share", []int{13, 12}, 32, false, []int{0, 2}, []bool{false}},
	} {
		got, packed := planBatches(c.lengths, c.maxBatch, c.packable, 384)
		if !slices.Equal(got, c.want) || !slices.Equal(packed, c.wantPacked) {
			t.Errorf("%s: planBatches(%v, %d, %t) = %v %v, want %v %v", c.name, c.lengths, c.maxBatch, c.packable, got, packed, c.want, c.wantPacked)
		}
	}
	// With attention made negligible (a huge hidden size), packing 300 and
	// 250 tokens would be cheapest, but 550 is over maxPackedTokens.
	if got, packed := planBatches([]int{300, 250}, 32, true, 1<<30); !slices.Equal(got, []int{0, 1, 2}) || slices.Contains(packed, true) {
		t.Errorf("planBatches([300 250]) = %v %v, want two padded runs", got, packed)
	}
}
