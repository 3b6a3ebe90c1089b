package fit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/simlearn/simlearn/head"
)

// checkpointVersion changes when the checkpoint layout does.
const checkpointVersion = 1

// checkpoint is everything a run needs to continue exactly where it stopped.
type checkpoint struct {
	Version int `json:"version"`
	// What the run trains on; a resumed run must match.
	Data      string   `json:"data"` // "pairs" or "groups"
	Samples   int      `json:"samples"`
	BatchSize int      `json:"batch_size"`
	PerGroup  int      `json:"per_group"`
	DropLast  bool     `json:"drop_last"`
	Seed      uint64   `json:"seed"`
	Names     []string `json:"names"`
	Shapes    [][2]int `json:"shapes"`

	Epoch     int     `json:"epoch"` // completed epochs
	Batch     int     `json:"batch"` // completed batches of the next epoch
	Step      int     `json:"step"`  // optimiser steps taken
	LossSum   float64 `json:"loss_sum"`
	LossCount int     `json:"loss_count"`
	EpochTime float64 `json:"epoch_seconds"`
	Stopped   bool    `json:"stopped"`

	Params    []floatsLE     `json:"params"`
	Optimizer OptimizerState `json:"optimizer"`
	HeadRNG   []byte         `json:"head_rng,omitempty"`
	History   History        `json:"history"`
	Best      []floatsLE     `json:"best,omitempty"`
	BestValue *float64       `json:"best_value,omitempty"`
	BestEpoch int            `json:"best_epoch"`
	Bad       int            `json:"bad_epochs"`
	Memory    *memoryState   `json:"memory,omitempty"`
}

type memoryState struct {
	X      floatsLE `json:"x"`
	Groups []int    `json:"groups"`
	Ptr    int      `json:"ptr"`
	Full   bool     `json:"full"`
}

func (r *run) dataKind() string {
	if r.pairs != nil {
		return "pairs"
	}
	return "groups"
}

func (r *run) trainLen() int {
	if r.pairs != nil {
		return r.pairs.Data.Len()
	}
	return r.groups.Data.Len()
}

func (r *run) checkpoint() (*checkpoint, error) {
	c := &checkpoint{
		Version: checkpointVersion, Data: r.dataKind(), Samples: r.trainLen(),
		BatchSize: r.cfg.BatchSize, PerGroup: r.cfg.PerGroup, DropLast: r.cfg.DropLast, Seed: r.cfg.Seed,
		Names: r.names,
		Epoch: r.epoch, Batch: r.batch, Step: r.step, LossSum: r.lossSum, LossCount: r.lossCount,
		EpochTime: r.epochTime, Stopped: r.stopped,
		Params: r.snapshot(), Optimizer: r.opt.State(), History: r.history,
		Best: r.best, BestEpoch: r.bestEpoch, Bad: r.bad,
	}
	for _, p := range r.params {
		rr, cc := p.Value.Dims()
		c.Shapes = append(c.Shapes, [2]int{rr, cc})
	}
	if !math.IsNaN(r.bestVal) {
		v := r.bestVal
		c.BestValue = &v
	}
	if s, ok := r.cfg.Head.(RandomStater); ok {
		b, err := s.RandomState()
		if err != nil {
			return nil, fmt.Errorf("fit: head random state: %w", err)
		}
		c.HeadRNG = b
	}
	if r.mem != nil {
		c.Memory = &memoryState{X: append(floatsLE(nil), r.mem.x.RawMatrix().Data...),
			Groups: r.mem.groups, Ptr: r.mem.ptr, Full: r.mem.full}
	}
	return c, nil
}

