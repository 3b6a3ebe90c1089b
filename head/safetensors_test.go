package head_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
)

func skipHead(t *testing.T, seed uint64) head.Head {
	t.Helper()
	h, err := head.New(head.Config{Kind: head.KindSkipConnection, NLayers: 2}, 6, seed)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSafetensorsRoundTrip(t *testing.T) {
	for _, dt := range []head.DType{head.F32, head.F64} {
		src, dst := skipHead(t, 1), skipHead(t, 2)
		path := filepath.Join(t.TempDir(), "head.safetensors")
		if err := head.SaveFile(path, src.Params(), dt, map[string]string{"kind": "skip_connection"}); err != nil {
			t.Fatal(err)
		}
		meta, err := head.LoadFile(path, dst.Params())
		if err != nil {
			t.Fatal(err)
		}
		if meta["kind"] != "skip_connection" {
			t.Errorf("%s: metadata %v", dt, meta)
		}
		for i, p := range src.Params() {
			q := dst.Params()[i]
			for k, v := range p.Value.RawMatrix().Data {
				want := v
				if dt == head.F32 {
					want = float64(float32(v))
				}
				if got := q.Value.RawMatrix().Data[k]; got != want {
					t.Fatalf("%s %s[%d] = %v, want %v", dt, p.Name, k, got, want)
				}
			}
		}
		// Saving what was loaded gives the same bytes.
		var a, b bytes.Buffer
		if err := head.WriteSafetensors(&a, dst.Params(), dt, nil); err != nil {
			t.Fatal(err)
		}
		reloaded := skipHead(t, 3)
		if _, err := head.ReadSafetensors(bytes.NewReader(a.Bytes()), reloaded.Params()); err != nil {
			t.Fatal(err)
		}
		if err := head.WriteSafetensors(&b, reloaded.Params(), dt, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: save-load-save changed the bytes", dt)
		}
	}
}

// TestSafetensorsLayout checks the file against the format: header length,
// JSON entries with dtype, PyTorch-like shapes and offsets, aligned data.
func TestSafetensorsLayout(t *testing.T) {
	h, _ := head.New(head.Config{Kind: head.KindLinear, Out: 2}, 3, 1)
	var buf bytes.Buffer
	if err := head.WriteSafetensors(&buf, h.Params(), head.F32, nil); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	n := binary.LittleEndian.Uint64(data[:8])
	if n%8 != 0 {
		t.Errorf("header length %d is not 8-byte aligned", n)
	}
	var header map[string]struct {
		DType   string  `json:"dtype"`
		Shape   []int   `json:"shape"`
		Offsets []int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(data[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	w, b := header["weight"], header["bias"]
	if w.DType != "F32" || len(w.Shape) != 2 || w.Shape[0] != 2 || w.Shape[1] != 3 || w.Offsets[0] != 0 || w.Offsets[1] != 24 {
		t.Errorf("weight entry %+v", w)
	}
	if len(b.Shape) != 1 || b.Shape[0] != 2 || b.Offsets[0] != 24 || b.Offsets[1] != 32 {
		t.Errorf("bias entry %+v", b)
	}
	if got := uint64(len(data)) - 8 - n; got != 32 {
		t.Errorf("data section is %d bytes, want 32", got)
	}
	first := math.Float32frombits(binary.LittleEndian.Uint32(data[8+n:]))
	if float64(first) != float64(float32(h.Params()[0].Value.At(0, 0))) {
		t.Errorf("first weight %v, want %v", first, h.Params()[0].Value.At(0, 0))
	}
}

func TestSafetensorsErrors(t *testing.T) {
	write := func(h head.Head) []byte {
		var buf bytes.Buffer
		if err := head.WriteSafetensors(&buf, h.Params(), head.F64, nil); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	skip := write(skipHead(t, 1))
	oneLayer, _ := head.New(head.Config{Kind: head.KindSkipConnection}, 6, 1)
	wide, _ := head.New(head.Config{Kind: head.KindSkipConnection, NLayers: 2}, 7, 1)
	cases := map[string]struct {
		data []byte
		into head.Head
		want string
	}{
		"extra tensor":     {skip, oneLayer, `unexpected tensor "fc_1.bias"`},
		"missing tensor":   {write(oneLayer), skipHead(t, 1), `tensor "fc_1.weight" missing`},
		"misshaped tensor": {skip, wide, `tensor "fc_0.weight": shape [6 6], want [7 7]`},
		"truncated":        {skip[:len(skip)-8], skipHead(t, 1), "data_offsets"},
		"no header":        {skip[:4], skipHead(t, 1), "header length"},
		"huge header":      {append([]byte{0, 0, 0, 0, 0, 0, 0, 1}, skip[8:]...), skipHead(t, 1), "exceeds"},
	}
	for name, c := range cases {
		before := mat.DenseCopyOf(c.into.Params()[0].Value)
		_, err := head.ReadSafetensors(bytes.NewReader(c.data), c.into.Params())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
		if !mat.Equal(before, c.into.Params()[0].Value) {
			t.Errorf("%s: a failed load changed the parameters", name)
		}
	}
	// A NaN weight is refused, naming the tensor.
	bad := skipHead(t, 1)
	bad.Params()[2].Value.Set(0, 1, math.NaN())
	if _, err := head.ReadSafetensors(bytes.NewReader(write(bad)), skipHead(t, 1).Params()); err == nil || !strings.Contains(err.Error(), `"gates_0": element 1 is NaN`) {
		t.Errorf("NaN weight: error %v", err)
	}
	if _, err := head.LoadFile(filepath.Join(t.TempDir(), "none.safetensors"), skipHead(t, 1).Params()); !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: error %v", err)
	}
	if err := head.WriteSafetensors(&bytes.Buffer{}, skipHead(t, 1).Params(), "BF16", nil); err == nil {
		t.Error("unsupported dtype accepted")
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
