//go:build unix

package cache

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

const (
	benchN   = 100_000
	benchDim = 384
)

// benchData is a store and a flat file holding the same benchN x benchDim
// vectors.
type benchData struct {
	dir  string
	flat string
	keys [][]byte
	err  error
}

func setupWarmLoad(b *testing.B) *benchData {
	var benchData benchData
	func() {
		dir := b.TempDir()
		benchData.dir = filepath.Join(dir, "cache")
		benchData.flat = filepath.Join(dir, "flat.bin")
		s, err := Open(benchData.dir, Options{Logger: quiet()})
		if err != nil {
			benchData.err = err
			return
		}
		rng := rand.New(rand.NewPCG(1, 2))
		fp := "bench/minilm"
		if _, err := s.Register(fp, "bench", benchDim, nil); err != nil {
			benchData.err = err
			return
		}
		flat := make([]byte, 0, benchN*benchDim*4)
		const chunk = 4096
		for start := 0; start < benchN; start += chunk {
			var keys [][]byte
			var vecs [][]float32
			for i := start; i < min(benchN, start+chunk); i++ {
				k, _ := ContentKey(fmt.Sprintf("benchmark sentence %d", i))
				v := make([]float32, benchDim)
				for j := range v {
					v[j] = float32(rng.NormFloat64())
				}
				keys, vecs = append(keys, k), append(vecs, v)
				flat = append(flat, encodeVec(v)...)
			}
			if err := s.Put(context.Background(), fp, keys, vecs); err != nil {
				benchData.err = err
				return
			}
			benchData.keys = append(benchData.keys, keys...)
		}
		if err := s.Close(); err != nil {
			benchData.err = err
			return
		}
		benchData.err = os.WriteFile(benchData.flat, flat, 0o644)
	}()
	if benchData.err != nil {
		b.Fatal(benchData.err)
	}
	return &benchData
}

// loadFlat reads and decodes the flat file into a new matrix: the
// practical limit of a warm load.
func loadFlat(path string) (*mat.Dense, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	x := mat.NewDense(benchN, benchDim, nil)
	// The same decoder as the store's, over the whole file at once.
	decodeInto(x.RawMatrix().Data, raw)
	return x, nil
}

// cpuTime is the process's user plus system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs fn after a GC and returns its wall and CPU time.
func timed(fn func()) (wall, cpu time.Duration) {
	runtime.GC()
	c0, t0 := cpuTime(), time.Now()
	fn()
	return time.Since(t0), cpuTime() - c0
}

