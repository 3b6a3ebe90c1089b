package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"gonum.org/v1/gonum/mat"
)

// A pack manifest whose chunk count does not cover every row is not used: the
// rows come from the per-key entries instead of staying zero.
func TestPackManifestTooFewChunks(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	enc := newHashEncoder("text", 8)
	objs := texts(packMinKeys + 300)
	o := FillOptions{Store: s, Progress: ProgressOff}
	cold, err := Fill(ctx, []Spec{{Encoder: enc}}, objs, o)
	if err != nil {
		t.Fatal(err)
	}
	damaged := 0
	err = s.db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: fpPrefix(manPre, enc.fp)})
		defer it.Close()
		var keys, vals [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			var man packManifest
			if err := json.Unmarshal(v, &man); err != nil {
				return err
			}
			man.Chunks = 0
			if v, err = json.Marshal(man); err != nil {
				return err
			}
			keys, vals = append(keys, bytes.Clone(it.Item().Key())), append(vals, v)
		}
		for i := range keys {
			if err := txn.Set(keys[i], vals[i]); err != nil {
				return err
			}
			damaged++
		}
		return nil
	})
	if err != nil || damaged != 1 {
		t.Fatalf("damaging the manifest: %v (%d manifests)", err, damaged)
	}
	warm, err := Fill(ctx, []Spec{{Encoder: enc}}, objs, o)
	if err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(cold.X, warm.X) {
		t.Fatal("rows not covered by the damaged pack were not read")
	}
	if enc.encoded.Load() != int64(len(objs)) {
		t.Fatalf("encoded %d, want %d (only the cold run)", enc.encoded.Load(), len(objs))
	}
}
