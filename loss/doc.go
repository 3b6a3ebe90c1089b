// Package loss holds the distances and the pair and group losses of
// simlearn, each returning its value and hand-written gradients, exactly as
// SPEC sections 1, 3 and 4 define them.
//
// Losses are built by name from a Spec (as a configuration file gives them)
// or directly with their constructors, which set the SPEC defaults:
//
//	l, err := loss.NewGroup(loss.Spec{Name: "triplet", Params: json.RawMessage(`{"mining":"hard"}`)}, loss.GroupOptions{})
//	t := loss.NewTriplet() // margin 0.5, cosine, batch-hard
//	v, de, err := t.Loss(embeddings, groups)
//
// ArcFace, CosFace, Softmax and Center have a learnable class matrix,
// exposed through Learnable.Params as a *head.Param so that the optimizer
// updates it with the head. Bad input (mismatched shapes, NaN or Inf,
// group ids outside the class range, non-positive MNRL scores, an empty
// batch) is an error naming what and where; a batch without positives or
// negatives gives the zero loss SPEC documents, never NaN.
package loss
