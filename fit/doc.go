// Package fit trains a head on frozen embeddings: pair and group loaders
// (with a class-balanced sampler), optimisers (SGD, Adam, AdamW), learning-rate
// schedules, gradient clipping, cross-batch memory, and the training loop Fit
// with validation, early stopping, atomic resumable checkpoints, progress,
// logging and a saved history (JSON, CSV and a PNG of the curves).
//
// The data are embedding matrices with samples indexed into their rows, as
// the cache hands them out:
//
//	train := &fit.GroupData{X: x, Rows: rows, Groups: groups}
//	h, _ := head.New(head.Config{Kind: head.KindSkipConnection}, 384, 1)
//	res, err := fit.Fit(ctx, fit.Config{
//		Head:      h,
//		GroupLoss: tripletLoss,
//		Epochs:    10,
//		BatchSize: 256,
//		PerGroup:  4,
//		Dir:       "runs/quickstart",
//	}, train, val)
//
// The encoder inputs are constants in training: only the head (and the
// loss's own parameters, such as ArcFace's class matrix) learn.
package fit
