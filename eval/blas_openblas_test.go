//go:build openblas

package eval_test

// With the openblas build tag the tests and benchmarks run on OpenBLAS:
// the head package's openblas file installs it for blas32 and blas64.
import _ "github.com/simlearn/simlearn/head"
