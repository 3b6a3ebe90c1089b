//go:build !linux

package onnx

// mapping is a memory mapping of this process; only Linux lists them.
type mapping struct{}

// anonMappings lists nothing outside Linux.
func anonMappings() ([]mapping, error) { return nil, nil }

// collapseNew collapses nothing outside Linux (see hugepages_linux.go).
func collapseNew([]mapping) int64 { return 0 }
