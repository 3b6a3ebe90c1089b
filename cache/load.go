package cache

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"gonum.org/v1/gonum/mat"
)

// minPart is the fewest keys one lookup goroutine takes on.
const minPart = 2048

// Load reads the vectors of keys under fingerprint fp into rows of dst:
// key i fills dst row i, columns col to col+Dim-1, converted to float64.
// It returns the indices of the keys not in the store, in increasing order.
// A key sequence loaded before in full is read from its pack (see the
// package documentation); otherwise the keys are visited in sorted order by
// parallel iterators and, when all are found, a pack is written for next
// time (unless the store is read-only).
func (s *Store) Load(ctx context.Context, fp string, keys [][]byte, dst *mat.Dense, col int) ([]int, error) {
	m, ok, err := s.Meta(fp)
	if err != nil {
		return nil, err
	}
	if !ok || m.Removing {
		all := make([]int, len(keys))
		for i := range all {
			all[i] = i
		}
		return all, nil
	}
	if r, c := dst.Dims(); r < len(keys) || c < col+m.Dim {
		return nil, fmt.Errorf("cache: load %d vectors of dimension %d at column %d into a %dx%d matrix", len(keys), m.Dim, col, r, c)
	}
	raw := dst.RawMatrix()
	row := func(i int) []float64 { off := i*raw.Stride + col; return raw.Data[off : off+m.Dim] }
	ks, err := s.load(ctx, fp, m.Dim, keys, func(i int, v []byte) { decodeInto(row(i), v) })
	if err != nil {
		return nil, err
	}
	if len(ks.misses) == 0 && !ks.packed {
		if err := ks.writePack(ctx, s, fp, m.Dim, func(i int, dst []byte) { encodeRow(dst, row(i)) }); err != nil {
			return nil, err
		}
	}
	return ks.misses, nil
}

// encodeRow writes a row of float32-exact values as little-endian float32.
func encodeRow(dst []byte, row []float64) {
	for j, x := range row {
		binary.LittleEndian.PutUint32(dst[4*j:], math.Float32bits(float32(x)))
	}
}

// keySet is the outcome of a bulk load: the key sequence and its pack
// name, the misses, and whether a pack served them.
type keySet struct {
	keys   [][]byte
	id     packID
	misses []int
	packed bool
}

// writePack stores the pack of this key sequence when it is long enough;
// vec(i, dst) gives the vector of key i.
func (ks *keySet) writePack(ctx context.Context, s *Store, fp string, dim int, vec func(i int, dst []byte)) error {
	if len(ks.keys) < packMinKeys || s.readOnly {
		return nil
	}
	return s.writePack(ctx, fp, dim, ks.id, len(ks.keys), vec)
}

// load calls hit(i, value) for every key i found under fp (value is only
// valid during the call; calls run concurrently, never twice for one i)
// and records the sorted indices of the misses. A value whose length is not
// 4*dim is an error.
func (s *Store) load(ctx context.Context, fp string, dim int, keys [][]byte, hit func(i int, v []byte)) (*keySet, error) {
	ks := &keySet{keys: keys}
	if len(keys) >= packMinKeys {
		ks.id = keySeqID(keys)
		ok, err := s.readPack(ctx, fp, dim, ks.id, len(keys), hit)
		if err != nil {
			return nil, err
		}
		if ok {
			ks.packed = true
			return ks, nil
		}
	}
	if err := s.lookupAll(ctx, fp, dim, ks, hit); err != nil {
		return nil, err
	}
	return ks, nil
}

// lookupAll looks every key of ks up on its own, in sorted order, with
// parallel iterators, recording the misses.
func (s *Store) lookupAll(ctx context.Context, fp string, dim int, ks *keySet, hit func(i int, v []byte)) error {
	keys := ks.keys
	order := sortedOrder(keys)
	parts := min(runtime.GOMAXPROCS(0), max(1, len(keys)/minPart))
	pre := vecPrefix(fp)
	missParts := make([][]int, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*len(keys)/parts, (p+1)*len(keys)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			missParts[p], errs[p] = s.lookupPart(ctx, pre, dim, keys, order[lo:hi], hit)
		}()
	}
	wg.Wait()
	ks.misses = ks.misses[:0]
	for p := range parts {
		if errs[p] != nil {
			return fmt.Errorf("cache %s: fingerprint %q: %w", s.dir, fp, errs[p])
		}
		ks.misses = append(ks.misses, missParts[p]...)
	}
	slices.Sort(ks.misses)
	return nil
}

// lookupPart walks one sorted run of keys with a single iterator: a few
// Next steps when the following key is near, a Seek otherwise.
func (s *Store) lookupPart(ctx context.Context, pre []byte, dim int, keys [][]byte, order []int, hit func(int, []byte)) ([]int, error) {
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: pre})
	defer it.Close()
	var misses []int
	full := make([]byte, 0, len(pre)+64)
	seeked := false
	for n, i := range order {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		full = append(append(full[:0], pre...), keys[i]...)
		if !seeked {
			it.Seek(full)
			seeked = true
		} else {
			steps := 0
			for it.Valid() && bytes.Compare(it.Item().Key(), full) < 0 && steps < 4 {
				it.Next()
				steps++
			}
			if it.Valid() && bytes.Compare(it.Item().Key(), full) < 0 {
				it.Seek(full)
			}
		}
		if !it.Valid() || !bytes.Equal(it.Item().Key(), full) {
			misses = append(misses, i)
			continue
		}
		err := it.Item().Value(func(v []byte) error {
			if len(v) != 4*dim {
				return fmt.Errorf("key %x: value of %d bytes, want %d (run verify)", keys[i], len(v), 4*dim)
			}
			hit(i, v)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return misses, nil
}

// sortedOrder returns the indices of keys in key order (sorting on the
// first eight bytes first: content keys are hashes).
func sortedOrder(keys [][]byte) []int {
	type ent struct {
		pre uint64
		i   int
	}
	ents := make([]ent, len(keys))
	var buf [8]byte
	for i, k := range keys {
		n := copy(buf[:], k)
		clear(buf[n:])
		ents[i] = ent{binary.BigEndian.Uint64(buf[:]), i}
	}
	slices.SortFunc(ents, func(a, b ent) int {
		if c := cmp.Compare(a.pre, b.pre); c != 0 {
			return c
		}
		return bytes.Compare(keys[a.i], keys[b.i])
	})
	order := make([]int, len(keys))
	for j, e := range ents {
		order[j] = e.i
	}
	return order
}
