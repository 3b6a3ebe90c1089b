//go:build openblas

package head

// #cgo LDFLAGS: -lopenblas
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

// With the openblas build tag, every blas64 and blas32 call of the program
// (the heads', the losses' and gonum/mat's) goes to OpenBLAS through cgo:
//
//	go test -tags openblas ./...
//
// It needs OpenBLAS's development files (Debian: libopenblas-dev).
func init() {
	blas64.Use(netlib.Implementation{})
	blas32.Use(netlib.Implementation{})
}
