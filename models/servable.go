package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/simlearn/simlearn/head"
)

// FormatVersion is the servable format this package writes; Load reads it
// and older versions, and refuses newer ones.
const FormatVersion = 1

// SimlearnVersion is the simlearn release recorded in servables it writes.
const SimlearnVersion = "0.1.0-dev"

// File names inside a servable directory.
const (
	ManifestFile    = "simlearn.json"
	HeadFile        = "head.safetensors"
	EncodersDir     = "encoders"
	EncoderJSONFile = "encoder.json"
)

// Manifest is the content of simlearn.json.
type Manifest struct {
	// FormatVersion is the servable format version (FormatVersion when written).
	FormatVersion int `json:"format_version"`
	// SimlearnVersion is the simlearn release that wrote the servable.
	SimlearnVersion string `json:"simlearn_version"`
	// InDim is the width of the concatenated encoder outputs.
	InDim int `json:"in_dim"`
	// Dim is the width of the model's output vectors.
	Dim int `json:"dim"`
	// Encoders are in concatenation order.
	Encoders []EncoderEntry `json:"encoders"`
	// Head describes the head and its weights file.
	Head HeadEntry `json:"head"`
}

// EncoderEntry describes one encoder of a servable.
type EncoderEntry struct {
	// Name is the encoder's name and the directory encoders/<name>/.
	Name string `json:"name"`
	// Kind selects the registered EncoderFormat that loads it.
	Kind string `json:"kind"`
	// Dim is the encoder's output width.
	Dim int `json:"dim"`
	// Fingerprint is the encoder's fingerprint when saved (cache key part).
	Fingerprint string `json:"fingerprint"`
	// Config is the format's configuration of the encoder.
	Config json.RawMessage `json:"config"`
	// Files maps each file of the encoder, relative to the servable
	// directory with '/' separators, to its sha256 in hex.
	Files map[string]string `json:"files"`
}

// HeadEntry describes the head of a servable.
type HeadEntry struct {
	// Kind is the head kind (also in Config, repeated for readers).
	Kind string `json:"kind"`
	// Config rebuilds the head with head.New.
	Config head.Config `json:"config"`
	// File is the weights file, relative to the servable directory.
	File string `json:"file"`
	// SHA256 is the weights file's checksum in hex.
	SHA256 string `json:"sha256"`
}

// encoderJSON is the content of encoders/<name>/encoder.json: what the
// encoder is, readable without simlearn.json.
type encoderJSON struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Dim    int    `json:"dim"`
	Config any    `json:"config"`
}

// Save writes the model as a servable directory at dir. It builds the new
// directory beside dir, syncs every file and directory, and then swaps it
// into place, so that dir always holds either the old model or the
// complete new one. An existing dir must be a servable (or empty); anything
// else is refused rather than replaced.
func (m *SimilarityModel) Save(dir string) (err error) {
	dir = filepath.Clean(dir)
	if err := checkReplaceable(dir); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("models: save: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("models: save: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("models: save: %w", err)
	}
	man, err := m.writeContent(tmp)
	if err != nil {
		return fmt.Errorf("models: save %s: %w", dir, err)
	}
	js, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("models: save %s: %w", dir, err)
	}
	if err := writeFileSync(filepath.Join(tmp, ManifestFile), append(js, '\n')); err != nil {
		return fmt.Errorf("models: save %s: %w", dir, err)
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("models: save %s: %w", dir, err)
	}
	if err := swapInto(tmp, dir); err != nil {
		return fmt.Errorf("models: save %s: %w", dir, err)
	}
	return nil
}

