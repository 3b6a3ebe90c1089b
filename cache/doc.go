// Package cache keeps the vectors of frozen encoders in an embedded Badger
// store, so that an encoder runs once per distinct object, ever.
//
// A [Store] is one Badger directory (by default
// ${SIMLEARN_HOME:-$HOME/.cache/simlearn}/cache). Its keys are an encoder's
// fingerprint plus a content key of the object (by default the SHA-256 of the
// object's canonical JSON, see [CanonicalJSON]); its values are little-endian
// float32 vectors. Every fingerprint has a metadata record ([Meta]) holding the
// dimension and an entry count that is updated in the same transaction as the
// vectors, so that a crash never leaves a partial vector readable or the count
// out of step.
//
// [Fill] turns the objects of a training run into one in-memory matrix (the
// concatenation of every frozen encoder's vector, one row per distinct
// object) plus an index from each input object to its row. It looks every key
// up in bulk, encodes only the misses in a pipeline (batch preparation,
// inference and writing overlap) and shows progress. A warm run therefore
// never calls an encoder at all; with lazily opened ONNX Runtime sessions it
// never opens one. Each encoder is cached on disk ([Disk], the default), in
// memory for the process ([MemoryOnly]) or not at all ([NoCache]); trainable
// encoders are never cached and are left to the training loop.
//
// A fill of at least a thousand objects also stores its vectors as a pack:
// large contiguous chunks in row order, named by the hash of the key
// sequence and completed by a manifest written last. The next run over the
// same objects streams the pack into the matrix at about the speed of
// reading one flat file, where one lookup per object is several times
// slower. A fingerprint keeps its four newest packs; FillOptions.NoPack
// turns them off.
//
//	st, err := cache.Open("", cache.Options{})
//	if err != nil { ... }
//	defer st.Close()
//	m, rows, err := cache.FillPairs(ctx, []cache.Spec{{Encoder: enc}},
//		cache.FillOptions{Store: st}, train, val)
//	// m.X is the matrix; rows[0].A[i] is the row of train[i].A.
//
// Housekeeping ([Store.Stats], [Store.Verify], [Store.Remove]) is offered as
// library functions for the command line.
package cache
