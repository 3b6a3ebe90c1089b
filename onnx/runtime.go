package onnx

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// MinRuntimeVersion is the oldest ONNX Runtime release simlearn can load:
// github.com/yalue/onnxruntime_go is built on the C API of ONNX Runtime 1.24.
const MinRuntimeVersion = "1.24.0"

// setupHint names the command that fetches the native assets.
const setupHint = "run `make setup` (or scripts/setup) to fetch it"

// otherLibraryHint says how to get a library that fits.
const otherLibraryHint = "point SIMLEARN_ORT_LIB at a suitable library, or unset it to use the one `make setup` (scripts/setup) fetches"

// ErrNotSetUp is wrapped by the errors returned when an asset that
// scripts/setup provides (the ONNX Runtime library, a model, its tokenizer)
// is missing.
var ErrNotSetUp = errors.New("simlearn native assets not set up")

// Home returns the directory holding the assets scripts/setup fetches:
// $SIMLEARN_HOME, or $HOME/.cache/simlearn when that is unset.
func Home() string {
	if h := os.Getenv("SIMLEARN_HOME"); h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "simlearn")
	}
	return filepath.Join(os.TempDir(), "simlearn")
}

// DefaultModelDir is where scripts/setup puts all-MiniLM-L6-v2
// (model.onnx and tokenizer.json).
func DefaultModelDir() string {
	return filepath.Join(Home(), "models", "all-MiniLM-L6-v2")
}

// LibraryPath returns the ONNX Runtime shared library simlearn loads:
// $SIMLEARN_ORT_LIB when set, else lib/libonnxruntime.so under Home.
func LibraryPath() string {
	if p := os.Getenv("SIMLEARN_ORT_LIB"); p != "" {
		return p
	}
	return filepath.Join(Home(), "lib", "libonnxruntime.so")
}

// LibraryInfo describes an ONNX Runtime shared library, as read from its ELF
// headers without loading it.
type LibraryInfo struct {
	Path    string // the path as given
	Version string // e.g. "1.32.0"; empty when the library does not say
}

// CheckLibrary inspects the shared library at path without loading it and
// returns an error unless it is an ONNX Runtime library for this machine's
// architecture, at least MinRuntimeVersion. Errors for a missing file wrap
// ErrNotSetUp.
func CheckLibrary(path string) (LibraryInfo, error) {
	info := LibraryInfo{Path: path}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return info, fmt.Errorf("ONNX Runtime library %s does not exist: %s, or set SIMLEARN_ORT_LIB to its path: %w",
				path, setupHint, ErrNotSetUp)
		}
		return info, fmt.Errorf("ONNX Runtime library %s: %w", path, err)
	}
	if st.IsDir() {
		return info, fmt.Errorf("ONNX Runtime library %s is a directory, not a shared library file", path)
	}
	f, err := elf.Open(path)
	if err != nil {
		return info, fmt.Errorf("ONNX Runtime library %s is not an ELF shared library (%w)", path, err)
	}
	defer f.Close()
	if want, ok := elfMachines[runtime.GOARCH]; ok && f.Machine != want {
		return info, fmt.Errorf("ONNX Runtime library %s is built for %s, but this program runs on %s/%s: it needs a %s/%s library; %s",
			path, machineName(f.Machine), runtime.GOOS, runtime.GOARCH, runtime.GOOS, runtime.GOARCH, otherLibraryHint)
	}
	if f.Type != elf.ET_DYN {
		return info, fmt.Errorf("ONNX Runtime library %s is an ELF file of type %s, not a shared library", path, f.Type)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		return info, fmt.Errorf("ONNX Runtime library %s: reading its dynamic symbols: %w", path, err)
	}
	found := false
	for _, s := range syms {
		if s.Name != "OrtGetApiBase" || s.Section == elf.SHN_UNDEF {
			continue
		}
		found = true
		// ONNX Runtime's linker script versions its exports VERS_<release>.
		info.Version = strings.TrimPrefix(s.Version, "VERS_")
		break
	}
	if !found {
		return info, fmt.Errorf("%s does not export OrtGetApiBase: it is not an ONNX Runtime library", path)
	}
	if info.Version != "" && !versionAtLeast(info.Version, MinRuntimeVersion) {
		return info, fmt.Errorf("ONNX Runtime library %s is version %s, too old: simlearn needs %s or newer; %s",
			path, info.Version, MinRuntimeVersion, otherLibraryHint)
	}
	return info, nil
}

var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"386":     elf.EM_386,
	"arm":     elf.EM_ARM,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

func machineName(m elf.Machine) string {
	for arch, em := range elfMachines {
		if em == m {
			return arch + " (" + m.String() + ")"
		}
	}
	return m.String()
}

// versionAtLeast compares dotted release numbers ("1.32.0" >= "1.24.0");
// a suffix after the numbers ("1.25.0-dev") is ignored.
func versionAtLeast(v, min string) bool {
	a, b := versionParts(v), versionParts(min)
	for i := range max(len(a), len(b)) {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return x > y
		}
	}
	return true
}

func versionParts(v string) []int {
	var out []int
	for _, p := range strings.Split(v, ".") {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(p[:end])
		if err != nil {
			break
		}
		out = append(out, n)
		if end < len(p) {
			break
		}
	}
	return out
}

// The ONNX Runtime environment is process-wide: one library, loaded once.
var env struct {
	sync.Mutex
	path    string // resolved path of the loaded library; "" until loaded
	version string
}

// InitRuntime loads the ONNX Runtime library at path (LibraryPath when path is
// empty) and creates the process-wide environment. It is safe to call many
// times and from many goroutines: after the first success, calls naming the
// same library return nil, and calls naming another library return an error,
// since a process can hold only one. Encoders call it when they open their
// first session; call it directly to fail early.
func InitRuntime(path string) error {
	if path == "" {
		path = LibraryPath()
	}
	env.Lock()
	defer env.Unlock()
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		resolved = path
	}
	if env.path != "" && resolved == env.path {
		return nil
	}
	if _, err := CheckLibrary(path); err != nil {
		return err
	}
	if env.path != "" {
		return fmt.Errorf("ONNX Runtime is already loaded from %s in this process; cannot also load %s", env.path, path)
	}
	ort.SetSharedLibraryPath(resolved)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("loading ONNX Runtime library %s: %w", path, err)
	}
	version := ort.GetVersion()
	if !versionAtLeast(version, MinRuntimeVersion) {
		// Only reachable for a library without versioned symbols.
		_ = ort.DestroyEnvironment()
		return fmt.Errorf("ONNX Runtime library %s is version %s, too old: simlearn needs %s or newer; %s",
			path, version, MinRuntimeVersion, otherLibraryHint)
	}
	env.path, env.version = resolved, version
	return nil
}

// RuntimeVersion returns the version of the loaded ONNX Runtime library, or ""
// before InitRuntime has succeeded.
func RuntimeVersion() string {
	env.Lock()
	defer env.Unlock()
	return env.version
}
