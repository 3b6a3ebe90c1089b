package cache

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// FingerprintStats describes the entries of one fingerprint.
type FingerprintStats struct {
	Meta Meta
	// Entries is the number of vectors found (Meta.Entries is the count
	// recorded with them; Verify compares the two).
	Entries int64
	// Bytes is the size of their keys and values.
	Bytes int64
	// Packs is the number of complete packs, PackBytes the size of all
	// pack records (see the package documentation).
	Packs     int
	PackBytes int64
}

// Stats lists every fingerprint in the store with its entry count and size,
// in fingerprint order. Vectors without a metadata record are listed under
// their fingerprint with a zero Meta.
func (s *Store) Stats(ctx context.Context) ([]FingerprintStats, error) {
	byFP := map[string]*FingerprintStats{}
	get := func(fp string) *FingerprintStats {
		st := byFP[fp]
		if st == nil {
			st = &FingerprintStats{}
			byFP[fp] = st
		}
		return st
	}
	err := s.scan(ctx, func(item *badger.Item) error {
		k := item.Key()
		switch {
		case bytes.HasPrefix(k, metaPre):
			fp := string(k[len(metaPre):])
			st := get(fp)
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &st.Meta) }); err != nil {
				return fmt.Errorf("metadata of fingerprint %q does not decode (run verify): %w", fp, err)
			}
			st.Bytes += int64(len(k)) + item.ValueSize()
		case bytes.HasPrefix(k, vecPre):
			fp, _, ok := splitKey(vecPre, k)
			if !ok {
				return nil
			}
			st := get(fp)
			st.Entries++
			st.Bytes += int64(len(k)) + item.ValueSize()
		case bytes.HasPrefix(k, manPre), bytes.HasPrefix(k, packPre):
			fp, _, ok := splitKey(k[:2], k)
			if !ok {
				return nil
			}
			st := get(fp)
			if k[0] == manPre[0] {
				st.Packs++
			}
			st.PackBytes += int64(len(k)) + item.ValueSize()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cache %s: stats: %w", s.dir, err)
	}
	out := make([]FingerprintStats, 0, len(byFP))
	for fp, st := range byFP {
		if st.Meta.Fingerprint == "" {
			st.Meta.Fingerprint = fp
		}
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b FingerprintStats) int { return strings.Compare(a.Meta.Fingerprint, b.Meta.Fingerprint) })
	return out, nil
}

// splitKey splits "<pre><fp>\0<rest>".
func splitKey(pre, k []byte) (fp string, key []byte, ok bool) {
	rest := k[len(pre):]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return "", nil, false
	}
	return string(rest[:i]), rest[i+1:], true
}

// Problem is one inconsistency [Store.Verify] found.
type Problem struct {
	Fingerprint string
	// Key is the content key concerned, nil for a fingerprint-wide problem.
	Key []byte
	Msg string
}

func (p Problem) String() string {
	if p.Key != nil {
		return fmt.Sprintf("fingerprint %q key %x: %s", p.Fingerprint, p.Key, p.Msg)
	}
	return fmt.Sprintf("fingerprint %q: %s", p.Fingerprint, p.Msg)
}

// VerifyReport is the result of [Store.Verify].
type VerifyReport struct {
	Fingerprints int
	Entries      int64
	// Packs is the number of complete packs checked; IncompletePacks
	// counts chunks of packs whose writing was interrupted (never read,
	// and rewritten by the next fill of the same objects).
	Packs, IncompletePacks int
	// Problems is empty for a sound store.
	Problems []Problem
}

// OK reports whether no problem was found.
func (r VerifyReport) OK() bool { return len(r.Problems) == 0 }

