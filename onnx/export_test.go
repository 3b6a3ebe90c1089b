package onnx

// PackedRuns returns how many runs of e packed several texts (for tests).
func PackedRuns(e *TextEncoder) int64 { return e.packedRuns.Load() }