// checkReplaceable refuses to replace a path that is not a servable.
func checkReplaceable(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("models: save: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("models: save: %s exists and is not a directory; refusing to replace it", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("models: save: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err != nil {
		return fmt.Errorf("models: save: %s exists and is not a servable (no %s); refusing to replace it: choose another directory or remove it", dir, ManifestFile)
	}
	return nil
}

// writeContent writes the encoders and the head into dir and returns the
// manifest describing them.
func (m *SimilarityModel) writeContent(dir string) (*Manifest, error) {
	man := &Manifest{
		FormatVersion:   FormatVersion,
		SimlearnVersion: SimlearnVersion,
		InDim:           m.inDim,
		Dim:             m.Dim(),
	}
	encRoot := filepath.Join(dir, EncodersDir)
	if err := os.Mkdir(encRoot, 0o755); err != nil {
		return nil, err
	}
	for _, e := range m.encoders {
		entry, err := saveEncoder(e, dir)
		if err != nil {
			return nil, fmt.Errorf("encoder %q: %w", e.Name(), err)
		}
		man.Encoders = append(man.Encoders, entry)
	}
	if err := syncDir(encRoot); err != nil {
		return nil, err
	}

	cfg := m.head.Config()
	var buf bytes.Buffer
	meta := map[string]string{"format": "pt", "simlearn_head": cfg.Kind}
	if err := head.WriteSafetensors(&buf, m.head.Params(), head.F32, meta); err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	if err := writeFileSync(filepath.Join(dir, HeadFile), buf.Bytes()); err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	man.Head = HeadEntry{Kind: cfg.Kind, Config: cfg, File: HeadFile, SHA256: hex.EncodeToString(sum[:])}
	return man, nil
}

// saveEncoder writes one encoder into root/encoders/<name>/.
func saveEncoder(e Encoder, root string) (EncoderEntry, error) {
	f, ok := formatFor(e)
	if !ok {
		return EncoderEntry{}, fmt.Errorf("no registered format saves a %T (registered kinds: %s)", e, strings.Join(EncoderKinds(), ", "))
	}
	rel := path.Join(EncodersDir, e.Name())
	edir := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.Mkdir(edir, 0o755); err != nil {
		return EncoderEntry{}, err
	}
	cfg, err := f.Save(e, edir)
	if err != nil {
		return EncoderEntry{}, fmt.Errorf("saving as %s: %w", f.Kind, err)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return EncoderEntry{}, fmt.Errorf("config: %w", err)
	}
	ej, err := json.MarshalIndent(encoderJSON{Name: e.Name(), Kind: f.Kind, Dim: e.Dim(), Config: json.RawMessage(cfgJSON)}, "", "  ")
	if err != nil {
		return EncoderEntry{}, err
	}
	if err := os.WriteFile(filepath.Join(edir, EncoderJSONFile), append(ej, '\n'), 0o644); err != nil {
		return EncoderEntry{}, err
	}
	files := map[string]string{}
	err = filepath.WalkDir(edir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file; encoder formats must write plain files", p)
		}
		sum, err := syncAndHash(p)
		if err != nil {
			return err
		}
		r, err := filepath.Rel(edir, p)
		if err != nil {
			return err
		}
		files[path.Join(rel, filepath.ToSlash(r))] = sum
		return nil
	})
	if err != nil {
		return EncoderEntry{}, err
	}
	if err := syncTree(edir); err != nil {
		return EncoderEntry{}, err
	}
	return EncoderEntry{Name: e.Name(), Kind: f.Kind, Dim: e.Dim(), Fingerprint: e.Fingerprint(), Config: cfgJSON, Files: files}, nil
}

// LoadOption configures Load.
type LoadOption func(*loadOptions)

type loadOptions struct {
	model []Option
	rt    Runtime
}

// WithModelOptions applies options to the loaded SimilarityModel.
func WithModelOptions(opts ...Option) LoadOption {
	return func(o *loadOptions) { o.model = append(o.model, opts...) }
}

// WithRuntime sets the encoders' runtime settings (threads, batch size,
// library path).
func WithRuntime(rt Runtime) LoadOption {
	return func(o *loadOptions) { o.rt = rt }
}

