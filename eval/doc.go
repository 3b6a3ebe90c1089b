// Package eval measures how well embeddings retrieve what they should: the
// retrieval metrics precision@k, recall@k, MRR, R-precision (macro and
// micro), MAP@R and NDCG@k over groups or pairs, and the Spearman and Pearson
// correlations between pair similarity and gold score (SPEC section 5).
//
// Retrieval is exact. Every query is scored against every item with blocked
// float32 matrix products (this module's AVX2/FMA kernel where gonum's
// pure-Go BLAS is installed, or whatever blas32.Use installs instead),
// in strips of query rows so that memory stays bounded, in parallel over the
// strips. A query never retrieves itself; items at equal distance are ranked
// by index; queries without a relevant item are left out and counted in
// Result.Skipped. Instead of a top-K list the evaluation finds the exact rank
// of every relevant item of a query in one pass over its strip row, so every
// metric is exact for any k and any group size R without K = max(k, R)
// lists. Neighbors returns the k nearest items of each item with a bounded
// heap (no full sort) over the same strips.
//
// A typical evaluation:
//
//	res, err := eval.Groups(ctx, embeddings, groups, eval.Options{Distance: "cosine", K: 10})
//	if err != nil { ... }
//	fmt.Println(res)                                        // one table
//	fmt.Println(eval.Compare("before", base, "after", res)) // two results side by side
//
// Options.SampleSize and Options.Repeats evaluate repeated random query
// samples (against the whole corpus) and report the mean and standard
// deviation of each metric. EvaluateGroups and EvaluatePairs encode samples
// with an Embedder first.
package eval
