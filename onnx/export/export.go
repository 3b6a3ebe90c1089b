package export

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/simlearn/simlearn/models"
	"github.com/simlearn/simlearn/onnx"
)

// OutputName is the name of the exported graph's only output.
const OutputName = "sentence_embedding"

// Servable writes the servable directory dir (see package models) as one
// ONNX file at out, atomically. Every encoder must be an onnx.TextEncoder;
// the head may be any kind of package head (another head type is an error
// naming its kind).
func Servable(dir, out string) error {
	m, err := models.Load(dir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer m.Close()
	return File(m, out)
}

// File writes m as one ONNX file at out, atomically.
func File(m *models.SimilarityModel, out string) error {
	pm, err := Model(m)
	if err != nil {
		return err
	}
	b, err := proto.Marshal(pm)
	if err != nil {
		return fmt.Errorf("export: encoding the ONNX model: %w", err)
	}
	if err := writeAtomic(out, b); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// InputPrefix is what the exported graph puts before the names of an
// encoder's inputs: nothing when the model has one encoder, so that the
// graph takes the encoder's own input_ids, attention_mask and
// token_type_ids, and the encoder's name and a slash ("title/input_ids")
// when it has several, each fed that encoder's tokenisation of its own
// text.
func InputPrefix(m *models.SimilarityModel, encoder string) string {
	if len(m.Encoders()) == 1 {
		return ""
	}
	return encoder + "/"
}

// Model returns the exported graph of m: each encoder's model.onnx with its
// pooling and normalisation, the encoders' outputs concatenated in order,
// and the head, with one output OutputName [batch_size, m.Dim()]. With
// several encoders, every name of an encoder's graph is prefixed as
// InputPrefix says, and the encoders must use one ONNX opset.
func Model(m *models.SimilarityModel) (*pb.ModelProto, error) {
	var pm *pb.ModelProto
	var outs []encoderOut
	for _, e := range m.Encoders() {
		enc, ok := e.(*onnx.TextEncoder)
		if !ok {
			return nil, fmt.Errorf("export: encoder %q is a %T; ONNX export supports *onnx.TextEncoder encoders only", e.Name(), e)
		}
		em, out, err := readEncoder(enc, InputPrefix(m, enc.Name()))
		if err != nil {
			return nil, fmt.Errorf("export: encoder %q: %w", enc.Name(), err)
		}
		if pm == nil {
			pm = em
		} else if err := merge(pm, em); err != nil {
			return nil, fmt.Errorf("export: encoder %q: %w", enc.Name(), err)
		}
		outs = append(outs, out)
	}
	g := pm.Graph
	b := newBuilder(g, defaultOpset(pm))
	var xs []string
	for _, o := range outs {
		x := o.hidden
		if !o.pooled {
			var err error
			if x, err = b.pool(o.hidden, o.mask, string(o.Config.Pooling)); err != nil {
				return nil, fmt.Errorf("export: encoder %q: %w", o.Name, err)
			}
		}
		if o.Config.Normalize {
			x = b.normalize(x)
		}
		xs = append(xs, x)
	}
	x := xs[0]
	if len(xs) > 1 {
		x = b.op("Concat", xs, attrInt("axis", 1))
	}
	hc := m.Head().Config()
	x, err := b.headGraph(x, m.Head())
	if err != nil {
		return nil, fmt.Errorf("export: head %s: %w", hc.Kind, err)
	}
	// The output is an Identity so that it carries the public name.
	g.Node = append(g.Node, &pb.NodeProto{Name: "simlearn/output", OpType: "Identity", Input: []string{x}, Output: []string{OutputName}})
	g.Output = []*pb.ValueInfoProto{floatMatrix(OutputName, "batch_size", int64(m.Dim()))}

	pm.ProducerName = "simlearn"
	pm.ProducerVersion = models.SimlearnVersion
	meta := map[string]string{"simlearn.head": hc.Kind, "simlearn.dim": strconv.Itoa(m.Dim())}
	if len(outs) == 1 {
		cfg := outs[0].Config
		meta["simlearn.pooling"] = string(cfg.Pooling)
		meta["simlearn.normalize"] = strconv.FormatBool(cfg.Normalize)
		meta["simlearn.max_length"] = strconv.Itoa(cfg.MaxLength)
	}
	encs, err := json.Marshal(outs)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	meta["simlearn.encoders"] = string(encs)
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		pm.MetadataProps = append(pm.MetadataProps, &pb.StringStringEntryProto{Key: k, Value: meta[k]})
	}
	return pm, nil
}

// encoderOut describes an encoder's part of the exported graph; its
// exported fields are written, as JSON, to the model's "simlearn.encoders"
// metadata.
type encoderOut struct {
	Name   string          `json:"name"`
	Inputs []string        `json:"inputs"`
	Config onnx.TextConfig `json:"config"`

	hidden string // the graph output that pooling reads
	pooled bool   // hidden is already a sentence embedding
	mask   string // the attention mask input, "" without one
}

// readEncoder reads enc's model.onnx with every name prefixed and says
// which of its outputs and inputs the export uses.
func readEncoder(enc *onnx.TextEncoder, prefix string) (*pb.ModelProto, encoderOut, error) {
	path := enc.ModelPath()
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, encoderOut{}, err
	}
	var pm pb.ModelProto
	if err := proto.Unmarshal(raw, &pm); err != nil {
		return nil, encoderOut{}, fmt.Errorf("%s is not a valid ONNX model: %w", path, err)
	}
	g := pm.GetGraph()
	if g == nil {
		return nil, encoderOut{}, fmt.Errorf("%s has no graph", path)
	}
	if opset := defaultOpset(&pm); opset < 9 {
		return nil, encoderOut{}, fmt.Errorf("%s imports ONNX opset %d; at least 9 is needed", path, opset)
	}
	hidden, pooled, err := encoderOutput(g)
	if err != nil {
		return nil, encoderOut{}, fmt.Errorf("%s: %w", path, err)
	}
	out := encoderOut{Name: enc.Name(), Config: enc.Config(), hidden: prefix + hidden, pooled: pooled}
	for _, in := range g.Input {
		if in.Name == "attention_mask" {
			out.mask = prefix + in.Name
		}
		out.Inputs = append(out.Inputs, prefix+in.Name)
	}
	if !pooled && out.mask == "" && out.Config.Pooling != onnx.PoolingCLS {
		return nil, encoderOut{}, fmt.Errorf("%s has no attention_mask input, which %s pooling needs", path, out.Config.Pooling)
	}
	if prefix != "" {
		prefixGraph(g, prefix)
	}
	return &pm, out, nil
}

