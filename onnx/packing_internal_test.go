package onnx

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"
)

func TestPackGraphRewritesMiniLM(t *testing.T) {
	path := filepath.Join(DefaultModelDir(), "model.onnx")
	model, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (the tests need the assets of scripts/setup --test)", err)
	}
	out, ok, why, err := packGraph(model)
	if err != nil || !ok {
		t.Fatalf("packGraph(all-MiniLM-L6-v2) = ok %t (%s), %v", ok, why, err)
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for _, in := range m.Graph.Input {
		inputs = append(inputs, in.Name)
	}
	want := []string{inputIDs, tokenTypeIDs, packedMaskInput, packedPositionsInput}
	if !slices.Equal(inputs, want) {
		t.Errorf("inputs %v, want %v", inputs, want)
	}
	uses := map[string]int{}
	for _, n := range m.Graph.Node {
		for _, in := range n.Input {
			uses[in]++
		}
	}
	// The mask reaches the six attention layers through one Cast; the
	// positions feed one Gather.
	if uses[attentionMask] != 0 || uses[packedMaskInput] != 1 || uses[packedPositionsInput] != 1 {
		t.Errorf("uses: attention_mask %d, packed mask %d, positions %d; want 0, 1, 1",
			uses[attentionMask], uses[packedMaskInput], uses[packedPositionsInput])
	}
}

// graph builds a model whose graph has the given inputs and nodes (each
// "op in1,in2 -> out"), with initializers for the names in inits.
func graph(t *testing.T, inputs []string, inits []string, nodes ...string) []byte {
	t.Helper()
	g := &pb.GraphProto{Output: []*pb.ValueInfoProto{{Name: "out"}}}
	for _, in := range inputs {
		g.Input = append(g.Input, tensorInput(in, int32(pb.TensorProto_INT64), "batch_size", "sequence_length"))
	}
	for _, name := range inits {
		g.Initializer = append(g.Initializer, &pb.TensorProto{Name: name, DataType: int32(pb.TensorProto_FLOAT)})
	}
	for _, spec := range nodes {
		op, rest, _ := strings.Cut(spec, " ")
		ins, out, _ := strings.Cut(rest, " -> ")
		n := &pb.NodeProto{OpType: op, Input: strings.Split(ins, ","), Output: []string{out}}
		if op == "Unsqueeze" {
			axis := int64(1)
			if strings.HasSuffix(out, "2") {
				axis = 2
			}
			n.Attribute = []*pb.AttributeProto{{Name: "axes", Type: pb.AttributeProto_INTS, Ints: []int64{axis}}}
		}
		g.Node = append(g.Node, n)
	}
	data, err := proto.Marshal(&pb.ModelProto{Graph: g})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestPackGraphRefusesOtherGraphs(t *testing.T) {
	all := []string{inputIDs, attentionMask}
	tables := []string{"pos_table", "pos_ids"}
	positions := []string{"Slice pos_ids,start -> sliced", "Gather pos_table,sliced -> pos"}
	for _, c := range []struct {
		name  string
		model []byte
		want  string
	}{
		{"no mask", graph(t, []string{inputIDs}, tables, positions...), "no attention_mask input"},
		{"mask cast directly", graph(t, all, tables, append(positions, "Cast attention_mask -> m", "Add pos,m -> out")...), "not widened"},
		{"one unsqueeze", graph(t, all, tables, append(positions, "Unsqueeze attention_mask -> u1", "Add pos,u1 -> out")...), "not widened"},
		{"no positions", graph(t, all, nil, "Unsqueeze attention_mask -> u1", "Unsqueeze u1 -> u2", "Add input_ids,u2 -> out"), "no position embeddings"},
	} {
		_, ok, why, err := packGraph(c.model)
		if err != nil || ok || !strings.Contains(why, c.want) {
			t.Errorf("%s: packGraph = ok %t, %q, %v; want not ok, %q", c.name, ok, why, err, c.want)
		}
	}
	// The same graph with both patterns packs.
	model := graph(t, all, tables, append(positions, "Unsqueeze attention_mask -> u1", "Unsqueeze u1 -> u2", "Add pos,u2 -> out")...)
	if _, ok, why, err := packGraph(model); err != nil || !ok {
		t.Errorf("packGraph of the minimal packable graph = ok %t (%s), %v", ok, why, err)
	}
	// Opset 13 and later give the axes as a second input, here constants.
	axes := func(name string, v int64) *pb.TensorProto {
		return &pb.TensorProto{Name: name, DataType: int32(pb.TensorProto_INT64), Dims: []int64{1}, Int64Data: []int64{v}}
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(graph(t, all, tables, append(positions, "Unsqueeze attention_mask,ax1 -> u1", "Unsqueeze u1,ax2 -> u2", "Add pos,u2 -> out")...), &m); err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Graph.Node {
		n.Attribute = nil
	}
	m.Graph.Initializer = append(m.Graph.Initializer, axes("ax1", 1), axes("ax2", 2))
	model, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, why, err := packGraph(model); err != nil || !ok {
		t.Errorf("packGraph with axes inputs = ok %t (%s), %v", ok, why, err)
	}
	m.Graph.Initializer[len(m.Graph.Initializer)-1].Int64Data = []int64{3} // Unsqueeze(3): not the mask pattern
	if model, err = proto.Marshal(&m); err != nil {
		t.Fatal(err)
	}
	if _, ok, _, _ := packGraph(model); ok {
		t.Error("packGraph accepted Unsqueeze(1), Unsqueeze(3)")
	}
	if _, _, _, err := packGraph([]byte("not a model")); err == nil {
		t.Error("packGraph of garbage: no error")
	}
}

func TestInt64s(t *testing.T) {
	raw := &pb.TensorProto{DataType: int32(pb.TensorProto_INT64), RawData: []byte{2, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	if got := int64s(raw); !slices.Equal(got, []int64{2, -2}) {
		t.Errorf("raw int64s = %v, want [2 -2]", got)
	}
	if got := int64s(&pb.TensorProto{DataType: int32(pb.TensorProto_FLOAT)}); got != nil {
		t.Errorf("float tensor: %v, want nil", got)
	}
}
