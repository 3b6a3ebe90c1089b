package models

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// EncoderFormat saves and loads one kind of encoder in a servable
// directory. Packages that define encoders register their format with
// RegisterEncoder, usually from an init function; Load then rebuilds
// encoders by the kind recorded in simlearn.json.
type EncoderFormat struct {
	// Kind names the format in simlearn.json, e.g. "onnx_text".
	Kind string
	// Handles reports whether Save can write enc.
	Handles func(enc Encoder) bool
	// Save writes enc's files into dir (which exists and is empty) and
	// returns its configuration, which is stored in encoder.json and
	// simlearn.json. Files must be written completely before it returns;
	// the caller syncs and checksums them.
	Save func(enc Encoder, dir string) (config any, err error)
	// Load rebuilds the encoder from dir (whose checksums were verified),
	// its configuration and the runtime settings Load was given.
	Load func(dir string, config json.RawMessage, rt Runtime) (Encoder, error)
}

// Runtime holds settings that change how fast an encoder runs, never what
// it computes; they are chosen when loading, not stored. Zero values keep
// each encoder's defaults.
type Runtime struct {
	// Threads is the number of threads one inference call may use.
	Threads int
	// BatchSize is the number of objects per inference call.
	BatchSize int
	// Workers is the number of inference calls one Encode may run at once,
	// each with Threads threads.
	Workers int
	// Library is the path of a native runtime library (ONNX Runtime).
	Library string
	// NoPacking turns off packing several texts into one sequence (see
	// onnx.WithPacking), which changes outputs by float rounding only.
	NoPacking bool
	// IdleThreads, when positive, gives inference calls that start while no
	// other is running a second session with this many threads (see
	// onnx.WithIdleThreads).
	IdleThreads int
}

var (
	registryMu sync.RWMutex
	registry   = map[string]EncoderFormat{}
)

// RegisterEncoder adds an encoder format. It panics when the kind is empty,
// a function is missing, or the kind is registered already: these are
// programming errors found at start-up.
func RegisterEncoder(f EncoderFormat) {
	if f.Kind == "" || f.Handles == nil || f.Save == nil || f.Load == nil {
		panic(fmt.Sprintf("models: RegisterEncoder(%q): kind and all functions are required", f.Kind))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[f.Kind]; dup {
		panic(fmt.Sprintf("models: RegisterEncoder: kind %q is registered twice", f.Kind))
	}
	registry[f.Kind] = f
}

// EncoderKinds lists the registered encoder kinds, sorted.
func EncoderKinds() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	kinds := make([]string, 0, len(registry))
	for k := range registry {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

func formatFor(enc Encoder) (EncoderFormat, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	for _, k := range sortedKeys(registry) {
		if f := registry[k]; f.Handles(enc) {
			return f, true
		}
	}
	return EncoderFormat{}, false
}

func formatByKind(kind string) (EncoderFormat, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	f, ok := registry[kind]
	return f, ok
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
