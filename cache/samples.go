package cache

import (
	"context"
	"fmt"

	"github.com/simlearn/simlearn"
)

// PairRows is a set of pair samples as rows of a [Matrix]: pair i joins
// rows A[i] and B[i] with its score and subgroup.
type PairRows struct {
	A, B      []int
	Scores    []float64
	Subgroups []int
}

// GroupRows is a set of group samples as rows of a [Matrix]: sample i is
// row Rows[i] in group Groups[i].
type GroupRows struct {
	Rows   []int
	Groups []int
}

// setName names sample sets in errors: the first is "train", the second
// "validation", further ones by number.
func setName(s int) string {
	switch s {
	case 0:
		return "train"
	case 1:
		return "validation"
	}
	return fmt.Sprintf("set %d", s)
}

// FillPairs fills one matrix with the distinct objects of every set (train,
// validation, ...) and returns each set's pairs as rows of it, in order.
// Errors name the set, sample and field ("validation sample 17 field B").
func FillPairs(ctx context.Context, specs []Spec, o FillOptions, sets ...[]simlearn.PairSample) (*Matrix, []PairRows, error) {
	var objs []any
	type where struct{ set, sample, field int }
	var at []where
	for s, set := range sets {
		for i, p := range set {
			objs = append(objs, p.A, p.B)
			at = append(at, where{s, i, 0}, where{s, i, 1})
		}
	}
	m, err := fill(ctx, specs, objs, o, func(i int) string {
		w := at[i]
		return fmt.Sprintf("%s sample %d field %s", setName(w.set), w.sample, string("AB"[w.field]))
	})
	if err != nil {
		return nil, nil, err
	}
	out := make([]PairRows, len(sets))
	k := 0
	for s, set := range sets {
		pr := PairRows{A: make([]int, len(set)), B: make([]int, len(set)),
			Scores: make([]float64, len(set)), Subgroups: make([]int, len(set))}
		for i, p := range set {
			pr.A[i], pr.B[i] = m.Rows[k], m.Rows[k+1]
			pr.Scores[i], pr.Subgroups[i] = p.Score, p.Subgroup
			k += 2
		}
		out[s] = pr
	}
	return m, out, nil
}

// FillGroups fills one matrix with the distinct objects of every set and
// returns each set's samples as rows of it, in order. Errors name the set
// and sample ("train sample 3").
func FillGroups(ctx context.Context, specs []Spec, o FillOptions, sets ...[]simlearn.GroupSample) (*Matrix, []GroupRows, error) {
	var objs []any
	type where struct{ set, sample int }
	var at []where
	for s, set := range sets {
		for i, g := range set {
			objs = append(objs, g.Obj)
			at = append(at, where{s, i})
		}
	}
	m, err := fill(ctx, specs, objs, o, func(i int) string {
		return fmt.Sprintf("%s sample %d", setName(at[i].set), at[i].sample)
	})
	if err != nil {
		return nil, nil, err
	}
	out := make([]GroupRows, len(sets))
	k := 0
	for s, set := range sets {
		gr := GroupRows{Rows: make([]int, len(set)), Groups: make([]int, len(set))}
		for i, g := range set {
			gr.Rows[i], gr.Groups[i] = m.Rows[k], g.Group
			k++
		}
		out[s] = gr
	}
	return m, out, nil
}