// defaultOpset is the version of the default ONNX domain that pm imports.
func defaultOpset(pm *pb.ModelProto) int64 {
	for _, o := range pm.OpsetImport {
		if domain(o.Domain) == "" {
			return o.Version
		}
	}
	return 0
}

// merge appends src's graph to dst's; both must import the same version of
// every domain they share.
func merge(dst, src *pb.ModelProto) error {
	have := map[string]int64{}
	for _, o := range dst.OpsetImport {
		have[domain(o.Domain)] = o.Version
	}
	for _, o := range src.OpsetImport {
		v, ok := have[domain(o.Domain)]
		switch {
		case !ok:
			dst.OpsetImport = append(dst.OpsetImport, o)
		case v != o.Version:
			what := fmt.Sprintf("opset %d of domain %q", o.Version, o.Domain)
			if domain(o.Domain) == "" {
				what = fmt.Sprintf("ONNX opset %d", o.Version)
			}
			return fmt.Errorf("it imports %s and the first encoder %d; the encoders of one export must use the same opsets", what, v)
		}
	}
	d, s := dst.Graph, src.Graph
	d.Node = append(d.Node, s.Node...)
	d.Initializer = append(d.Initializer, s.Initializer...)
	d.SparseInitializer = append(d.SparseInitializer, s.SparseInitializer...)
	d.Input = append(d.Input, s.Input...)
	d.ValueInfo = append(d.ValueInfo, s.ValueInfo...)
	d.QuantizationAnnotation = append(d.QuantizationAnnotation, s.QuantizationAnnotation...)
	return nil
}

// domain is d with ONNX's default domain, "" or "ai.onnx", spelt "".
func domain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// prefixGraph puts p before every name in g and in its subgraphs: nodes,
// their inputs and outputs, initializers, the graph's inputs, outputs and
// value infos, and symbolic dimensions (so that two encoders' sequence
// lengths are not taken for one). An empty name (an omitted optional
// input) stays empty.
func prefixGraph(g *pb.GraphProto, p string) {
	r := func(s string) string {
		if s == "" {
			return s
		}
		return p + s
	}
	for _, n := range g.Node {
		n.Name = r(n.Name)
		for i := range n.Input {
			n.Input[i] = r(n.Input[i])
		}
		for i := range n.Output {
			n.Output[i] = r(n.Output[i])
		}
		for _, a := range n.Attribute {
			if a.G != nil {
				prefixGraph(a.G, p)
			}
			for _, sg := range a.Graphs {
				prefixGraph(sg, p)
			}
		}
	}
	for _, t := range g.Initializer {
		t.Name = r(t.Name)
	}
	for _, t := range g.SparseInitializer {
		if t.Values != nil {
			t.Values.Name = r(t.Values.Name)
		}
		if t.Indices != nil {
			t.Indices.Name = r(t.Indices.Name)
		}
	}
	for _, vs := range [][]*pb.ValueInfoProto{g.Input, g.Output, g.ValueInfo} {
		for _, v := range vs {
			v.Name = r(v.Name)
			if tt := v.GetType().GetTensorType(); tt != nil {
				for _, d := range tt.GetShape().GetDim() {
					if dp, ok := d.Value.(*pb.TensorShapeProto_Dimension_DimParam); ok {
						dp.DimParam = r(dp.DimParam)
					}
				}
			}
		}
	}
	for _, q := range g.QuantizationAnnotation {
		q.TensorName = r(q.TensorName)
	}
}

// encoderOutput picks the encoder output the way onnx.TextEncoder does:
// token embeddings ("last_hidden_state" or "token_embeddings") when the
// model has them, so that the configured pooling applies, else an already
// pooled "sentence_embedding" (no pooling then).
func encoderOutput(g *pb.GraphProto) (name string, pooled bool, err error) {
	for _, o := range g.Output {
		if o.Name == "last_hidden_state" || o.Name == "token_embeddings" {
			return o.Name, false, nil
		}
	}
	for _, o := range g.Output {
		if o.Name == OutputName {
			return o.Name, true, nil
		}
	}
	return "", false, fmt.Errorf("no output named last_hidden_state, token_embeddings or sentence_embedding")
}

// floatMatrix describes a float32 tensor [batch, dim] with a symbolic batch.
func floatMatrix(name, batch string, dim int64) *pb.ValueInfoProto {
	return &pb.ValueInfoProto{
		Name: name,
		Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
			ElemType: int32(pb.TensorProto_FLOAT),
			Shape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dimension{
				{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: batch}},
				{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: dim}},
			}},
		}}},
	}
}

// writeAtomic writes data to path through a synced temporary file beside it.
func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
