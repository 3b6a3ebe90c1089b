package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Packs: besides one entry per object, a fill of many objects stores the
// same vectors once more as a pack, a run of large contiguous chunks in the
// order of the fill's keys (the order of the matrix rows), so that the next
// run over the same objects streams a few hundred sequential values straight
// into the matrix instead of looking up one entry per object: about as fast
// as reading one flat file. A pack is named by the hash of its key sequence;
// its manifest, written after all its chunks, is its completeness marker:
// chunks without a manifest are never read.
const (
	// packMinKeys is the fewest distinct keys worth a pack.
	packMinKeys = 1024
	// packChunkBytes is the target size of one chunk value.
	packChunkBytes = 512 << 10
	// packsKept is how many packs a fingerprint keeps; writing one more
	// drops the oldest.
	packsKept = 4
)

var (
	manPre  = []byte("n\x00") // n\0<fp>\0<pack id>: manifest (JSON)
	packPre = []byte("p\x00") // p\0<fp>\0<pack id><chunk, 4 bytes big-endian>: vectors
)

type packID [sha256.Size]byte

type packManifest struct {
	Keys     int       `json:"keys"`
	PerChunk int       `json:"per_chunk"`
	Chunks   int       `json:"chunks"`
	Dim      int       `json:"dim"`
	Created  time.Time `json:"created"`
}

func fpPrefix(pre []byte, fp string) []byte {
	p := make([]byte, 0, len(pre)+len(fp)+1)
	return append(append(append(p, pre...), fp...), 0)
}

func manKey(fp string, id packID) []byte { return append(fpPrefix(manPre, fp), id[:]...) }

func chunkKey(fp string, id packID, c int) []byte {
	return binary.BigEndian.AppendUint32(append(fpPrefix(packPre, fp), id[:]...), uint32(c))
}

// keySeqID names a sequence of keys (length-prefixed, in order).
func keySeqID(keys [][]byte) packID {
	h := sha256.New()
	var buf []byte
	for _, k := range keys {
		buf = binary.AppendUvarint(buf[:0], uint64(len(k)))
		h.Write(buf)
		h.Write(k)
	}
	var id packID
	h.Sum(id[:0])
	return id
}

// readPack reads pack id of fp, if complete, calling visit(i, vector) for
// the i-th key of its sequence (concurrently, once per i). ok is false when there
// is no complete pack of n keys of dimension dim.
func (s *Store) readPack(ctx context.Context, fp string, dim int, id packID, n int, visit func(i int, v []byte)) (bool, error) {
	var man packManifest
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(manKey(fp, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &man) })
	})
	if err != nil {
		return false, fmt.Errorf("cache %s: fingerprint %q: pack manifest (run verify): %w", s.dir, fp, err)
	}
	if !found || man.Keys != n || man.Dim != dim || man.PerChunk <= 0 ||
		man.Chunks != (man.Keys+man.PerChunk-1)/man.PerChunk {
		// No pack, or a manifest that does not cover every row: the
		// per-key path reads (or re-encodes) the vectors instead.
		return false, nil
	}
	parts := min(runtime.GOMAXPROCS(0), man.Chunks)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*man.Chunks/parts, (p+1)*man.Chunks/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = s.readChunks(ctx, fp, id, man, lo, hi, visit)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return false, fmt.Errorf("cache %s: fingerprint %q: pack %x: %w (run verify)", s.dir, fp, id[:8], err)
	}
	return true, nil
}

func (s *Store) readChunks(ctx context.Context, fp string, id packID, man packManifest, lo, hi int, visit func(int, []byte)) error {
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	pre := append(fpPrefix(packPre, fp), id[:]...)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: pre})
	defer it.Close()
	c := lo
	vb := 4 * man.Dim
	for it.Seek(chunkKey(fp, id, lo)); c < hi; it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !it.Valid() || !bytes.Equal(it.Item().Key(), chunkKey(fp, id, c)) {
			return fmt.Errorf("chunk %d of %d is missing", c, man.Chunks)
		}
		first := c * man.PerChunk
		count := min(man.PerChunk, man.Keys-first)
		err := it.Item().Value(func(v []byte) error {
			if len(v) != count*vb {
				return fmt.Errorf("chunk %d has %d bytes, want %d", c, len(v), count*vb)
			}
			for j := range count {
				visit(first+j, v[j*vb:(j+1)*vb])
			}
			return nil
		})
		if err != nil {
			return err
		}
		c++
	}
	return nil
}

// writePack stores the vectors of the n keys of sequence id, vec(i, dst)
// giving the i-th, then its manifest, then drops the oldest
// packs beyond packsKept.
func (s *Store) writePack(ctx context.Context, fp string, dim int, id packID, n int, vec func(i int, dst []byte)) error {
	if s.readOnly {
		return nil
	}
	vb := 4 * dim
	per := max(1, packChunkBytes/vb)
	chunks := (n + per - 1) / per
	chunksPerTxn := max(1, int(s.maxTxn)/(per*vb+64))
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for c0 := 0; c0 < chunks; c0 += chunksPerTxn {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.checkSpace(); err != nil {
			return err
		}
		err := s.db.Update(func(txn *badger.Txn) error {
			for c := c0; c < min(chunks, c0+chunksPerTxn); c++ {
				first := c * per
				count := min(per, n-first)
				buf := make([]byte, count*vb)
				for j := range count {
					vec(first+j, buf[j*vb:(j+1)*vb])
				}
				if err := txn.Set(chunkKey(fp, id, c), buf); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("cache %s: fingerprint %q: write pack: %w", s.dir, fp, err)
		}
	}
	b, _ := json.Marshal(packManifest{Keys: n, PerChunk: per, Chunks: chunks, Dim: dim, Created: time.Now().UTC()})
	s.log.Debug("cache: wrote pack", "fingerprint", fp, "keys", n, "chunks", chunks)
	err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(manKey(fp, id), b) })
	if err != nil {
		return fmt.Errorf("cache %s: fingerprint %q: write pack manifest: %w", s.dir, fp, err)
	}
	return s.prunePacks(fp)
}

type packInfo struct {
	id  packID
	man packManifest
}

func (s *Store) listPacks(txn *badger.Txn, fp string) ([]packInfo, error) {
	pre := fpPrefix(manPre, fp)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: pre})
	defer it.Close()
	var out []packInfo
	for it.Rewind(); it.Valid(); it.Next() {
		var p packInfo
		copy(p.id[:], it.Item().Key()[len(pre):])
		if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &p.man) }); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// prunePacks drops the oldest packs of fp beyond packsKept: manifest
// first, so a half-dropped pack is never read. Called with writeMu held.
func (s *Store) prunePacks(fp string) error {
	var packs []packInfo
	err := s.db.View(func(txn *badger.Txn) (err error) {
		packs, err = s.listPacks(txn, fp)
		return err
	})
	if err != nil || len(packs) <= packsKept {
		return err
	}
	slices.SortFunc(packs, func(a, b packInfo) int { return a.man.Created.Compare(b.man.Created) })
	for _, p := range packs[:len(packs)-packsKept] {
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(manKey(fp, p.id)) }); err != nil {
			return err
		}
		for c := 0; c < p.man.Chunks; c += 64 {
			err := s.db.Update(func(txn *badger.Txn) error {
				for k := c; k < min(p.man.Chunks, c+64); k++ {
					if err := txn.Delete(chunkKey(fp, p.id, k)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
