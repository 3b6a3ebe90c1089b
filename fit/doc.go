// Package fit trains a head on frozen embeddings, with optional trainable
// encoders beside them: pair and group loaders (with a class-balanced
// sampler), optimisers (SGD, Adam, AdamW), learning-rate schedules, gradient
// clipping, cross-batch memory, and the training loop Fit
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
// The frozen encoders' columns are constants in training; the head, the
// loss's own parameters (such as ArcFace's class matrix) and any trainable
// encoders learn. Trainable encoders (Config.Trainable, such as
// models.EmbeddingTable for a categorical field) encode each batch's
// objects, given per row of X in the data's Objects (cache.Matrix.Objects);
// the head sees [X's columns | their outputs] and its input gradient flows
// back into them:
//
//	train := &fit.GroupData{X: m.X, Rows: rows[0].Rows, Groups: rows[0].Groups, Objects: m.Objects}
//	h, _ := head.New(head.Config{Kind: head.KindLinear, Out: 128}, 384+table.Dim(), 1)
//	cfg.Head, cfg.Trainable = h, []fit.TrainableEncoder{table}
package fit
