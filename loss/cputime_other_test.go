//go:build !unix

package loss_test

import (
	"testing"
	"time"
)

func cpuTime() time.Duration { return 0 }

func reportThroughput(b *testing.B, samples int, _ time.Duration) {
	b.ReportMetric(float64(samples)/b.Elapsed().Seconds(), "samples/s")
}