// Load reads the servable directory at dir: it checks the format version,
// verifies the checksum of every file simlearn.json lists (an error names
// the file that does not match), rebuilds the encoders through their
// registered formats and the head from its config and weights.
func Load(dir string, opts ...LoadOption) (*SimilarityModel, error) {
	var lo loadOptions
	for _, o := range opts {
		o(&lo)
	}
	man, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if err := Verify(dir, man); err != nil {
		return nil, err
	}
	var encoders []Encoder
	closeAll := func() {
		for _, e := range encoders {
			if c, ok := e.(io.Closer); ok {
				c.Close()
			}
		}
	}
	for i, entry := range man.Encoders {
		f, ok := formatByKind(entry.Kind)
		if !ok {
			closeAll()
			return nil, fmt.Errorf("models: load %s: encoders[%d] %q has kind %q, which this program cannot load (registered kinds: %s); link the package that registers it or upgrade simlearn",
				dir, i, entry.Name, entry.Kind, strings.Join(EncoderKinds(), ", "))
		}
		edir := filepath.Join(dir, EncodersDir, entry.Name)
		e, err := f.Load(edir, entry.Config, lo.rt)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("models: load %s: encoder %q (%s): %w", dir, entry.Name, entry.Kind, err)
		}
		encoders = append(encoders, e)
		if e.Name() != entry.Name || e.Dim() != entry.Dim {
			closeAll()
			return nil, fmt.Errorf("models: load %s: encoder %q loaded as %q with dimension %d; %s says %q with dimension %d",
				dir, entry.Name, e.Name(), e.Dim(), ManifestFile, entry.Name, entry.Dim)
		}
	}
	h, err := LoadHead(dir, man)
	if err != nil {
		closeAll()
		return nil, err
	}
	m, err := New(encoders, h, lo.model...)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("models: load %s: %w", dir, err)
	}
	return m, nil
}

// LoadHead rebuilds the head of the servable at dir from its manifest and
// weights file (whose checksum Verify checks).
func LoadHead(dir string, man *Manifest) (head.Head, error) {
	h, err := head.New(man.Head.Config, man.InDim, 0)
	if err != nil {
		return nil, fmt.Errorf("models: load %s: %s: head: %w", dir, ManifestFile, err)
	}
	if h.OutDim() != man.Dim {
		return nil, fmt.Errorf("models: load %s: the head gives %d values but %s says dim %d", dir, h.OutDim(), ManifestFile, man.Dim)
	}
	p := filepath.Join(dir, filepath.FromSlash(man.Head.File))
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("models: load %s: %w", dir, err)
	}
	defer f.Close()
	if _, err := head.ReadSafetensors(f, h.Params()); err != nil {
		return nil, fmt.Errorf("models: load %s: %s: %w", dir, man.Head.File, err)
	}
	return h, nil
}

// ReadManifest reads and checks simlearn.json in dir. A format version
// newer than FormatVersion is refused with a message saying to upgrade.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("models: %s is not a servable directory: %s is missing", dir, ManifestFile)
		}
		return nil, fmt.Errorf("models: %w", err)
	}
	var ver struct {
		FormatVersion   int    `json:"format_version"`
		SimlearnVersion string `json:"simlearn_version"`
	}
	if err := json.Unmarshal(b, &ver); err != nil {
		return nil, fmt.Errorf("models: %s: invalid JSON (truncated or corrupted?): %w", p, err)
	}
	switch {
	case ver.FormatVersion > FormatVersion:
		return nil, fmt.Errorf("models: %s: servable format version %d (written by simlearn %s) is newer than this simlearn (%s) reads (%d or older): upgrade simlearn",
			p, ver.FormatVersion, ver.SimlearnVersion, SimlearnVersion, FormatVersion)
	case ver.FormatVersion <= 0:
		return nil, fmt.Errorf("models: %s: format_version is missing or not positive; not a simlearn servable", p)
	}
	var man Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&man); err != nil {
		return nil, fmt.Errorf("models: %s: %w", p, err)
	}
	if err := man.check(); err != nil {
		return nil, fmt.Errorf("models: %s: %w", p, err)
	}
	return &man, nil
}