// loadFlatChunked reads the flat file through one reused 512 KiB buffer,
// decoding as it goes: the cache-friendly way to read it.
func loadFlatChunked(path string) (*mat.Dense, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	x := mat.NewDense(benchN, benchDim, nil)
	data := x.RawMatrix().Data
	buf := make([]byte, 4*benchDim*341) // whole vectors, about 512 KiB
	for off := 0; off < len(data); {
		n, err := io.ReadFull(f, buf[:min(len(buf), 4*(len(data)-off))])
		if err != nil {
			return nil, err
		}
		decodeInto(data[off:off+n/4], buf[:n])
		off += n / 4
	}
	return x, nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkWarmLoad compares, side by side, loading 100,000 x 384 cached
// vectors into the training matrix from the store with reading and decoding
// the same bytes from one flat file; each b.N iteration is 5 alternating
// rounds and the medians are reported. Run it with
//
//	go test -run '^$' -bench WarmLoad -benchtime 1x ./cache/
func BenchmarkWarmLoad(b *testing.B) {
	benchData := setupWarmLoad(b)
	ctx := context.Background()
	// A first warm load writes the pack of this key set.
	w, err := Open(benchData.dir, Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Load(ctx, "bench/minilm", benchData.keys, mat.NewDense(benchN, benchDim, nil), 0); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	s, err := Open(benchData.dir, Options{ReadOnly: true, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	objs := make([]any, benchN)
	for i := range objs {
		objs[i] = fmt.Sprintf("benchmark sentence %d", i)
	}
	enc := &hashEncoder{name: "bench", fp: "bench/minilm", dim: benchDim, badLenAt: -1}
	for b.Loop() {
		var flat, chunked, store, perKey, fill, flatCPU, chunkedCPU, storeCPU, perKeyCPU []time.Duration
		for range 5 {
			var xf, xs *mat.Dense
			w, c := timed(func() {
				var err error
				if xf, err = loadFlat(benchData.flat); err != nil {
					b.Fatal(err)
				}
			})
			flat, flatCPU = append(flat, w), append(flatCPU, c)
			w, c = timed(func() {
				if _, err := loadFlatChunked(benchData.flat); err != nil {
					b.Fatal(err)
				}
			})
			chunked, chunkedCPU = append(chunked, w), append(chunkedCPU, c)
			w, c = timed(func() {
				xs = mat.NewDense(benchN, benchDim, nil)
				miss, err := s.Load(ctx, "bench/minilm", benchData.keys, xs, 0)
				if err != nil || len(miss) != 0 {
					b.Fatal(err, len(miss))
				}
			})
			store, storeCPU = append(store, w), append(storeCPU, c)
			if !mat.Equal(xf, xs) {
				b.Fatal("store and flat file disagree")
			}
			// The per-key path (no pack): one Badger entry per vector.
			w, c = timed(func() {
				xs = mat.NewDense(benchN, benchDim, nil)
				raw := xs.RawMatrix()
				ks := &keySet{keys: benchData.keys}
				err := s.lookupAll(ctx, "bench/minilm", benchDim, ks, func(i int, v []byte) {
					decodeInto(raw.Data[i*raw.Stride:i*raw.Stride+benchDim], v)
				})
				if err != nil || len(ks.misses) != 0 {
					b.Fatal(err)
				}
			})
			perKey, perKeyCPU = append(perKey, w), append(perKeyCPU, c)
			if !mat.Equal(xf, xs) {
				b.Fatal("per-key load and flat file disagree")
			}
			xf, xs = nil, nil
			// The whole warm Fill: content keys of 100,000 strings,
			// lookups, matrix.
			w, _ = timed(func() {
				if _, err := Fill(ctx, []Spec{{Encoder: enc}}, objs, FillOptions{Store: s, Progress: ProgressOff}); err != nil || enc.calls.Load() != 0 {
					b.Fatal(err)
				}
			})
			fill = append(fill, w)
		}
		mf, ms, mfill := median(flat), median(store), median(fill)
		cf, cs := median(flatCPU), median(storeCPU)
		mk, ck := median(perKey), median(perKeyCPU)
		mc, cc := median(chunked), median(chunkedCPU)
		b.ReportMetric(mc.Seconds()/ms.Seconds(), "store/flatchunked-speed")
		b.Logf("flat file read in 512 KiB chunks: %v (cpu %v); the pack load is %.2fx its speed (%.2fx by cpu time)",
			mc, cc, mc.Seconds()/ms.Seconds(), cc.Seconds()/cs.Seconds())
		b.ReportMetric(float64(mf.Microseconds())/1e3, "flat-ms")
		b.ReportMetric(float64(ms.Microseconds())/1e3, "store-ms")
		b.ReportMetric(float64(mfill.Microseconds())/1e3, "fill-ms")
		b.ReportMetric(mf.Seconds()/ms.Seconds(), "store/flat-speed")
		b.ReportMetric(cf.Seconds()/cs.Seconds(), "store/flat-cpu-speed")
		b.ReportMetric(mf.Seconds()/mk.Seconds(), "perkey/flat-speed")
		b.ReportMetric(cf.Seconds()/ck.Seconds(), "perkey/flat-cpu-speed")
		b.Logf("per-key path (no pack): %v (cpu %v): %.2fx the flat file's speed (%.2fx by cpu time)",
			mk, ck, mf.Seconds()/mk.Seconds(), cf.Seconds()/ck.Seconds())
		b.Logf("medians of 5: flat file %v (cpu %v), store Load from its pack %v (cpu %v): %.2fx the flat file's speed (%.2fx by cpu time); whole warm Fill %v",
			mf, cf, ms, cs, mf.Seconds()/ms.Seconds(), cf.Seconds()/cs.Seconds(), mfill)
	}
}
