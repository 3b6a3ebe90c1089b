package cache

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// formatVersion is the layout version recorded in every store.
const formatVersion = 1

// Key prefixes. A fingerprint never contains a NUL byte, so the prefixes of
// two fingerprints never overlap.
var (
	formatKey = []byte("f\x00format")
	metaPre   = []byte("m\x00")
	vecPre    = []byte("v\x00")
)

// lockInfoName is the file, beside Badger's own LOCK, that names the process
// holding a store open for writing.
const lockInfoName = "simlearn-lock.json"

// Options configure [Open]. The zero value is a read-write store with
// settings suited to an embedding cache.
type Options struct {
	// ReadOnly opens the store for reading only. Several read-only openers
	// may share a directory; none can while a process holds it for writing.
	ReadOnly bool
	// Logger receives the store's messages; Badger's own warnings and
	// errors are routed to it too (its informational chatter at debug
	// level). Nil means slog.Default().
	Logger *slog.Logger
	// MemTableSize is Badger's memtable size in bytes; 0 means 32 MiB.
	// Transactions are limited to 15% of it, and writes split accordingly.
	MemTableSize int64
	// BlockSize is the size of a table block in bytes; 0 means 64 KiB,
	// which suits vectors of a few KiB read in key order.
	BlockSize int
	// ReserveBytes is the free space writes leave on the filesystem: a
	// write that would start with less available fails with an error
	// instead (Badger maps its files, and a process that fills the disk
	// through a mapping dies of SIGBUS). 0 means four memtables plus
	// 16 MiB; negative disables the check.
	ReserveBytes int64
}

// Meta is the record kept for each fingerprint.
type Meta struct {
	// Fingerprint is the encoder's fingerprint, the key prefix.
	Fingerprint string `json:"fingerprint"`
	// Encoder is the encoder's name when the record was created.
	Encoder string `json:"encoder"`
	// Dim is the length of every vector under this fingerprint.
	Dim int `json:"dim"`
	// Options describe the encoder (see [Describer]).
	Options map[string]string `json:"options,omitempty"`
	// Created is when the record was written.
	Created time.Time `json:"created"`
	// Entries is the number of vectors, kept in the same transactions as
	// the vectors themselves: the per-fingerprint completeness marker.
	Entries int64 `json:"entries"`
	// Removing is set while [Store.Remove] deletes the entries; a record
	// found with it set is finished off before it is used again.
	Removing bool `json:"removing,omitempty"`
}

// Describer is implemented by encoders that can describe their options
// (model checksum, pooling, maximum length, ...) for the metadata record.
type Describer interface {
	Describe() map[string]string
}

// Store is an open cache directory. Its methods are safe for concurrent use.
type Store struct {
	db       *badger.DB
	dir      string
	readOnly bool
	log      *slog.Logger
	// writeMu serialises writers so that existence checks and entry
	// counts in one transaction never race another writer.
	writeMu sync.Mutex
	// maxTxn is the byte budget of one write transaction.
	maxTxn int64
	// reserve is the free space writes leave (see Options.ReserveBytes).
	reserve int64
}

// LockedError is returned by [Open] when another process holds the store.
type LockedError struct {
	Dir string
	// PID and Host name the holder; zero and empty when it could not be
	// told (a holder from an older version, or a read-only holder).
	PID   int
	Host  string
	Since time.Time
	// ReadOnly reports whether the refused open asked for read-only access.
	ReadOnly bool
}

func (e *LockedError) Error() string {
	holder := "another process"
	if e.PID != 0 {
		holder = fmt.Sprintf("process %d on host %s (since %s)", e.PID, e.Host, e.Since.Format(time.RFC3339))
	}
	hint := "wait for it to finish, or open the cache read-only (Options.ReadOnly)"
	if e.ReadOnly {
		hint = "read-only access needs the writer to finish first"
	}
	return fmt.Sprintf("cache %s is in use by %s: %s", e.Dir, holder, hint)
}