// check validates the manifest's internal consistency and that every path
// it names stays inside the servable directory.
func (man *Manifest) check() error {
	if len(man.Encoders) == 0 {
		return errors.New("no encoders")
	}
	sum := 0
	for i, e := range man.Encoders {
		if !encoderName.MatchString(e.Name) {
			return fmt.Errorf("encoders[%d]: invalid name %q", i, e.Name)
		}
		if e.Dim <= 0 {
			return fmt.Errorf("encoders[%d] %q: dim %d", i, e.Name, e.Dim)
		}
		sum += e.Dim
		prefix := EncodersDir + "/" + e.Name + "/"
		if _, ok := e.Files[prefix+EncoderJSONFile]; !ok {
			return fmt.Errorf("encoders[%d] %q: files does not list %s", i, e.Name, prefix+EncoderJSONFile)
		}
		for f := range e.Files {
			if !strings.HasPrefix(f, prefix) || !fs.ValidPath(f) {
				return fmt.Errorf("encoders[%d] %q: file %q is outside %s", i, e.Name, f, prefix)
			}
		}
	}
	if sum != man.InDim {
		return fmt.Errorf("in_dim %d is not the sum of the encoders' dims (%d)", man.InDim, sum)
	}
	if man.Head.File != HeadFile {
		return fmt.Errorf("head.file is %q, want %q", man.Head.File, HeadFile)
	}
	if man.Head.Kind != man.Head.Config.Kind {
		return fmt.Errorf("head.kind %q differs from head.config.kind %q", man.Head.Kind, man.Head.Config.Kind)
	}
	return nil
}

// Verify checks the sha256 of every file the manifest lists. The error
// names the first file that is missing or does not match.
func Verify(dir string, man *Manifest) error {
	type want struct{ rel, sum string }
	var files []want
	for _, e := range man.Encoders {
		for _, rel := range sortedKeys(e.Files) {
			files = append(files, want{rel, e.Files[rel]})
		}
	}
	files = append(files, want{man.Head.File, man.Head.SHA256})
	sort.SliceStable(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	for _, w := range files {
		p := filepath.Join(dir, filepath.FromSlash(w.rel))
		got, err := hashFile(p)
		if err != nil {
			return fmt.Errorf("models: load %s: file %s: %w", dir, w.rel, err)
		}
		if got != w.sum {
			return fmt.Errorf("models: load %s: file %s does not match its checksum in %s (sha256 %s, recorded %s): the file is corrupted, truncated or was changed after saving",
				dir, w.rel, ManifestFile, got, w.sum)
		}
	}
	return nil
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// syncAndHash flushes p to stable storage and returns its sha256.
func syncAndHash(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync %s: %w", p, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeFileSync writes data to p and syncs it.
func writeFileSync(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return f.Close()
}

// syncDir flushes a directory's entries to stable storage.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// syncTree syncs dir and every directory below it.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return syncDir(p)
	})
}

// swapInto moves the complete directory tmp to dir. When dir exists, the two
// are exchanged atomically where the system allows (Linux renameat2),
// otherwise the old one is renamed aside first; the old content is removed
// afterwards.
func swapInto(tmp, dir string) error {
	parent := filepath.Dir(dir)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tmp, dir); err != nil {
			return err
		}
		return syncDir(parent)
	}
	old := tmp + ".old"
	if exchanged, err := exchange(tmp, dir); err != nil {
		return err
	} else if exchanged {
		old = tmp
	} else {
		if err := os.Rename(dir, old); err != nil {
			return err
		}
		if err := os.Rename(tmp, dir); err != nil {
			if rerr := os.Rename(old, dir); rerr != nil {
				return fmt.Errorf("%w; restoring the previous model from %s also failed: %v", err, old, rerr)
			}
			return err
		}
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("removing the previous model at %s: %w", old, err)
	}
	return nil
}
