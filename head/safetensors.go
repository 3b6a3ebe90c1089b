package head

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// DType is the element type a safetensors file stores.
type DType string

// The element types Save writes and Load reads. Embeddings and served
// weights are float32 (F32); F64 keeps training state exact.
const (
	F32 DType = "F32"
	F64 DType = "F64"
)

func (d DType) size() (int, error) {
	switch d {
	case F32:
		return 4, nil
	case F64:
		return 8, nil
	}
	return 0, fmt.Errorf("unsupported dtype %q (want F32 or F64)", string(d))
}

// maxHeader bounds the JSON header a reader accepts (the format's own limit).
const maxHeader = 100 << 20

type tensorInfo struct {
	DType   DType    `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// WriteSafetensors writes params in the safetensors format: an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the little-endian data. The tensors are named
// and shaped as Param.Name and Param.Shape say; metadata, if any, goes under
// "__metadata__".
func WriteSafetensors(w io.Writer, params []*Param, dtype DType, metadata map[string]string) error {
	size, err := dtype.size()
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	header := make(map[string]any, len(params)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, p := range params {
		if _, dup := header[p.Name]; dup || p.Name == "" || p.Name == "__metadata__" {
			return fmt.Errorf("safetensors: tensor name %q is empty, reserved or repeated", p.Name)
		}
		r, c := p.Value.Dims()
		n := int64(r*c) * int64(size)
		header[p.Name] = tensorInfo{DType: dtype, Shape: p.Shape(), Offsets: [2]int64{off, off + n}}
		off += n
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: header: %w", err)
	}
	// Pad the header with spaces so that the data starts 8-byte aligned.
	if pad := (8 - len(js)%8) % 8; pad > 0 {
		js = append(js, strings.Repeat(" ", pad)...)
	}
	// bufio.Writer keeps the first write error and Flush reports it.
	bw := bufio.NewWriter(w)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	bw.Write(lenBuf[:])
	bw.Write(js)
	var buf [8]byte
	for _, p := range params {
		rows(p.Value, func(_ int, r []float64) {
			for _, v := range r {
				if dtype == F32 {
					binary.LittleEndian.PutUint32(buf[:4], math.Float32bits(float32(v)))
				} else {
					binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
				}
				bw.Write(buf[:size])
			}
		})
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	return nil
}

// ReadSafetensors reads a safetensors stream into params, matching tensors
// by name. Every parameter must be present with its exact shape, and the file
// must hold no other tensor; values must be finite. It returns the file's
// metadata. On error the parameters are left unchanged.
func ReadSafetensors(r io.Reader, params []*Param) (map[string]string, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("safetensors: reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader {
		return nil, fmt.Errorf("safetensors: header length %d exceeds %d bytes", n, maxHeader)
	}
	js := make([]byte, n)
	if _, err := io.ReadFull(r, js); err != nil {
		return nil, fmt.Errorf("safetensors: reading %d-byte header: %w", n, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, fmt.Errorf("safetensors: header is not a JSON object: %w", err)
	}
	var meta map[string]string
	if m, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, fmt.Errorf("safetensors: __metadata__: %w", err)
		}
		delete(raw, "__metadata__")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("safetensors: reading data: %w", err)
	}
	want := make(map[string]*Param, len(params))
	for _, p := range params {
		want[p.Name] = p
	}
	var extra []string
	for name := range raw {
		if want[name] == nil {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("safetensors: unexpected tensor %q (the head has no such parameter)", extra[0])
	}
	values := make([][]float64, len(params))
	for i, p := range params {
		msg, ok := raw[p.Name]
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q missing", p.Name)
		}
		v, err := decodeTensor(p, msg, data)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", p.Name, err)
		}
		values[i] = v
	}
	for i, p := range params {
		r, c := p.Value.Dims()
		for k := 0; k < r; k++ {
			copy(row(p.Value, k), values[i][k*c:(k+1)*c])
		}
	}
	return meta, nil
}

func decodeTensor(p *Param, msg json.RawMessage, data []byte) ([]float64, error) {
	var info tensorInfo
	if err := json.Unmarshal(msg, &info); err != nil {
		return nil, fmt.Errorf("header entry: %w", err)
	}
	size, err := info.DType.size()
	if err != nil {
		return nil, err
	}
	if !slices.Equal(info.Shape, p.Shape()) {
		return nil, fmt.Errorf("shape %v, want %v", info.Shape, p.Shape())
	}
	r, c := p.Value.Dims()
	count := r * c
	b, e := info.Offsets[0], info.Offsets[1]
	if b < 0 || e < b || e > int64(len(data)) || e-b != int64(count*size) {
		return nil, fmt.Errorf("data_offsets [%d, %d] do not hold %d %s values in a %d-byte buffer", b, e, count, info.DType, len(data))
	}
	buf := data[b:e]
	out := make([]float64, count)
	for k := range out {
		var v float64
		if info.DType == F32 {
			v = float64(math.Float32frombits(binary.LittleEndian.Uint32(buf[k*4:])))
		} else {
			v = math.Float64frombits(binary.LittleEndian.Uint64(buf[k*8:]))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("element %d is %v", k, v)
		}
		out[k] = v
	}
	return out, nil
}

// SaveFile writes params to path as safetensors atomically: it writes a
// temporary file in the same directory, syncs it and renames it over path.
func SaveFile(path string, params []*Param, dtype DType, metadata map[string]string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := WriteSafetensors(f, params, dtype, metadata); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}

// LoadFile reads the safetensors file at path into params (see
// ReadSafetensors) and returns its metadata.
func LoadFile(path string, params []*Param) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading head weights: %w", err)
	}
	defer f.Close()
	meta, err := ReadSafetensors(bufio.NewReader(f), params)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return meta, nil
}
