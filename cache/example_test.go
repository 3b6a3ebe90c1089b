package cache_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/simlearn/simlearn"
	"github.com/simlearn/simlearn/cache"
)

// lengthEncoder is a stand-in for a frozen model: it maps a text to its
// length and number of spaces.
type lengthEncoder struct{ calls int }

func (e *lengthEncoder) Name() string        { return "length" }
func (e *lengthEncoder) Dim() int            { return 2 }
func (e *lengthEncoder) Trainable() bool     { return false }
func (e *lengthEncoder) Fingerprint() string { return "example/length/v1" }
func (e *lengthEncoder) Encode(_ context.Context, objs []any) ([][]float32, error) {
	e.calls++
	out := make([][]float32, len(objs))
	for i, o := range objs {
		s := o.(string)
		spaces := 0
		for _, r := range s {
			if r == ' ' {
				spaces++
			}
		}
		out[i] = []float32{float32(len(s)), float32(spaces)}
	}
	return out, nil
}

func ExampleFillPairs() {
	dir, err := os.MkdirTemp("", "simlearn-cache-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	train := []simlearn.PairSample{
		{A: "a cat sits", B: "a cat is sitting", Score: 0.9},
		{A: "a cat sits", B: "stocks fell", Score: 0.0},
	}
	val := []simlearn.PairSample{{A: "stocks fell", B: "markets dropped", Score: 0.8}}

	for run := 1; run <= 2; run++ {
		st, err := cache.Open(dir, cache.Options{})
		if err != nil {
			log.Fatal(err)
		}
		enc := &lengthEncoder{}
		m, rows, err := cache.FillPairs(context.Background(), []cache.Spec{{Encoder: enc}},
			cache.FillOptions{Store: st, Progress: cache.ProgressOff}, train, val)
		if err != nil {
			log.Fatal(err)
		}
		r, c := m.X.Dims()
		fmt.Printf("run %d: matrix %dx%d, encoded %d, from cache %d, Encode calls %d\n",
			run, r, c, m.Blocks[0].Encoded, m.Blocks[0].Hits, enc.calls)
		fmt.Printf("  validation pair 0 = rows %d and %d: %v\n", rows[1].A[0], rows[1].B[0], m.X.RawRowView(rows[1].B[0]))
		if err := st.Close(); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// run 1: matrix 4x2, encoded 4, from cache 0, Encode calls 1
	//   validation pair 0 = rows 2 and 3: [15 1]
	// run 2: matrix 4x2, encoded 0, from cache 4, Encode calls 0
	//   validation pair 0 = rows 2 and 3: [15 1]
}
