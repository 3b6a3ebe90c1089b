package onnx_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/simlearn/simlearn/onnx"
)

func TestReadModelInfoMiniLM(t *testing.T) {
	requireAssets(t)
	info, err := onnx.ReadModelInfo(filepath.Join(onnx.DefaultModelDir(), "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var ins []string
	for _, v := range info.Inputs {
		ins = append(ins, v.String())
	}
	want := "input_ids(int64)[batch_size,sequence_length] attention_mask(int64)[batch_size,sequence_length] token_type_ids(int64)[batch_size,sequence_length]"
	if got := strings.Join(ins, " "); got != want {
		t.Errorf("inputs %s, want %s", got, want)
	}
	if len(info.Outputs) != 1 || info.Outputs[0].String() != "last_hidden_state(float)[batch_size,sequence_length,384]" {
		t.Errorf("outputs %v", info.Outputs)
	}
	// The checksum scripts/setup pins for this file.
	if info.SHA256 != "759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e" {
		t.Errorf("sha256 %s", info.SHA256)
	}
}

// Tiny ONNX files, written as protobuf bytes.

type dim any // int64 size or string name

func valueInfo(name string, elem onnx.ElemType, dims ...dim) []byte {
	var shape []byte
	for _, d := range dims {
		var db []byte
		switch d := d.(type) {
		case int:
			db = protowire.AppendTag(db, 1, protowire.VarintType)
			db = protowire.AppendVarint(db, uint64(d))
		case string:
			db = protowire.AppendTag(db, 2, protowire.BytesType)
			db = protowire.AppendString(db, d)
		}
		shape = protowire.AppendTag(shape, 1, protowire.BytesType)
		shape = protowire.AppendBytes(shape, db)
	}
	var tensor []byte
	tensor = protowire.AppendTag(tensor, 1, protowire.VarintType)
	tensor = protowire.AppendVarint(tensor, uint64(elem))
	tensor = protowire.AppendTag(tensor, 2, protowire.BytesType)
	tensor = protowire.AppendBytes(tensor, shape)
	var typ []byte
	typ = protowire.AppendTag(typ, 1, protowire.BytesType)
	typ = protowire.AppendBytes(typ, tensor)
	var v []byte
	v = protowire.AppendTag(v, 1, protowire.BytesType)
	v = protowire.AppendString(v, name)
	v = protowire.AppendTag(v, 2, protowire.BytesType)
	v = protowire.AppendBytes(v, typ)
	return v
}

// node is a NodeProto: op_type(inputs) -> outputs, with attributes.
func node(op string, inputs, outputs []string, attrs ...[]byte) []byte {
	var n []byte
	for _, in := range inputs {
		n = protowire.AppendTag(n, 1, protowire.BytesType)
		n = protowire.AppendString(n, in)
	}
	for _, out := range outputs {
		n = protowire.AppendTag(n, 2, protowire.BytesType)
		n = protowire.AppendString(n, out)
	}
	n = protowire.AppendTag(n, 4, protowire.BytesType)
	n = protowire.AppendString(n, op)
	for _, a := range attrs {
		n = protowire.AppendTag(n, 5, protowire.BytesType)
		n = protowire.AppendBytes(n, a)
	}
	return n
}

// attrInts is an AttributeProto holding one int (INT) or a list (INTS).
func attrInts(name string, list bool, vs ...int64) []byte {
	field, typ := protowire.Number(3), uint64(2) // i, AttributeProto.INT
	if list {
		field, typ = 8, 7 // ints, AttributeProto.INTS
	}
	var a []byte
	a = protowire.AppendTag(a, 1, protowire.BytesType)
	a = protowire.AppendString(a, name)
	for _, v := range vs {
		a = protowire.AppendTag(a, field, protowire.VarintType)
		a = protowire.AppendVarint(a, uint64(v))
	}
	a = protowire.AppendTag(a, 20, protowire.VarintType)
	return protowire.AppendVarint(a, typ)
}

// model is a ModelProto (IR 8, opset 13) with one graph.
func model(inputs, outputs [][]byte, nodes ...[]byte) []byte {
	var g []byte
	for _, n := range nodes {
		g = protowire.AppendTag(g, 1, protowire.BytesType)
		g = protowire.AppendBytes(g, n)
	}
	g = protowire.AppendTag(g, 2, protowire.BytesType)
	g = protowire.AppendString(g, "tiny")
	for _, in := range inputs {
		g = protowire.AppendTag(g, 11, protowire.BytesType)
		g = protowire.AppendBytes(g, in)
	}
	for _, out := range outputs {
		g = protowire.AppendTag(g, 12, protowire.BytesType)
		g = protowire.AppendBytes(g, out)
	}
	var opset []byte
	opset = protowire.AppendTag(opset, 2, protowire.VarintType)
	opset = protowire.AppendVarint(opset, 13)
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.VarintType)
	m = protowire.AppendVarint(m, 8)
	m = protowire.AppendTag(m, 8, protowire.BytesType)
	m = protowire.AppendBytes(m, opset)
	m = protowire.AppendTag(m, 7, protowire.BytesType)
	return protowire.AppendBytes(m, g)
}

// identityModel is a valid ONNX model: out = Identity(in).
func identityModel(in, out []byte, inName, outName string) []byte {
	return model([][]byte{in}, [][]byte{out}, node("Identity", []string{inName}, []string{outName}))
}

// modelDir writes model.onnx next to the real tokenizer.json.
func modelDir(t *testing.T, model []byte) string {
	t.Helper()
	requireAssets(t)
	dir := t.TempDir()
	tok, err := os.ReadFile(filepath.Join(onnx.DefaultModelDir(), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), model, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestModelsThatDoNotFit(t *testing.T) {
	ids := valueInfo("input_ids", onnx.ElemInt64, "batch", "seq")
	cases := []struct {
		name  string
		model []byte
		want  []string
	}{
		{"image model", identityModel(valueInfo("pixels", onnx.ElemFloat, 1, 3, 224, 224), valueInfo("probs", onnx.ElemFloat, 1, 3, 224, 224), "pixels", "probs"),
			[]string{"inputs [pixels(float)[1,3,224,224]] do not fit", `"pixels" is none of them`}},
		{"int32 ids", identityModel(valueInfo("input_ids", onnx.ElemInt32, "batch", "seq"), valueInfo("last_hidden_state", onnx.ElemFloat, "batch", "seq", 8), "input_ids", "last_hidden_state"),
			[]string{"input input_ids(int32)[batch,seq] does not fit", "want int64"}},
		{"classifier output", identityModel(ids, valueInfo("logits", onnx.ElemInt64, "batch", "seq"), "input_ids", "logits"),
			[]string{"outputs [logits(int64)[batch,seq]] do not fit", "last_hidden_state", "sentence_embedding"}},
		{"float16 output", identityModel(ids, valueInfo("last_hidden_state", onnx.ElemFloat16, "batch", "seq", 8), "input_ids", "last_hidden_state"),
			[]string{"output last_hidden_state(float16)[batch,seq,8]", "want float"}},
		{"dynamic hidden size", identityModel(ids, valueInfo("last_hidden_state", onnx.ElemFloat, "batch", "seq", "hidden"), "input_ids", "last_hidden_state"),
			[]string{"output last_hidden_state(float)[batch,seq,hidden] has no fixed hidden size"}},
		{"not protobuf", []byte("this is not an ONNX model\n"), []string{"not an ONNX"}},
		{"truncated", identityModel(ids, ids, "input_ids", "input_ids")[:20], []string{"truncated"}},
		{"empty", nil, []string{"not an ONNX model"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc, err := onnx.NewTextEncoder(onnx.WithModelDir(modelDir(t, c.model)))
			if err == nil {
				enc.Close()
			}
			checkErr(t, err, c.want)
		})
	}
}

func TestMissingModelNamesSetup(t *testing.T) {
	dir := t.TempDir()
	_, err := onnx.NewTextEncoder(onnx.WithModelDir(dir))
	checkErr(t, err, []string{filepath.Join(dir, "model.onnx"), "does not exist", "make setup"})
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), identityModel(nil, nil, "", ""), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = onnx.NewTextEncoder(onnx.WithModelDir(dir))
	checkErr(t, err, []string{filepath.Join(dir, "tokenizer.json"), "does not exist", "make setup"})
}

// TestPooledOutputModel runs a tiny model written here through ONNX Runtime:
// it takes only input_ids and "pools" them itself into
// sentence_embedding = [mean(ids), mean(ids)], so the encoder must feed one
// input and use the output as it is (then normalise it, when asked).
func TestPooledOutputModel(t *testing.T) {
	m := model(
		[][]byte{valueInfo("input_ids", onnx.ElemInt64, "batch", "seq")},
		[][]byte{valueInfo("sentence_embedding", onnx.ElemFloat, "batch", 2)},
		node("Cast", []string{"input_ids"}, []string{"f"}, attrInts("to", false, int64(onnx.ElemFloat))),
		node("ReduceMean", []string{"f"}, []string{"m"}, attrInts("axes", true, 1), attrInts("keepdims", false, 1)),
		node("Concat", []string{"m", "m"}, []string{"sentence_embedding"}, attrInts("axis", false, 1)),
	)
	dir := modelDir(t, m)
	texts := []string{"hello world", "a longer sentence, with punctuation!"}
	for _, normalize := range []bool{false, true} {
		enc := newEncoder(t, onnx.WithModelDir(dir), onnx.WithBatchSize(1), onnx.WithNormalize(normalize))
		if enc.Dim() != 2 {
			t.Fatalf("Dim %d, want 2", enc.Dim())
		}
		ids, err := enc.Tokenize(t.Context(), texts)
		if err != nil {
			t.Fatal(err)
		}
		vecs := encodeTexts(t, enc, texts)
		for i, v := range vecs {
			var mean float64
			for _, id := range ids[i] {
				mean += float64(id)
			}
			mean /= float64(len(ids[i]))
			want := float32(mean)
			if normalize {
				want = float32(1 / math.Sqrt2)
			}
			if math.Abs(float64(v[0]-want)) > 1e-4*math.Abs(float64(want)) || v[0] != v[1] {
				t.Errorf("normalize %t, text %d: got %v, want [%v %v]", normalize, i, v, want, want)
			}
		}
	}
}
