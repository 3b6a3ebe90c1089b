package export

import (
	"fmt"
	"math"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
)

// builder appends nodes and initializers to a graph, naming everything it
// adds with a prefix so nothing collides with the encoder's own names.
type builder struct {
	g     *pb.GraphProto
	opset int64
	names map[string]bool
	seq   int
}

func newBuilder(g *pb.GraphProto, opset int64) *builder {
	b := &builder{g: g, opset: opset, names: map[string]bool{}}
	for _, n := range g.Node {
		b.names[n.Name] = true
		for _, o := range n.Output {
			b.names[o] = true
		}
	}
	for _, t := range g.Initializer {
		b.names[t.Name] = true
	}
	for _, v := range g.Input {
		b.names[v.Name] = true
	}
	return b
}

// fresh returns an unused name based on hint.
func (b *builder) fresh(hint string) string {
	for {
		b.seq++
		n := fmt.Sprintf("simlearn/%s_%d", hint, b.seq)
		if !b.names[n] {
			b.names[n] = true
			return n
		}
	}
}

// op appends a node with one output and returns the output's name.
func (b *builder) op(opType string, inputs []string, attrs ...*pb.AttributeProto) string {
	out := b.fresh(opType)
	b.g.Node = append(b.g.Node, &pb.NodeProto{
		Name: out, OpType: opType, Input: inputs, Output: []string{out}, Attribute: attrs,
	})
	return out
}

func attrInt(name string, v int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_INT, I: v}
}

func attrInts(name string, v ...int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_INTS, Ints: v}
}

func attrFloat(name string, v float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_FLOAT, F: v}
}

// floats adds a float32 initializer with the given shape.
func (b *builder) floats(hint string, dims []int64, data []float32) string {
	name := b.fresh(hint)
	b.g.Initializer = append(b.g.Initializer, &pb.TensorProto{
		Name: name, Dims: dims, DataType: int32(pb.TensorProto_FLOAT), FloatData: data,
	})
	return name
}

// scalar adds a float32 scalar initializer.
func (b *builder) scalar(v float32) string {
	return b.floats("const", nil, []float32{v})
}

// ints adds an int64 initializer with the given shape.
func (b *builder) ints(hint string, dims []int64, data []int64) string {
	name := b.fresh(hint)
	b.g.Initializer = append(b.g.Initializer, &pb.TensorProto{
		Name: name, Dims: dims, DataType: int32(pb.TensorProto_INT64), Int64Data: data,
	})
	return name
}

// reduce appends a Reduce* node over axes. The axes moved from an attribute
// to an input at opset 13 for ReduceSum and at opset 18 for the others.
func (b *builder) reduce(opType, x string, keepDims bool, axes ...int64) string {
	keep := int64(0)
	if keepDims {
		keep = 1
	}
	inputAt := int64(18)
	if opType == "ReduceSum" {
		inputAt = 13
	}
	if b.opset >= inputAt {
		return b.op(opType, []string{x, b.ints("axes", []int64{int64(len(axes))}, axes)}, attrInt("keepdims", keep))
	}
	return b.op(opType, []string{x}, attrInts("axes", axes...), attrInt("keepdims", keep))
}

// reshape appends a Reshape to a constant shape (0 copies the input's size).
func (b *builder) reshape(x string, shape ...int64) string {
	return b.op("Reshape", []string{x, b.ints("shape", []int64{int64(len(shape))}, shape)})
}

// pool reduces hidden [B, T, H] to [B, H] with the attention mask [B, T].
func (b *builder) pool(hidden, mask, pooling string) (string, error) {
	switch pooling {
	case "cls":
		idx := b.ints("cls_index", nil, []int64{0})
		return b.op("Gather", []string{hidden, idx}, attrInt("axis", 1)), nil
	case "mean", "max":
	default:
		return "", fmt.Errorf("pooling %q is not supported (want mean, cls or max)", pooling)
	}
	m := b.op("Cast", []string{mask}, attrInt("to", int64(pb.TensorProto_FLOAT)))
	m3 := b.reshape(m, 0, -1, 1) // [B, T, 1]
	if pooling == "max" {
		// Masked positions get -1e9, as sentence-transformers does.
		off := b.op("Mul", []string{b.op("Sub", []string{m3, b.scalar(1)}), b.scalar(1e9)})
		return b.reduce("ReduceMax", b.op("Add", []string{hidden, off}), false, 1), nil
	}
	sum := b.reduce("ReduceSum", b.op("Mul", []string{hidden, m3}), false, 1) // [B, H]
	count := b.reduce("ReduceSum", m3, false, 1)                              // [B, 1]
	count = b.op("Max", []string{count, b.scalar(1e-9)})
	return b.op("Div", []string{sum, count}), nil
}

// normalize divides each row of x [B, H] by max(|row|, 1e-12).
func (b *builder) normalize(x string) string {
	sq := b.reduce("ReduceSum", b.op("Mul", []string{x, x}), true, 1)
	norm := b.op("Max", []string{b.op("Sqrt", []string{sq}), b.scalar(1e-12)})
	return b.op("Div", []string{x, norm})
}

// linear appends y = x W^T + b for W [out][in] (row-major, float64) and an
// optional bias.
func (b *builder) linear(x string, w []float64, out, in int, bias []float64) string {
	if bias == nil {
		// MatMul with W^T stored [in, out].
		wt := make([]float32, in*out)
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				wt[i*out+o] = float32(w[o*in+i])
			}
		}
		return b.op("MatMul", []string{x, b.floats("weight_t", []int64{int64(in), int64(out)}, wt)})
	}
	wn := b.floats("weight", []int64{int64(out), int64(in)}, to32(w, nil))
	bn := b.floats("bias", []int64{int64(out)}, to32(bias, nil))
	return b.op("Gemm", []string{x, wn, bn}, attrInt("transB", 1))
}

// activation appends act(z), with the same definitions as package head.
func (b *builder) activation(z, act string) (string, error) {
	switch act {
	case "relu", "":
		return b.op("Relu", []string{z}), nil
	case "tanh":
		return b.op("Tanh", []string{z}), nil
	case "sigmoid":
		return b.op("Sigmoid", []string{z}), nil
	case "leaky_relu":
		return b.op("LeakyRelu", []string{z}, attrFloat("alpha", 0.01)), nil
	case "silu":
		return b.op("Mul", []string{z, b.op("Sigmoid", []string{z})}), nil
	case "gelu":
		// 0.5 z (1 + erf(z / sqrt 2)), the erf form.
		e := b.op("Erf", []string{b.op("Div", []string{z, b.scalar(math.Sqrt2)})})
		return b.op("Mul", []string{b.op("Mul", []string{z, b.op("Add", []string{e, b.scalar(1)})}), b.scalar(0.5)}), nil
	}
	return "", fmt.Errorf("activation %q is not supported", act)
}

// to32 converts values to float32, applying f first when given.
func to32(v []float64, f func(float64) float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		if f != nil {
			x = f(x)
		}
		out[i] = float32(x)
	}
	return out
}
