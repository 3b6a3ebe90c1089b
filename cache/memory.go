package cache

import (
	"fmt"
	"sync"
)

// Memory is an in-process vector cache for encoders in [MemoryOnly] mode:
// entries live as long as the Memory value and are shared by every [Fill]
// given it. It is safe for concurrent use.
type Memory struct {
	mu   sync.RWMutex
	fps  map[string]*memFP
	size int64
}

type memFP struct {
	dim  int
	vecs map[string][]float32
}

// NewMemory returns an empty in-process cache.
func NewMemory() *Memory { return &Memory{fps: map[string]*memFP{}} }

// register makes sure fp holds vectors of length dim.
func (m *Memory) register(fp string, dim int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.fps[fp]
	if f == nil {
		m.fps[fp] = &memFP{dim: dim, vecs: map[string][]float32{}}
		return nil
	}
	if f.dim != dim {
		return fmt.Errorf("memory cache: fingerprint %q holds vectors of dimension %d, the encoder says %d", fp, f.dim, dim)
	}
	return nil
}

// get returns the vector of key under fp.
func (m *Memory) get(fp string, key []byte) ([]float32, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	f := m.fps[fp]
	if f == nil {
		return nil, false
	}
	v, ok := f.vecs[string(key)]
	return v, ok
}

// put stores copies of vecs; every vector must have the registered length.
func (m *Memory) put(fp string, keys [][]byte, vecs [][]float32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.fps[fp]
	if f == nil {
		return fmt.Errorf("memory cache: fingerprint %q is not registered", fp)
	}
	for i, v := range vecs {
		if len(v) != f.dim {
			return fmt.Errorf("memory cache: fingerprint %q: vector %d has length %d, want %d", fp, i, len(v), f.dim)
		}
	}
	for i, k := range keys {
		if _, ok := f.vecs[string(k)]; !ok {
			f.vecs[string(k)] = append([]float32(nil), vecs[i]...)
			m.size++
		}
	}
	return nil
}

// Len is the number of vectors held, over all fingerprints.
func (m *Memory) Len() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.size
}