// save writes the checkpoint and the history files to Dir.
func (r *run) save() error {
	if r.cfg.Dir == "" {
		return nil
	}
	if err := os.MkdirAll(r.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("fit: %w", err)
	}
	c, err := r.checkpoint()
	if err != nil {
		return err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("fit: checkpoint: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(r.cfg.Dir, CheckpointFile), b); err != nil {
		return err
	}
	return r.history.WriteFiles(r.cfg.Dir)
}

// resume loads Dir/checkpoint.json when Resume is set and it exists.
func (r *run) resume() error {
	if !r.cfg.Resume {
		return nil
	}
	if r.cfg.Dir == "" {
		return errors.New("fit: Resume needs Config.Dir")
	}
	path := filepath.Join(r.cfg.Dir, CheckpointFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		r.log.Info("no checkpoint to resume; starting afresh", "path", path)
		return nil
	}
	if err != nil {
		return fmt.Errorf("fit: resume: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("fit: resume %s: %w", path, err)
	}
	if err := r.load(&c); err != nil {
		return fmt.Errorf("fit: resume %s: %w", path, err)
	}
	r.log.Info("resumed", "path", path, "epoch", c.Epoch, "batch", c.Batch)
	return nil
}

func (r *run) load(c *checkpoint) error {
	if c.Version != checkpointVersion {
		return fmt.Errorf("checkpoint version %d, want %d", c.Version, checkpointVersion)
	}
	type setting struct {
		name      string
		got, want any
	}
	for _, s := range []setting{
		{"data", c.Data, r.dataKind()}, {"samples", c.Samples, r.trainLen()},
		{"batch size", c.BatchSize, r.cfg.BatchSize}, {"per group", c.PerGroup, r.cfg.PerGroup},
		{"drop last", c.DropLast, r.cfg.DropLast}, {"seed", c.Seed, r.cfg.Seed},
	} {
		if s.got != s.want {
			return fmt.Errorf("the checkpoint was made with %s %v, this run has %v", s.name, s.got, s.want)
		}
	}
	if len(c.Names) != len(r.params) || len(c.Params) != len(r.params) || len(c.Shapes) != len(r.params) {
		return fmt.Errorf("the checkpoint has %d parameters, the model %d", len(c.Names), len(r.params))
	}
	for k, p := range r.params {
		rr, cc := p.Value.Dims()
		if c.Names[k] != r.names[k] || c.Shapes[k] != [2]int{rr, cc} || len(c.Params[k]) != rr*cc {
			return fmt.Errorf("parameter %d is %s %v in the checkpoint, %s [%d %d] in the model", k, c.Names[k], c.Shapes[k], r.names[k], rr, cc)
		}
	}
	if c.Best != nil {
		if len(c.Best) != len(r.params) {
			return fmt.Errorf("the checkpoint's best weights have %d parameters, want %d", len(c.Best), len(r.params))
		}
		for k, b := range c.Best {
			if len(b) != len(c.Params[k]) {
				return fmt.Errorf("the checkpoint's best weights of %s have %d values, want %d", r.names[k], len(b), len(c.Params[k]))
			}
		}
	}
	if (c.Memory != nil) != (r.mem != nil) {
		return errors.New("cross-batch memory is configured differently from the checkpoint")
	}
	if r.mem != nil {
		size, d := r.mem.x.Dims()
		if len(c.Memory.X) != size*d || len(c.Memory.Groups) != size {
			return fmt.Errorf("the checkpoint's cross-batch memory does not have %d rows of %d", size, d)
		}
		if c.Memory.Ptr < 0 || c.Memory.Ptr > size {
			return fmt.Errorf("the checkpoint's cross-batch memory position %d is outside [0, %d]", c.Memory.Ptr, size)
		}
	}
	// Every check passed: from here on the state is applied.
	if err := r.opt.SetState(c.Optimizer); err != nil {
		return err
	}
	if c.HeadRNG != nil {
		s, ok := r.cfg.Head.(RandomStater)
		if !ok {
			return fmt.Errorf("the checkpoint holds a head random state but %T cannot restore one", r.cfg.Head)
		}
		if err := s.SetRandomState(c.HeadRNG); err != nil {
			return fmt.Errorf("head random state: %w", err)
		}
	} else if usesDropout(r.cfg.Head) {
		r.log.Warn("the head uses dropout but cannot save its random state: dropout masks after resuming differ from an uninterrupted run")
	}
	if r.mem != nil {
		copy(r.mem.x.RawMatrix().Data, c.Memory.X)
		copy(r.mem.groups, c.Memory.Groups)
		r.mem.ptr, r.mem.full = c.Memory.Ptr, c.Memory.Full
	}
	r.restore(c.Params)
	r.epoch, r.batch, r.step = c.Epoch, c.Batch, c.Step
	r.lossSum, r.lossCount, r.epochTime, r.stopped = c.LossSum, c.LossCount, c.EpochTime, c.Stopped
	r.history, r.best, r.bestEpoch, r.bad = c.History, c.Best, c.BestEpoch, c.Bad
	if c.BestValue != nil {
		r.bestVal = *c.BestValue
	}
	return nil
}

// usesDropout reports whether a head's configuration has any dropout.
func usesDropout(h head.Head) bool { return hasDropout(h.Config()) }

func hasDropout(c head.Config) bool {
	if c.Dropout > 0 || c.SkipDropout > 0 {
		return true
	}
	for _, p := range c.Heads {
		if hasDropout(p) {
			return true
		}
	}
	return false
}

// WriteFileAtomic writes data to path so that a crash leaves either the old
// file or the new one: it writes a temporary file in the same directory,
// syncs it, renames it over path and syncs the directory.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