// Verify reads every record: each metadata record must decode, each vector
// must belong to a fingerprint with metadata, have 4*Dim bytes and hold
// finite floats, each fingerprint's recorded entry count must equal the
// vectors found, and each complete pack must have all its chunks at the
// right sizes. Problems are reported, not repaired (Remove a fingerprint
// to drop its entries). The error is for a store that cannot be read at all.
func (s *Store) Verify(ctx context.Context) (VerifyReport, error) {
	var rep VerifyReport
	metas := map[string]Meta{}
	counts := map[string]int64{}
	type packRef struct {
		fp string
		id packID
	}
	mans := map[packRef]packManifest{}
	seenChunks := map[packRef]int{}
	// Metadata keys ("m\0...") sort before vector keys ("v\0..."), so every
	// record is known before its vectors are checked.
	err := s.scan(ctx, func(item *badger.Item) error {
		k := item.KeyCopy(nil)
		switch {
		case bytes.Equal(k, formatKey):
		case bytes.HasPrefix(k, metaPre):
			fp := string(k[len(metaPre):])
			var m Meta
			err := item.Value(func(v []byte) error { return json.Unmarshal(v, &m) })
			switch {
			case err != nil:
				rep.Problems = append(rep.Problems, Problem{Fingerprint: fp, Msg: "metadata does not decode: " + err.Error()})
			case m.Fingerprint != fp:
				rep.Problems = append(rep.Problems, Problem{Fingerprint: fp, Msg: fmt.Sprintf("metadata names fingerprint %q", m.Fingerprint)})
			case m.Dim <= 0:
				rep.Problems = append(rep.Problems, Problem{Fingerprint: fp, Msg: fmt.Sprintf("metadata dimension %d", m.Dim)})
			case m.Removing:
				rep.Problems = append(rep.Problems, Problem{Fingerprint: fp, Msg: "an interrupted removal (Remove it again)"})
				metas[fp] = m
			default:
				metas[fp] = m
			}
		case bytes.HasPrefix(k, manPre):
			fp, rest, ok := splitKey(manPre, k)
			var man packManifest
			if !ok || len(rest) != len(packID{}) {
				rep.Problems = append(rep.Problems, Problem{Msg: fmt.Sprintf("malformed key %q", k)})
				return nil
			}
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &man) }); err != nil || man.Dim <= 0 || man.PerChunk <= 0 {
				rep.Problems = append(rep.Problems, Problem{Fingerprint: fp, Msg: fmt.Sprintf("pack %x: manifest does not decode (%v)", rest[:8], err)})
				return nil
			}
			if m, ok := metas[fp]; !ok || m.Dim != man.Dim {
				rep.Problems = append(rep.Problems, Problem{Fingerprint: fp, Msg: fmt.Sprintf("pack %x: dimension %d does not match the metadata", rest[:8], man.Dim)})
			}
			mans[packRef{fp, packID(rest)}] = man
		case bytes.HasPrefix(k, packPre):
			fp, rest, ok := splitKey(packPre, k)
			if !ok || len(rest) != len(packID{})+4 {
				rep.Problems = append(rep.Problems, Problem{Msg: fmt.Sprintf("malformed key %q", k)})
				return nil
			}
			ref := packRef{fp, packID(rest[:len(packID{})])}
			man, ok := mans[ref]
			if !ok {
				rep.IncompletePacks++
				return nil
			}
			c := int(binary.BigEndian.Uint32(rest[len(packID{}):]))
			want := 4 * man.Dim * min(man.PerChunk, man.Keys-c*man.PerChunk)
			got := -1
			_ = item.Value(func(v []byte) error { got = len(v); return nil })
			if c >= man.Chunks || got != want {
				rep.Problems = append(rep.Problems, Problem{Fingerprint: fp, Msg: fmt.Sprintf("pack %x: chunk %d of %d has %d bytes, want %d", ref.id[:8], c, man.Chunks, got, want)})
				return nil
			}
			seenChunks[ref]++
		case bytes.HasPrefix(k, vecPre):
			fp, key, ok := splitKey(vecPre, k)
			if !ok {
				rep.Problems = append(rep.Problems, Problem{Msg: fmt.Sprintf("malformed key %q", k)})
				return nil
			}
			rep.Entries++
			counts[fp]++
			m, ok := metas[fp]
			if !ok {
				rep.Problems = append(rep.Problems, Problem{Fingerprint: fp, Key: key, Msg: "vector without metadata"})
				return nil
			}
			err := item.Value(func(v []byte) error {
				if len(v) != 4*m.Dim {
					return fmt.Errorf("value of %d bytes, want %d (dimension %d)", len(v), 4*m.Dim, m.Dim)
				}
				for i, x := range decodeVec(v) {
					if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
						return fmt.Errorf("component %d is %v", i, x)
					}
				}
				return nil
			})
			if err != nil {
				rep.Problems = append(rep.Problems, Problem{Fingerprint: fp, Key: key, Msg: err.Error()})
			}
		default:
			rep.Problems = append(rep.Problems, Problem{Msg: fmt.Sprintf("unknown key %q", k)})
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("cache %s: verify: %w", s.dir, err)
	}
	rep.Fingerprints = len(metas)
	rep.Packs = len(mans)
	for ref, man := range mans {
		if seenChunks[ref] != man.Chunks {
			rep.Problems = append(rep.Problems, Problem{Fingerprint: ref.fp, Msg: fmt.Sprintf("pack %x: %d of %d chunks", ref.id[:8], seenChunks[ref], man.Chunks)})
		}
	}
	for fp, m := range metas {
		if !m.Removing && counts[fp] != m.Entries {
			rep.Problems = append(rep.Problems, Problem{Fingerprint: fp, Msg: fmt.Sprintf("metadata counts %d entries, found %d", m.Entries, counts[fp])})
		}
	}
	return rep, nil
}

// Remove deletes every entry of fingerprint fp and its metadata record and
// returns how many vectors there were. It first marks the record as being
// removed, so an interrupted removal is finished before the fingerprint is
// used again.
func (s *Store) Remove(ctx context.Context, fp string) (int64, error) {
	if s.readOnly {
		return 0, fmt.Errorf("cache %s is open read-only", s.dir)
	}
	if err := checkFingerprint(fp); err != nil {
		return 0, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var n int64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: vecPrefix(fp)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cache %s: remove %q: %w", s.dir, fp, err)
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		m, ok, err := getMeta(txn, fp)
		if err != nil || !ok {
			return err
		}
		m.Removing = true
		return putMeta(txn, m)
	})
	if err != nil {
		return 0, fmt.Errorf("cache %s: remove %q: %w", s.dir, fp, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.db.DropPrefix(vecPrefix(fp), fpPrefix(manPre, fp), fpPrefix(packPre, fp), metaKey(fp)); err != nil {
		return 0, fmt.Errorf("cache %s: remove %q: %w", s.dir, fp, err)
	}
	if err := s.db.Sync(); err != nil {
		return 0, fmt.Errorf("cache %s: remove %q: %w", s.dir, fp, err)
	}
	return n, nil
}

// scan calls fn on every item of the store, in key order, checking ctx
// every 65,536 items; it stops at fn's first error.
func (s *Store) scan(ctx context.Context, fn func(item *badger.Item) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n%65536 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := fn(it.Item()); err != nil {
				return err
			}
		}
		return nil
	})
}
