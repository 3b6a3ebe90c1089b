//go:build unix

package fit

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used so far, so
// that benchmarks can report a rate per CPU second, which stays meaningful
// on a busy machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
