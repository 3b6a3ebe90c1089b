package fit

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestPairLoaderLayout(t *testing.T) {
	x := mat.NewDense(4, 2, []float64{0, 0, 1, 1, 2, 2, 3, 3})
	d := &PairData{X: x, A: []int{0, 1, 2}, B: []int{3, 2, 1}, Scores: []float64{1, 0.5, 0}, Subgroups: []int{0, 7, 7}}
	l := &PairLoader{Data: d, BatchSize: 2}
	bs, err := l.Epoch(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(bs, [][]int{{0, 1}, {2}}) {
		t.Fatalf("batches %v", bs)
	}
	var b PairBatch
	l.Batch(bs[0], &b)
	// [a_1, a_2, b_1, b_2] = rows 0, 1, 3, 2.
	want := mat.NewDense(4, 2, []float64{0, 0, 1, 1, 3, 3, 2, 2})
	if !mat.Equal(b.X, want) || !reflect.DeepEqual(b.Scores, []float64{1, 0.5}) || !reflect.DeepEqual(b.Subgroups, []int{0, 7}) {
		t.Fatalf("batch %v %v %v", mat.Formatted(b.X), b.Scores, b.Subgroups)
	}
	l.DropLast = true
	if bs, _ := l.Epoch(nil); len(bs) != 1 {
		t.Fatalf("drop last kept %v", bs)
	}
	l.BatchSize = 0
	if _, err := l.Epoch(nil); err == nil {
		t.Fatal("want an error for batch size 0")
	}
}

func TestShuffleSeeded(t *testing.T) {
	a := batches(100, 10, true, rand.New(rand.NewPCG(1, 2)), false)
	b := batches(100, 10, true, rand.New(rand.NewPCG(1, 2)), false)
	c := batches(100, 10, true, rand.New(rand.NewPCG(2, 2)), false)
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) {
		t.Fatal("shuffling is not a function of the seed")
	}
	seen := map[int]bool{}
	for _, bt := range a {
		for _, i := range bt {
			seen[i] = true
		}
	}
	if len(seen) != 100 {
		t.Fatalf("saw %d of 100 samples", len(seen))
	}
}

func TestBalancedBatches(t *testing.T) {
	// 10 groups of varied sizes, one large.
	var groups []int
	for g := range 10 {
		n := 3 + g
		if g == 9 {
			n = 40
		}
		for range n {
			groups = append(groups, g)
		}
	}
	d := &GroupData{X: mat.NewDense(len(groups), 1, nil), Groups: groups}
	l := &GroupLoader{Data: d, BatchSize: 16, PerGroup: 4}
	bs, err := l.Epoch(rand.New(rand.NewPCG(3, 1)))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for k, b := range bs {
		if len(b) > 16 {
			t.Fatalf("batch %d has %d samples", k, len(b))
		}
		per := map[int]int{}
		for _, i := range b {
			per[groups[i]]++
			seen[i] = true
		}
		if len(per) < 2 {
			t.Fatalf("batch %d has one group: %v", k, per)
		}
		for g, n := range per {
			if n > 4 {
				t.Fatalf("batch %d has %d samples of group %d", k, n, g)
			}
		}
	}
	if len(seen) != len(groups) {
		t.Fatalf("an epoch saw %d of %d samples", len(seen), len(groups))
	}
	again, _ := l.Epoch(rand.New(rand.NewPCG(3, 1)))
	if !reflect.DeepEqual(bs, again) {
		t.Fatal("balanced batches are not a function of the seed")
	}
	for _, bad := range []GroupLoader{{Data: d, BatchSize: 6, PerGroup: 4}, {Data: d, BatchSize: 4, PerGroup: 4}} {
		if _, err := bad.Epoch(rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Fatalf("want an error for batch %d, per group %d", bad.BatchSize, bad.PerGroup)
		}
	}
	one := &GroupLoader{Data: &GroupData{X: mat.NewDense(3, 1, nil), Groups: []int{5, 5, 5}}, BatchSize: 4, PerGroup: 2}
	if _, err := one.Epoch(rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Fatal("want an error for a single group")
	}
}

func TestGroupBatchGather(t *testing.T) {
	x := mat.NewDense(3, 1, []float64{10, 20, 30})
	d := &GroupData{X: x, Rows: []int{2, 0}, Groups: []int{1, 4}}
	l := &GroupLoader{Data: d, BatchSize: 2}
	var b GroupBatch
	l.Batch([]int{1, 0}, &b)
	if !mat.Equal(b.X, mat.NewDense(2, 1, []float64{10, 30})) || !reflect.DeepEqual(b.Groups, []int{4, 1}) {
		t.Fatalf("%v %v", mat.Formatted(b.X), b.Groups)
	}
}
