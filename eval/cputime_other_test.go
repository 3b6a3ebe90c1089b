//go:build !unix

package eval_test

// cpuSeconds is unknown here; benchmarks then leave out queries/cpu-s.
func cpuSeconds() float64 { return 0 }
