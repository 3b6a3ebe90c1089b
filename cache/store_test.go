package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"gonum.org/v1/gonum/mat"
)

func TestStatsVerifyRemove(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, b := newHashEncoder("a", 8), newHashEncoder("b", 16)
	for _, e := range []*hashEncoder{a, b} {
		if _, err := Fill(ctx, []Spec{{Encoder: e}}, texts(50), FillOptions{Store: s, Progress: ProgressOff}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Meta.Fingerprint != a.fp || st[0].Entries != 50 || st[1].Entries != 50 {
		t.Fatalf("stats %+v", st)
	}
	// Each vector costs at least its key (32-byte hash) and value.
	if st[0].Bytes < 50*(32+4*8) || st[1].Bytes < 50*(32+4*16) || st[1].Bytes <= st[0].Bytes {
		t.Fatalf("bytes %d %d", st[0].Bytes, st[1].Bytes)
	}
	rep, err := s.Verify(ctx)
	if err != nil || !rep.OK() || rep.Fingerprints != 2 || rep.Entries != 100 {
		t.Fatalf("verify %+v %v", rep, err)
	}

	// Damage: a short value, a vector without metadata, a wrong count.
	k0, _ := ContentKey("sentence number 0")
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(append(vecPrefix(a.fp), k0...), []byte{1, 2, 3}); err != nil {
			return err
		}
		return txn.Set(append(vecPrefix("orphan"), k0...), make([]byte, 8))
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, _ = s.Verify(ctx)
	msgs := []string{}
	for _, p := range rep.Problems {
		msgs = append(msgs, p.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"value of 3 bytes, want 32", `"orphan"`, "vector without metadata"} {
		if !strings.Contains(all, want) {
			t.Errorf("verify problems lack %q:\n%s", want, all)
		}
	}
	// A damaged value is an error on load, never a silent reuse.
	x := mat.NewDense(1, 8, nil)
	if _, err := s.Load(ctx, a.fp, [][]byte{k0}, x, 0); err == nil || !strings.Contains(err.Error(), "run verify") {
		t.Fatalf("load of damaged value: %v", err)
	}

	n, err := s.Remove(ctx, a.fp)
	if err != nil || n != 50 {
		t.Fatalf("remove: %d %v", n, err)
	}
	st, _ = s.Stats(ctx)
	if len(st) != 2 || st[0].Meta.Fingerprint != "orphan" || st[0].Meta.Dim != 0 || st[1].Meta.Fingerprint != b.fp {
		t.Fatalf("stats after remove %+v", st)
	}
	if _, err := s.Remove(ctx, "orphan"); err != nil {
		t.Fatal(err)
	}
	rep, _ = s.Verify(ctx)
	if !rep.OK() || rep.Entries != 50 {
		t.Fatalf("verify after removals %+v", rep)
	}
}

func TestInterruptedRemoveIsFinished(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	e := newHashEncoder("a", 4)
	if _, err := Fill(ctx, []Spec{{Encoder: e}}, texts(20), FillOptions{Store: s, Progress: ProgressOff}); err != nil {
		t.Fatal(err)
	}
	// As if Remove died after marking the record.
	err := s.db.Update(func(txn *badger.Txn) error {
		m, _, err := getMeta(txn, e.fp)
		m.Removing = true
		if err != nil {
			return err
		}
		return putMeta(txn, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := s.Verify(ctx)
	if rep.OK() || !strings.Contains(rep.Problems[0].Msg, "interrupted removal") {
		t.Fatalf("verify %+v", rep)
	}
	e.encoded.Store(0)
	m, err := Fill(ctx, []Spec{{Encoder: e}}, texts(5), FillOptions{Store: s, Progress: ProgressOff})
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, m, e)
	if rep, _ := s.Verify(ctx); !rep.OK() || rep.Entries != 5 || e.encoded.Load() != 5 {
		t.Fatalf("after finishing the removal: %+v, encoded %d", rep, e.encoded.Load())
	}
}

func TestSecondOpenNamesHolderAndReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	e := newHashEncoder("a", 4)
	if _, err := Fill(ctx, []Spec{{Encoder: e}}, texts(10), FillOptions{Store: s, Progress: ProgressOff}); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	for _, ro := range []bool{false, true} {
		_, err := Open(dir, Options{ReadOnly: ro, Logger: quiet()})
		var le *LockedError
		if !errors.As(err, &le) || le.PID != os.Getpid() || le.Host != host || !strings.Contains(err.Error(), "in use by process") {
			t.Fatalf("read-only %v: %v", ro, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Readers share the directory and see the vectors; they cannot write.
	r1, err := Open(dir, Options{ReadOnly: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := Open(dir, Options{ReadOnly: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	m, err := Fill(ctx, []Spec{{Encoder: e}}, texts(10), FillOptions{Store: r2, Progress: ProgressOff})
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, m, e)
	if _, err := Fill(ctx, []Spec{{Encoder: e}}, texts(11), FillOptions{Store: r1, Progress: ProgressOff}); err == nil || !strings.Contains(err.Error(), "read-only and misses 1 of 11") {
		t.Fatalf("read-only miss: %v", err)
	}
	if _, err := Open(dir, Options{Logger: quiet()}); err == nil {
		t.Fatal("writer opened while readers hold the cache")
	}
}

func TestBadDirectories(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file, Options{Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file as dir: %v", err)
	}
	if _, err := Open(filepath.Join(file, "sub"), Options{Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "unreadable") {
		t.Fatalf("dir under a file: %v", err)
	}
	if _, err := Open(filepath.Join(tmp, "absent"), Options{ReadOnly: true, Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("absent read-only: %v", err)
	}

	// A Badger directory that is not a simlearn cache.
	other := filepath.Join(tmp, "other")
	db, err := badger.Open(badger.DefaultOptions(other).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("k"), []byte("v")) })
	_ = db.Close()
	if _, err := Open(other, Options{Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "not a simlearn cache") {
		t.Fatalf("foreign badger dir: %v", err)
	}

	// A corrupt manifest.
	dir := filepath.Join(tmp, "corrupt")
	s := openTest(t, dir)
	if _, err := Fill(context.Background(), []Spec{{Encoder: newHashEncoder("a", 4)}}, texts(10), FillOptions{Store: s, Progress: ProgressOff}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("this is not a manifest at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "run verify") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("corrupt manifest: %v", err)
	}
}
