package fit

import (
	"fmt"
	"math"
)

// ScheduleKind names a learning-rate schedule.
type ScheduleKind string

// Schedules, as in Hugging Face transformers' get_*_schedule_with_warmup.
const (
	// Constant keeps the learning rate (after the warm-up).
	Constant ScheduleKind = "constant"
	// Linear decays linearly to 0 at the last step.
	Linear ScheduleKind = "linear"
	// Cosine follows half a cosine down to 0 at the last step.
	Cosine ScheduleKind = "cosine"
)

// Schedule scales the optimiser's learning rate per step. Every kind starts
// with a linear warm-up from 0 over Warmup steps (or WarmupRatio of all
// steps, rounded up, when Warmup is 0). The zero Schedule is constant without warm-up.
type Schedule struct {
	Kind        ScheduleKind `json:"kind,omitempty"`
	Warmup      int          `json:"warmup,omitempty"`
	WarmupRatio float64      `json:"warmup_ratio,omitempty"`
}

// Validate reports an unknown kind or a negative warm-up.
func (s Schedule) Validate() error {
	switch s.Kind {
	case "", Constant, Linear, Cosine:
	default:
		return fmt.Errorf("schedule: unknown kind %q (want constant, linear or cosine)", s.Kind)
	}
	if s.Warmup < 0 || math.IsNaN(s.WarmupRatio) || s.WarmupRatio < 0 || s.WarmupRatio > 1 {
		return fmt.Errorf("schedule: warm-up %d steps / ratio %v, want >= 0 and a ratio in [0, 1]", s.Warmup, s.WarmupRatio)
	}
	return nil
}

// Factor is the multiplier of the base learning rate at step (0-based) of
// total steps: step/warmup during warm-up, then 1 (constant),
// (total-step)/(total-warmup) (linear) or 0.5*(1+cos(pi*progress)) (cosine).
func (s Schedule) Factor(step, total int) float64 {
	w := s.Warmup
	if w == 0 {
		w = int(math.Ceil(s.WarmupRatio * float64(total)))
	}
	if step < w {
		return float64(step) / float64(max(1, w))
	}
	switch s.Kind {
	case Linear:
		return max(0, float64(total-step)/float64(max(1, total-w)))
	case Cosine:
		progress := float64(step-w) / float64(max(1, total-w))
		return max(0, 0.5*(1+math.Cos(math.Pi*progress)))
	}
	return 1
}
