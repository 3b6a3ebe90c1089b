//go:build !unix

package serve

// cpuSeconds is unavailable on this system.
func cpuSeconds() (float64, bool) { return 0, false }
