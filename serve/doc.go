// Package serve is an HTTP embedding service over a loaded model.
//
// It speaks the OpenAI embeddings API (POST /v1/embeddings, with input as a
// string or an array of strings and encoding_format float or base64), so
// existing clients work unchanged, and adds GET /healthz, GET /readyz and
// GET /metrics (Prometheus text format).
//
// Concurrent requests are micro-batched: texts from several requests are
// encoded together in one call of the model, up to Config.MaxBatch texts,
// waiting at most Config.MaxWait for more texts while other requests are
// still arriving, or while another worker is busy and the batch holds less
// than its share of the texts in the service. Throughput therefore grows
// with load while a lone client pays no waiting time.
//
// A minimal server over a model loaded with models.Load:
//
//	m, err := models.Load("servable/")
//	if err != nil { ... }
//	srv, err := serve.New(m, serve.Config{ModelName: "my-model"})
//	if err != nil { ... }
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
//	defer stop()
//	err = srv.ListenAndServe(ctx) // 127.0.0.1:8080; graceful shutdown on ctx
package serve