type lockInfo struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// DefaultDir is ${SIMLEARN_HOME}/cache, or $HOME/.cache/simlearn/cache when
// SIMLEARN_HOME is unset.
func DefaultDir() (string, error) {
	if h := os.Getenv("SIMLEARN_HOME"); h != "" {
		return filepath.Join(h, "cache"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cache: no default directory (set SIMLEARN_HOME): %w", err)
	}
	return filepath.Join(home, ".cache", "simlearn", "cache"), nil
}

func badgerOptions(dir string, o Options, log *slog.Logger) badger.Options {
	mem := o.MemTableSize
	if mem <= 0 {
		mem = 32 << 20
	}
	block := o.BlockSize
	if block <= 0 {
		block = 64 << 10
	}
	bo := badger.DefaultOptions(dir).
		WithReadOnly(o.ReadOnly).
		WithLogger(badgerLogger{log}).
		// Each batch's commit is durable; a batch is many vectors, so
		// the fsync cost is shared.
		WithSyncWrites(true).
		// A modest cache: two memtables, few background goroutines.
		WithMemTableSize(mem).
		WithNumMemtables(2).
		WithNumCompactors(2).
		WithNumGoroutines(4).
		WithBaseTableSize(8 << 20).
		WithBaseLevelSize(64 << 20).
		WithBlockSize(block).
		// Float data does not compress; without compression no block
		// cache is needed, tables are read straight from the mapping.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithMetricsEnabled(false).
		WithDetectConflicts(false)
	// Vectors stay in the LSM tree (never in the value log), so no value
	// log garbage collection is ever needed and reads in key order are
	// sequential.
	bo.ValueThreshold = min(1<<20, (15*mem)/100)
	return bo
}

// Open opens (creating it if needed, unless read-only) the cache in dir; an
// empty dir means [DefaultDir]. A directory held by another process gives a
// [*LockedError].
func Open(dir string, o Options) (*Store, error) {
	var err error
	if dir == "" {
		if dir, err = DefaultDir(); err != nil {
			return nil, err
		}
	}
	if o.MemTableSize <= 0 {
		o.MemTableSize = 32 << 20
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := checkDir(dir, o.ReadOnly); err != nil {
		return nil, err
	}
	bo := badgerOptions(dir, o, log)
	db, err := openBadger(bo)
	if err != nil && !o.ReadOnly && strings.Contains(err.Error(), "Create a new file") {
		// An empty memtable log left by a full disk: drop it and retry.
		if rerr := withDirLock(dir, func() error { return removeEmptyWALs(dir, log) }); rerr == nil {
			db, err = openBadger(bo)
		}
	}
	if err != nil {
		return nil, openError(dir, o.ReadOnly, err)
	}
	s := &Store{db: db, dir: dir, readOnly: o.ReadOnly, log: log, maxTxn: (15 * bo.MemTableSize) / 100 / 2, reserve: o.ReserveBytes}
	if s.reserve == 0 {
		s.reserve = 4*bo.MemTableSize + 16<<20
	}
	if !o.ReadOnly {
		err = writeLockInfo(dir)
	}
	if err == nil {
		err = s.checkFormat()
	}
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// openBadger opens Badger, turning a panic on corrupt files into an error.
func openBadger(bo badger.Options) (db *badger.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("badger panicked: %v", r)
		}
	}()
	return badger.Open(bo)
}

func checkDir(dir string, readOnly bool) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if readOnly {
			return fmt.Errorf("cache %s does not exist (nothing to read)", dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cache: create directory %s: %w", dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("cache %s is unreadable: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("cache %s is not a directory", dir)
	}
	if _, err := os.ReadDir(dir); err != nil {
		return fmt.Errorf("cache %s is unreadable: %w", dir, err)
	}
	return nil
}

func openError(dir string, readOnly bool, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Cannot acquire directory lock"):
		le := &LockedError{Dir: dir, ReadOnly: readOnly}
		if b, rerr := os.ReadFile(filepath.Join(dir, lockInfoName)); rerr == nil {
			var li lockInfo
			if json.Unmarshal(b, &li) == nil {
				le.PID, le.Host, le.Since = li.PID, li.Host, li.Since
			}
		}
		return le
	case readOnly && strings.Contains(msg, badger.ErrTruncateNeeded.Error()):
		return fmt.Errorf("cache %s was not closed cleanly and cannot be opened read-only; open it read-write once to recover it: %w", dir, err)
	}
	return fmt.Errorf("cache %s cannot be opened (it may be corrupt: run verify, or remove the directory to start afresh): %w", dir, err)
}

// removeEmptyWALs deletes zero-length memtable logs (*.mem). A process that
// ran out of disk space while creating its next memtable leaves one behind,
// and Badger refuses to open a directory holding it. An empty log holds no
// entry, so nothing is lost.
func removeEmptyWALs(dir string, log *slog.Logger) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cache %s is unreadable: %w", dir, err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".mem") || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.Size() != 0 {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("cache %s: remove empty memtable log %s: %w", dir, p, err)
		}
		log.Warn("cache: removed an empty memtable log left by an interrupted write (full disk?)", "file", p)
	}
	return nil
}

