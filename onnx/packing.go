package onnx

import (
	"fmt"
	"slices"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"
)

// Packing runs several texts as one sequence without padding: the texts'
// tokens are laid end to end in one row of the batch, each token attends
// only to the tokens of its own text, and position ids restart at every
// text. A
// padded batch of b texts costs b times its longest text; a packed one costs
// the sum of their lengths (plus attention over the whole sequence, which is
// small next to the matrix products at the lengths packing is used for).
//
// BERT-style graphs exported from Hugging Face Transformers take a 2-D
// attention_mask [batch, seq] that the graph widens to [batch, 1, 1, seq]
// and turns into an additive mask, and they take position ids from a
// constant [0, 1, ..., 511] sliced to the sequence length. packGraph
// rewrites both so that they become inputs: the mask as
// [batch, 1, seq, seq] (query by key: 1 attends, 0 does not) and the
// positions as [batch, seq]. A batch of several such rows, each padded to
// the longest, runs as well, and so do ordinary padded batches (one text per
// row), so one session serves every layout.

const (
	packedMaskInput      = "simlearn_packed_attention_mask"
	packedPositionsInput = "simlearn_position_ids"
)

// packGraph returns model rewritten for packing, or ok false (and the reason)
// when its graph does not have the expected shape.
func packGraph(model []byte) (packed []byte, ok bool, why string, err error) {
	var m pb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return nil, false, "", fmt.Errorf("reading the model graph: %w", err)
	}
	g := m.Graph
	if g == nil {
		return nil, false, "no graph", nil
	}
	consumers := map[string][]*pb.NodeProto{}
	producer := map[string]*pb.NodeProto{}
	for _, n := range g.Node {
		for _, in := range n.Input {
			consumers[in] = append(consumers[in], n)
		}
		for _, out := range n.Output {
			producer[out] = n
		}
	}
	inits := map[string]*pb.TensorProto{}
	for _, t := range g.Initializer {
		inits[t.Name] = t
	}

	// The mask: attention_mask -> Unsqueeze(axis 1) -> Unsqueeze(axis 2) -> rest.
	maskIn := graphInput(g, attentionMask)
	if maskIn == nil {
		return nil, false, "no attention_mask input", nil
	}
	first := consumers[attentionMask]
	if len(first) != 1 || first[0].OpType != "Unsqueeze" || !unsqueezeAxes(first[0], inits, producer, 1) {
		return nil, false, "attention_mask is not widened by Unsqueeze(1), Unsqueeze(2)", nil
	}
	second := consumers[first[0].Output[0]]
	if len(second) != 1 || second[0].OpType != "Unsqueeze" || !unsqueezeAxes(second[0], inits, producer, 2) {
		return nil, false, "attention_mask is not widened by Unsqueeze(1), Unsqueeze(2)", nil
	}
	wide := second[0].Output[0]

	// The positions: Gather(position table, Slice(constant position ids)).
	var posGather *pb.NodeProto
	for _, n := range g.Node {
		if n.OpType != "Gather" || len(n.Input) != 2 || inits[n.Input[0]] == nil {
			continue
		}
		s := producer[n.Input[1]]
		if s != nil && s.OpType == "Slice" && len(s.Input) > 0 && inits[s.Input[0]] != nil && len(consumers[n.Input[1]]) == 1 {
			if posGather != nil {
				return nil, false, "more than one gather of sliced constant ids", nil
			}
			posGather = n
		}
	}
	if posGather == nil {
		return nil, false, "no position embeddings gathered from sliced constant position ids", nil
	}

	// Rewrite: the widened mask and the sliced positions become inputs; the
	// nodes that made them go, with anything left without consumers.
	for _, n := range consumers[wide] {
		replaceInput(n, wide, packedMaskInput)
	}
	posGather.Input[1] = packedPositionsInput
	g.Node = slices.DeleteFunc(g.Node, func(n *pb.NodeProto) bool { return n == first[0] || n == second[0] })
	pruneDead(g)
	g.Input = slices.DeleteFunc(g.Input, func(v *pb.ValueInfoProto) bool { return v.Name == attentionMask })
	elem := maskIn.GetType().GetTensorType().GetElemType()
	// The positions' dimensions are named apart from the ids' on purpose:
	// with the same names, ONNX Runtime can prove the residual additions'
	// shapes equal and fuses them into SkipLayerNormalization, which
	// measured 7-12% slower per run here than the unfused graph.
	g.Input = append(g.Input,
		tensorInput(packedMaskInput, elem, "batch_size", "1", "sequence_length", "sequence_length"),
		tensorInput(packedPositionsInput, int32(pb.TensorProto_INT64), "position_batch", "position_length"))
	out, err := proto.Marshal(&m)
	if err != nil {
		return nil, false, "", fmt.Errorf("writing the packed graph: %w", err)
	}
	return out, true, "", nil
}

func graphInput(g *pb.GraphProto, name string) *pb.ValueInfoProto {
	for _, in := range g.Input {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// unsqueezeAxes reports whether n unsqueezes exactly axis, given as an
// attribute (opset < 13) or as a constant second input.
func unsqueezeAxes(n *pb.NodeProto, inits map[string]*pb.TensorProto, producer map[string]*pb.NodeProto, axis int64) bool {
	for _, a := range n.Attribute {
		if a.Name == "axes" {
			return len(a.Ints) == 1 && a.Ints[0] == axis
		}
	}
	if len(n.Input) != 2 {
		return false
	}
	var t *pb.TensorProto
	if t = inits[n.Input[1]]; t == nil {
		if c := producer[n.Input[1]]; c != nil && c.OpType == "Constant" {
			for _, a := range c.Attribute {
				if a.Name == "value" {
					t = a.T
				}
			}
		}
	}
	if t == nil {
		return false
	}
	v := int64s(t)
	return len(v) == 1 && v[0] == axis
}

// int64s returns the values of an INT64 tensor, raw or not (nil otherwise).
func int64s(t *pb.TensorProto) []int64 {
	if t.DataType != int32(pb.TensorProto_INT64) {
		return nil
	}
	if len(t.Int64Data) > 0 {
		return t.Int64Data
	}
	raw := t.RawData
	v := make([]int64, len(raw)/8)
	for i := range v {
		var x uint64
		for k := 7; k >= 0; k-- {
			x = x<<8 | uint64(raw[8*i+k])
		}
		v[i] = int64(x)
	}
	return v
}

func replaceInput(n *pb.NodeProto, from, to string) {
	for i, in := range n.Input {
		if in == from {
			n.Input[i] = to
		}
	}
}

// pruneDead removes the nodes none of whose outputs is used by another node
// or is a graph output, until none is left.
func pruneDead(g *pb.GraphProto) {
	for {
		used := map[string]bool{}
		for _, o := range g.Output {
			used[o.Name] = true
		}
		for _, n := range g.Node {
			for _, in := range n.Input {
				used[in] = true
			}
		}
		before := len(g.Node)
		g.Node = slices.DeleteFunc(g.Node, func(n *pb.NodeProto) bool {
			return !slices.ContainsFunc(n.Output, func(o string) bool { return used[o] })
		})
		if len(g.Node) == before {
			return
		}
	}
}

func tensorInput(name string, elem int32, dims ...string) *pb.ValueInfoProto {
	shape := &pb.TensorShapeProto{}
	for _, d := range dims {
		if d == "1" {
			shape.Dim = append(shape.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: 1}})
			continue
		}
		shape.Dim = append(shape.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
	}
	return &pb.ValueInfoProto{Name: name, Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
		TensorType: &pb.TypeProto_Tensor{ElemType: elem, Shape: shape}}}}
}
