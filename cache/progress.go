package cache

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ProgressMode says how [Fill] reports encoding progress.
type ProgressMode int

const (
	// ProgressAuto draws a bar on standard error when it is a terminal
	// and logs with slog otherwise.
	ProgressAuto ProgressMode = iota
	// ProgressBar always draws a bar on standard error.
	ProgressBar
	// ProgressLog logs done/total, rate and ETA with slog every few seconds.
	ProgressLog
	// ProgressOff reports nothing.
	ProgressOff
)

// logEvery is the interval between progress log lines.
const logEvery = 5 * time.Second

type progress interface {
	add(n int)
	finish()
}

func newProgress(mode ProgressMode, log *slog.Logger, encoder string, total int) progress {
	if mode == ProgressAuto {
		mode = ProgressLog
		if term.IsTerminal(int(os.Stderr.Fd())) {
			mode = ProgressBar
		}
	}
	switch mode {
	case ProgressBar:
		return barProgress{progressbar.NewOptions(total,
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription("encoding "+encoder),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("obj"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
		)}
	case ProgressLog:
		now := time.Now()
		return &logProgress{log: log, encoder: encoder, total: total, start: now, last: now}
	}
	return noProgress{}
}

type barProgress struct{ b *progressbar.ProgressBar }

func (p barProgress) add(n int) { _ = p.b.Add(n) }
func (p barProgress) finish()   { _ = p.b.Finish() }

type logProgress struct {
	log         *slog.Logger
	encoder     string
	done, total int
	start, last time.Time
}

func (p *logProgress) add(n int) {
	p.done += n
	if now := time.Now(); now.Sub(p.last) >= logEvery {
		p.last = now
		p.emit("encoding")
	}
}

func (p *logProgress) finish() { p.emit("encoded") }

func (p *logProgress) emit(msg string) {
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el
	}
	eta := time.Duration(0)
	if rate > 0 {
		eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second)
	}
	p.log.Info(msg, "encoder", p.encoder, "done", p.done, "total", p.total,
		"rate_per_s", fmt.Sprintf("%.1f", rate), "eta", eta.String())
}

type noProgress struct{}

func (noProgress) add(int) {}
func (noProgress) finish() {}
