//go:build !unix

package fit

import "time"

// cpuTime is not measured on this system: benchmarks report samples/s only.
func cpuTime() time.Duration { return 0 }
