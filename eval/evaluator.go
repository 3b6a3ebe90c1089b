package eval

import (
	"context"
	"fmt"

	"github.com/simlearn/simlearn"
)

// Embedder turns objects into embeddings, one per object, all of the same
// dimension. A models.SimilarityModel satisfies it.
type Embedder interface {
	Encode(ctx context.Context, objs []any) ([][]float32, error)
}

// EvaluateGroups encodes the objects of samples with e and evaluates them
// with Groups.
func EvaluateGroups(ctx context.Context, e Embedder, samples []simlearn.GroupSample, opts Options) (Result, error) {
	objs := make([]any, len(samples))
	groups := make([]int, len(samples))
	for i, s := range samples {
		objs[i], groups[i] = s.Obj, s.Group
	}
	emb, err := encode(ctx, e, objs)
	if err != nil {
		return Result{}, err
	}
	return Groups(ctx, emb, groups, opts)
}

// EvaluatePairs encodes both objects of every sample with e and evaluates
// them with Pairs (items a_1..a_N, b_1..b_N; gain and gold score Score).
func EvaluatePairs(ctx context.Context, e Embedder, samples []simlearn.PairSample, opts Options) (Result, error) {
	n := len(samples)
	objs := make([]any, 2*n)
	scores := make([]float64, n)
	for i, s := range samples {
		objs[i], objs[n+i], scores[i] = s.A, s.B, s.Score
	}
	emb, err := encode(ctx, e, objs)
	if err != nil {
		return Result{}, err
	}
	return Pairs(ctx, emb[:n], emb[n:], scores, opts)
}

func encode(ctx context.Context, e Embedder, objs []any) ([][]float32, error) {
	if len(objs) == 0 {
		return nil, fmt.Errorf("eval: no samples to evaluate")
	}
	emb, err := e.Encode(ctx, objs)
	if err != nil {
		return nil, fmt.Errorf("eval: encode %d objects: %w", len(objs), err)
	}
	if len(emb) != len(objs) {
		return nil, fmt.Errorf("eval: encoder returned %d embeddings for %d objects", len(emb), len(objs))
	}
	return emb, nil
}