func writeLockInfo(dir string) error {
	host, _ := os.Hostname()
	b, err := json.Marshal(lockInfo{PID: os.Getpid(), Host: host, Since: time.Now().UTC()})
	if err != nil {
		return err
	}
	p := filepath.Join(dir, lockInfoName)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return fmt.Errorf("cache: write lock info %s: %w", p, err)
	}
	return nil
}

func (s *Store) checkFormat() error {
	var found bool
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(formatKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(v []byte) error {
			var f struct {
				Format  string `json:"format"`
				Version int    `json:"version"`
			}
			if err := json.Unmarshal(v, &f); err != nil || f.Format != "simlearn-cache" {
				return fmt.Errorf("format record %q is not a simlearn cache's", v)
			}
			if f.Version != formatVersion {
				return fmt.Errorf("cache format version %d, this simlearn reads %d", f.Version, formatVersion)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("cache %s: %w (run verify)", s.dir, err)
	}
	if found {
		return nil
	}
	// No format record: the store must be empty (new).
	nonEmpty := false
	_ = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		it.Rewind()
		nonEmpty = it.Valid()
		return nil
	})
	if nonEmpty {
		return fmt.Errorf("cache %s holds data but no simlearn format record: not a simlearn cache", s.dir)
	}
	if s.readOnly {
		return nil
	}
	b, _ := json.Marshal(map[string]any{"format": "simlearn-cache", "version": formatVersion})
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(formatKey, b) })
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Close flushes and closes the store and releases the directory.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	if !s.readOnly {
		_ = os.Remove(filepath.Join(s.dir, lockInfoName))
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("cache %s: close: %w", s.dir, err)
	}
	return nil
}

func metaKey(fp string) []byte { return append(append([]byte{}, metaPre...), fp...) }

func vecPrefix(fp string) []byte {
	p := make([]byte, 0, len(vecPre)+len(fp)+1)
	return append(append(append(p, vecPre...), fp...), 0)
}

func checkFingerprint(fp string) error {
	if fp == "" {
		return errors.New("empty fingerprint")
	}
	if strings.IndexByte(fp, 0) >= 0 {
		return fmt.Errorf("fingerprint %q contains a NUL byte", fp)
	}
	return nil
}

func getMeta(txn *badger.Txn, fp string) (Meta, bool, error) {
	item, err := txn.Get(metaKey(fp))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Meta{}, false, nil
	}
	if err != nil {
		return Meta{}, false, err
	}
	var m Meta
	err = item.Value(func(v []byte) error { return json.Unmarshal(v, &m) })
	if err != nil {
		return Meta{}, false, fmt.Errorf("metadata of fingerprint %q does not decode (run verify): %w", fp, err)
	}
	return m, true, nil
}

func putMeta(txn *badger.Txn, m Meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return txn.Set(metaKey(m.Fingerprint), b)
}

// Meta returns the record of fingerprint fp; ok is false when there is none.
func (s *Store) Meta(fp string) (m Meta, ok bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		m, ok, err = getMeta(txn, fp)
		return err
	})
	return m, ok, err
}

