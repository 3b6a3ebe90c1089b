//go:build !linux

package models

// exchange reports false: without an atomic exchange the caller renames the
// old directory aside first.
func exchange(a, b string) (bool, error) { return false, nil }
