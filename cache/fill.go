package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/models"
)

// Mode says where an encoder's vectors are cached.
type Mode int

const (
	// Disk keeps vectors in the [Store] across runs (the default).
	Disk Mode = iota
	// MemoryOnly keeps vectors in a [Memory] for the life of the process.
	MemoryOnly
	// NoCache encodes every object on every Fill.
	NoCache
)

func (m Mode) String() string {
	switch m {
	case Disk:
		return "disk"
	case MemoryOnly:
		return "memory"
	case NoCache:
		return "none"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Spec is one encoder of a [Fill] with its cache mode and key function.
// Trainable encoders are never cached nor encoded by Fill, whatever Mode.
type Spec struct {
	Encoder models.Encoder
	Mode    Mode
	// Key gives the content key of an object; nil means [ContentKey].
	Key KeyFunc
}

// Preparer is implemented by encoders that split preprocessing (such as
// tokenisation) from inference; [Fill] then prepares the next batch while
// the current one runs.
type Preparer interface {
	// Prepare preprocesses one batch of objects.
	Prepare(ctx context.Context, objs []any) (any, error)
	// EncodePrepared runs the model on a prepared batch, returning one
	// vector per object in input order.
	EncodePrepared(ctx context.Context, prepared any) ([][]float32, error)
}

// FillOptions configure [Fill].
type FillOptions struct {
	// Store holds the vectors of Disk-mode encoders; required when one
	// is given.
	Store *Store
	// Memory holds the vectors of MemoryOnly encoders; nil means a new,
	// empty Memory for this call.
	Memory *Memory
	// BatchSize is the number of objects per Encode call; 0 means 64.
	BatchSize int
	// WriteBatch is the most vectors written in one go; 0 means 4096.
	// Fewer are written when the encoder has nothing more ready.
	WriteBatch int
	// Progress says how encoding progress is shown.
	Progress ProgressMode
	// NoPack skips writing packs (contiguous copies of a fill's vectors
	// that make the next run over the same objects load at flat-file
	// speed, at the cost of storing those vectors twice).
	NoPack bool
	// Logger receives progress and summary lines; nil means slog.Default().
	Logger *slog.Logger
}

// Block locates one frozen encoder's columns in [Matrix.X].
type Block struct {
	Name        string
	Fingerprint string
	Mode        Mode
	Offset, Dim int
	// Hits counts the distinct keys found in the cache, Encoded those
	// the encoder had to compute in this Fill.
	Hits, Encoded int
}

// Matrix is what training needs from the encoders: one row per distinct
// object, the frozen encoders' vectors side by side.
type Matrix struct {
	// X holds the rows; nil when no encoder is frozen.
	X *mat.Dense
	// Blocks locates each frozen encoder's columns, in Spec order.
	Blocks []Block
	// Trainable are the trainable encoders, left for the training loop.
	Trainable []models.Encoder
	// Objects[r] is the object of row r (the first one given with its key).
	Objects []any
	// Rows[i] is the row of the i-th object given to Fill.
	Rows []int

	keys  []KeyFunc // per Spec; nil means ContentKey
	index map[string]int
}

// Row returns the row of obj, computing its keys again; ok is false when
// the object was not part of the Fill.
func (m *Matrix) Row(obj any) (row int, ok bool, err error) {
	k, _, err := rowKey(obj, m.keys, nil)
	if err != nil {
		return 0, false, err
	}
	row, ok = m.index[k]
	return row, ok, nil
}

// ObjectError is a failure tied to one input object.
type ObjectError struct {
	// Sample names the object, e.g. "object 3" or "validation sample 17 field B".
	Sample  string
	Encoder string
	Err     error
}

func (e *ObjectError) Error() string {
	return fmt.Sprintf("%s (encoder %q): %v", e.Sample, e.Encoder, e.Err)
}

func (e *ObjectError) Unwrap() error { return e.Err }

// Fill returns the matrix of objs (duplicates allowed: they share a row).
// Each frozen encoder's keys are looked up in bulk in its cache; only the
// misses are encoded, in batches, by a pipeline that overlaps preparation,
// inference and writing, with progress; new vectors are written to the
// cache. When every key hits, no encoder method other than Name, Dim,
// Trainable and Fingerprint is called.
func Fill(ctx context.Context, specs []Spec, objs []any, o FillOptions) (*Matrix, error) {
	return fill(ctx, specs, objs, o, func(i int) string { return fmt.Sprintf("object %d", i) })
}

func fill(ctx context.Context, specs []Spec, objs []any, o FillOptions, name func(int) string) (*Matrix, error) {
	if len(objs) == 0 {
		return nil, errors.New("cache: Fill: no objects")
	}
	if len(specs) == 0 {
		return nil, errors.New("cache: Fill: no encoders")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 64
	}
	if o.WriteBatch <= 0 {
		o.WriteBatch = 4096
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Memory == nil {
		o.Memory = NewMemory()
	}
	m := &Matrix{index: map[string]int{}, Rows: make([]int, len(objs))}
	width := 0
	for si, sp := range specs {
		if sp.Encoder == nil {
			return nil, fmt.Errorf("cache: Fill: spec %d has no encoder", si)
		}
		e := sp.Encoder
		m.keys = append(m.keys, sp.Key)
		if e.Trainable() {
			m.Trainable = append(m.Trainable, e)
			continue
		}
		if e.Dim() <= 0 {
			return nil, fmt.Errorf("cache: encoder %q has dimension %d", e.Name(), e.Dim())
		}
		if err := checkFingerprint(e.Fingerprint()); err != nil {
			return nil, fmt.Errorf("cache: encoder %q: %w", e.Name(), err)
		}
		switch sp.Mode {
		case Disk:
			if o.Store == nil {
				return nil, fmt.Errorf("cache: encoder %q uses Disk mode but FillOptions.Store is nil: Open a store, or use MemoryOnly", e.Name())
			}
		case MemoryOnly, NoCache:
		default:
			return nil, fmt.Errorf("cache: encoder %q: unknown %v", e.Name(), sp.Mode)
		}
		m.Blocks = append(m.Blocks, Block{Name: e.Name(), Fingerprint: e.Fingerprint(), Mode: sp.Mode, Offset: width, Dim: e.Dim()})
		width += e.Dim()
	}

	// Keys of every object for every encoder, and the distinct rows.
	objKeys, rowKeys, err := computeKeys(ctx, objs, m.keys, specs, name)
	if err != nil {
		return nil, err
	}
	perSpec := make([][][]byte, len(specs)) // [spec][row] key
	firstOcc := []int{}
	for i, obj := range objs {
		r, ok := m.index[rowKeys[i]]
		if !ok {
			r = len(m.Objects)
			m.index[rowKeys[i]] = r
			m.Objects = append(m.Objects, obj)
			firstOcc = append(firstOcc, i)
			for s := range specs {
				perSpec[s] = append(perSpec[s], objKeys[i*len(specs)+s])
			}
		}
		m.Rows[i] = r
	}
	if width == 0 {
		return m, nil
	}
	m.X = mat.NewDense(len(m.Objects), width, nil)
	b := 0
	for s, sp := range specs {
		if sp.Encoder.Trainable() {
			continue
		}
		f := filler{sp: sp, o: o, m: m, blk: &m.Blocks[b], rowName: func(r int) string { return name(firstOcc[r]) }}
		b++
		if err := f.run(ctx, perSpec[s]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// computeKeys computes, in parallel, every object's key for every spec
// (objKeys[i*len(specs)+s]) and its row identity. The error names the first
// object that fails.
func computeKeys(ctx context.Context, objs []any, fns []KeyFunc, specs []Spec, name func(int) string) (objKeys [][]byte, rowKeys []string, err error) {
	objKeys = make([][]byte, len(objs)*len(fns))
	rowKeys = make([]string, len(objs))
	parts := min(runtime.GOMAXPROCS(0), max(1, len(objs)/1024))
	errAt := make([]int, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*len(objs)/parts, (p+1)*len(objs)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				if (i-lo)%4096 == 0 && ctx.Err() != nil {
					errAt[p], errs[p] = i, ctx.Err()
					return
				}
				rk, s, err := rowKey(objs[i], fns, objKeys[i*len(fns):(i+1)*len(fns)])
				if err != nil {
					errAt[p], errs[p] = i, &ObjectError{Sample: name(i), Encoder: specs[s].Encoder.Name(), Err: err}
					return
				}
				rowKeys[i] = rk
			}
		}()
	}
	wg.Wait()
	for p := range parts {
		if errs[p] != nil {
			if errors.Is(errs[p], ctx.Err()) {
				return nil, nil, errs[p]
			}
			return nil, nil, fmt.Errorf("cache: %w", errs[p])
		}
	}
	return objKeys, rowKeys, nil
}

// rowKey computes every key function's key of obj (nil means [ContentKey],
// computed once for all of them) into keys, when not nil, and joins them,
// length-prefixed, into the row's identity. On failure it returns the index
// of the key function that failed.
func rowKey(obj any, fns []KeyFunc, keys [][]byte) (string, int, error) {
	var def []byte
	var buf []byte
	for s, fn := range fns {
		var k []byte
		var err error
		if fn == nil {
			if def == nil {
				def, err = ContentKey(obj)
			}
			k = def
		} else if k, err = fn(obj); err == nil && len(k) == 0 {
			err = errors.New("the key function returned an empty key")
		}
		if err != nil {
			return "", s, fmt.Errorf("no content key: %w", err)
		}
		if keys != nil {
			keys[s] = k
		}
		if len(fns) == 1 {
			return string(k), 0, nil
		}
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
	}
	return string(buf), 0, nil
}

// filler fills one frozen encoder's block of the matrix.
type filler struct {
	sp      Spec
	o       FillOptions
	m       *Matrix
	blk     *Block
	rowName func(row int) string
	// rowsOf[u] are the rows sharing distinct key u.
	rowsOf [][]int
	ukeys  [][]byte
}

func (f *filler) run(ctx context.Context, keys [][]byte) (err error) {
	e := f.sp.Encoder
	seen := make(map[string]int, len(keys))
	for r, k := range keys {
		u, ok := seen[string(k)]
		if !ok {
			u = len(f.ukeys)
			seen[string(k)] = u
			f.ukeys = append(f.ukeys, k)
			f.rowsOf = append(f.rowsOf, nil)
		}
		f.rowsOf[u] = append(f.rowsOf[u], r)
	}
	raw := f.m.X.RawMatrix()
	setRows := func(u int, set func(dst []float64)) {
		for _, r := range f.rowsOf[u] {
			off := r*raw.Stride + f.blk.Offset
			set(raw.Data[off : off+f.blk.Dim])
		}
	}
	var misses []int
	switch f.sp.Mode {
	case Disk:
		if _, err = f.o.Store.Register(e.Fingerprint(), e.Name(), e.Dim(), describe(e)); err != nil {
			return err
		}
		ks, err := f.o.Store.load(ctx, e.Fingerprint(), e.Dim(), f.ukeys, func(u int, v []byte) {
			setRows(u, func(dst []float64) { decodeInto(dst, v) })
		})
		if err != nil {
			return err
		}
		misses = ks.misses
		if !ks.packed && !f.o.NoPack {
			// Once the block is complete, pack it for the next run.
			defer func() {
				if err == nil {
					raw := f.m.X.RawMatrix()
					err = ks.writePack(ctx, f.o.Store, e.Fingerprint(), e.Dim(), func(u int, dst []byte) {
						off := f.rowsOf[u][0]*raw.Stride + f.blk.Offset
						encodeRow(dst, raw.Data[off:off+f.blk.Dim])
					})
				}
			}()
		}
	case MemoryOnly:
		if err := f.o.Memory.register(e.Fingerprint(), e.Dim()); err != nil {
			return fmt.Errorf("cache: encoder %q: %w", e.Name(), err)
		}
		for u, k := range f.ukeys {
			v, ok := f.o.Memory.get(e.Fingerprint(), k)
			if !ok {
				misses = append(misses, u)
				continue
			}
			setRows(u, func(dst []float64) {
				for j, x := range v {
					dst[j] = float64(x)
				}
			})
		}
	case NoCache:
		misses = make([]int, len(f.ukeys))
		for u := range misses {
			misses[u] = u
		}
	}
	f.blk.Hits = len(f.ukeys) - len(misses)
	f.blk.Encoded = len(misses)
	if len(misses) == 0 {
		f.o.Logger.Debug("cache: all vectors found", "encoder", e.Name(), "distinct", len(f.ukeys))
		return nil
	}
	if f.o.Store != nil && f.sp.Mode == Disk && f.o.Store.readOnly {
		return fmt.Errorf("cache %s is open read-only and misses %d of %d vectors of encoder %q", f.o.Store.dir, len(misses), len(f.ukeys), e.Name())
	}
	return f.encode(ctx, misses, setRows)
}

func describe(e models.Encoder) map[string]string {
	if d, ok := e.(Describer); ok {
		return d.Describe()
	}
	return nil
}

// batch is one unit of the encoding pipeline.
type batch struct {
	us       []int // distinct-key indices
	prepared any
	vecs     [][]float32
}

// encode runs the pipeline prepare -> encode -> write over the misses.
func (f *filler) encode(ctx context.Context, misses []int, setRows func(int, func([]float64))) error {
	e := f.sp.Encoder
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	prepCh := make(chan batch, 2)
	encCh := make(chan batch, 2)
	objsOf := func(us []int) []any {
		objs := make([]any, len(us))
		for i, u := range us {
			objs[i] = f.m.Objects[f.rowsOf[u][0]]
		}
		return objs
	}
	fail := func(err error) { cancel(err) }
	var wg sync.WaitGroup
	prep, _ := e.(Preparer)
	wg.Add(2)
	go func() { // prepare
		defer wg.Done()
		defer close(prepCh)
		for start := 0; start < len(misses); start += f.o.BatchSize {
			b := batch{us: misses[start:min(len(misses), start+f.o.BatchSize)]}
			if prep != nil {
				p, err := prep.Prepare(ctx, objsOf(b.us))
				if err != nil {
					fail(f.batchErr(b.us, "prepare", err))
					return
				}
				b.prepared = p
			}
			select {
			case prepCh <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { // encode
		defer wg.Done()
		defer close(encCh)
		for b := range prepCh {
			var err error
			if prep != nil {
				b.vecs, err = prep.EncodePrepared(ctx, b.prepared)
			} else {
				b.vecs, err = e.Encode(ctx, objsOf(b.us))
			}
			if err == nil {
				err = f.check(b)
			}
			if err != nil {
				fail(f.batchErr(b.us, "encode", err))
				for range prepCh {
				}
				return
			}
			select {
			case encCh <- b:
			case <-ctx.Done():
				for range prepCh {
				}
				return
			}
		}
	}()
	pr := newProgress(f.o.Progress, f.o.Logger, e.Name(), len(misses))
	var pend []batch
	pending := 0
	flush := func() error {
		if len(pend) == 0 {
			return nil
		}
		keys := make([][]byte, 0, pending)
		vecs := make([][]float32, 0, pending)
		for _, b := range pend {
			for i, u := range b.us {
				keys = append(keys, f.ukeys[u])
				vecs = append(vecs, b.vecs[i])
			}
		}
		var err error
		switch f.sp.Mode {
		case Disk:
			err = f.o.Store.Put(ctx, e.Fingerprint(), keys, vecs)
		case MemoryOnly:
			err = f.o.Memory.put(e.Fingerprint(), keys, vecs)
		}
		if err != nil {
			return err
		}
		for _, b := range pend {
			for i, u := range b.us {
				v := b.vecs[i]
				setRows(u, func(dst []float64) {
					for j, x := range v {
						dst[j] = float64(x)
					}
				})
			}
			pr.add(len(b.us))
		}
		pend, pending = pend[:0], 0
		return nil
	}
	for b := range encCh {
		if ctx.Err() != nil {
			continue
		}
		pend = append(pend, b)
		pending += len(b.us)
		if pending >= f.o.WriteBatch || len(encCh) == 0 {
			if err := flush(); err != nil {
				fail(err)
			}
		}
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	pr.finish()
	return nil
}

// check validates one encoded batch: a vector per object, each of the
// encoder's dimension with finite values.
func (f *filler) check(b batch) error {
	e := f.sp.Encoder
	if len(b.vecs) != len(b.us) {
		return fmt.Errorf("returned %d vectors for %d objects", len(b.vecs), len(b.us))
	}
	for i, v := range b.vecs {
		if len(v) != e.Dim() {
			return &ObjectError{Sample: f.rowName(f.rowsOf[b.us[i]][0]), Encoder: e.Name(),
				Err: fmt.Errorf("vector of length %d, the encoder's dimension is %d; nothing of this batch was written", len(v), e.Dim())}
		}
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return &ObjectError{Sample: f.rowName(f.rowsOf[b.us[i]][0]), Encoder: e.Name(),
					Err: fmt.Errorf("component %d is %v; nothing of this batch was written", j, x)}
			}
		}
	}
	return nil
}

func (f *filler) batchErr(us []int, stage string, err error) error {
	var oe *ObjectError
	if errors.As(err, &oe) {
		return fmt.Errorf("cache: %w", err)
	}
	return fmt.Errorf("cache: encoder %q: %s a batch of %d objects (from %s): %w",
		f.sp.Encoder.Name(), stage, len(us), f.rowName(f.rowsOf[us[0]][0]), err)
}