// Register makes sure fingerprint fp has a metadata record for vectors of
// length dim, creating one (name and options describe the encoder) if
// needed. A record with another dimension is an error: the fingerprint must
// change whenever the output can.
func (s *Store) Register(fp, name string, dim int, opts map[string]string) (Meta, error) {
	if err := checkFingerprint(fp); err != nil {
		return Meta{}, fmt.Errorf("cache: encoder %q: %w", name, err)
	}
	if dim <= 0 {
		return Meta{}, fmt.Errorf("cache: encoder %q: dimension %d", name, dim)
	}
	m, ok, err := s.Meta(fp)
	if err != nil {
		return Meta{}, err
	}
	if ok && !m.Removing {
		if m.Dim != dim {
			return Meta{}, fmt.Errorf("cache: encoder %q: fingerprint %q holds vectors of dimension %d, the encoder says %d; the fingerprint must change with the output (or Remove the stale entries)", name, fp, m.Dim, dim)
		}
		return m, nil
	}
	if s.readOnly {
		return Meta{Fingerprint: fp, Encoder: name, Dim: dim, Options: opts}, nil
	}
	if ok && m.Removing {
		if _, err := s.Remove(context.Background(), fp); err != nil {
			return Meta{}, err
		}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	err = s.db.Update(func(txn *badger.Txn) error {
		cur, ok, err := getMeta(txn, fp)
		if err != nil {
			return err
		}
		if ok {
			m = cur
			return nil
		}
		m = Meta{Fingerprint: fp, Encoder: name, Dim: dim, Options: opts, Created: time.Now().UTC()}
		s.log.Debug("cache: new fingerprint", "dir", s.dir, "encoder", name, "fingerprint", fp, "dim", dim)
		return putMeta(txn, m)
	})
	if err != nil {
		return Meta{}, fmt.Errorf("cache: register fingerprint %q: %w", fp, err)
	}
	if m.Dim != dim {
		return Meta{}, fmt.Errorf("cache: encoder %q: fingerprint %q holds vectors of dimension %d, the encoder says %d", name, fp, m.Dim, dim)
	}
	return m, nil
}

// Put writes vectors under fingerprint fp (which must be registered), key i
// holding vecs[i]. Keys already present are left as they are. Every vector
// must have the registered dimension, or nothing is written. Writes are
// grouped in as few atomic, synced transactions as Badger allows; each also
// updates the fingerprint's entry count.
func (s *Store) Put(ctx context.Context, fp string, keys [][]byte, vecs [][]float32) error {
	if s.readOnly {
		return fmt.Errorf("cache %s is open read-only", s.dir)
	}
	if len(keys) != len(vecs) {
		return fmt.Errorf("cache: put %d keys with %d vectors", len(keys), len(vecs))
	}
	m, ok, err := s.Meta(fp)
	if err != nil {
		return err
	}
	if !ok || m.Removing {
		return fmt.Errorf("cache: fingerprint %q is not registered", fp)
	}
	for i, v := range vecs {
		if len(v) != m.Dim {
			return fmt.Errorf("cache: fingerprint %q: vector %d has length %d, want %d; nothing written", fp, i, len(v), m.Dim)
		}
		if len(keys[i]) == 0 {
			return fmt.Errorf("cache: fingerprint %q: key %d is empty; nothing written", fp, i)
		}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	pre := vecPrefix(fp)
	longest := 0
	for _, k := range keys {
		longest = max(longest, len(k))
	}
	entry := int64(len(pre) + longest + 4*m.Dim + 64)
	per := max(1, int(s.maxTxn/entry))
	for start := 0; start < len(keys); start += per {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(len(keys), start+per)
		if err := s.checkSpace(); err != nil {
			return err
		}
		err := s.db.Update(func(txn *badger.Txn) error {
			cur, ok, err := getMeta(txn, fp)
			if err != nil {
				return err
			}
			if !ok || cur.Removing {
				return fmt.Errorf("fingerprint %q was removed", fp)
			}
			added := int64(0)
			for i := start; i < end; i++ {
				k := append(append(make([]byte, 0, len(pre)+len(keys[i])), pre...), keys[i]...)
				if _, err := txn.Get(k); err == nil {
					continue
				} else if !errors.Is(err, badger.ErrKeyNotFound) {
					return err
				}
				if err := txn.Set(k, encodeVec(vecs[i])); err != nil {
					return err
				}
				added++
			}
			if added == 0 {
				return nil
			}
			cur.Entries += added
			return putMeta(txn, cur)
		})
		if err != nil {
			return fmt.Errorf("cache %s: write %d vectors of fingerprint %q: %w", s.dir, end-start, fp, err)
		}
	}
	return nil
}

// ErrDiskFull is returned (wrapped) by writes when the filesystem has less
// free space than the store's reserve.
var ErrDiskFull = errors.New("disk full")

func (s *Store) checkSpace() error {
	if s.reserve < 0 {
		return nil
	}
	free, err := freeBytes(s.dir)
	if err != nil {
		return fmt.Errorf("cache %s: free space: %w", s.dir, err)
	}
	if free < s.reserve {
		return fmt.Errorf("cache %s: %w: %d bytes free, writes keep %d in reserve; free some space (or remove fingerprints) and fill again", s.dir, ErrDiskFull, free, s.reserve)
	}
	return nil
}

// Get returns the vector of key under fingerprint fp; ok is false on a miss.
func (s *Store) Get(fp string, key []byte) (v []float32, ok bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		m, found, err := getMeta(txn, fp)
		if err != nil || !found {
			return err
		}
		item, err := txn.Get(append(vecPrefix(fp), key...))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			if len(b) != 4*m.Dim {
				return fmt.Errorf("cache: fingerprint %q key %x: value of %d bytes, want %d (run verify)", fp, key, len(b), 4*m.Dim)
			}
			v, ok = decodeVec(b), true
			return nil
		})
	})
	return v, ok, err
}

func encodeVec(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVec(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// decodeInto writes the float32 values of b into dst as float64.
func decodeInto(dst []float64, b []byte) {
	_ = b[4*len(dst)-1]
	for i := range dst {
		dst[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	}
}

// badgerLogger routes Badger's messages to slog: errors and warnings as
// such, its informational and debug chatter at debug level.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debug("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
