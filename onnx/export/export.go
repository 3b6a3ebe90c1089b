package export

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/simlearn/simlearn/models"
	"github.com/simlearn/simlearn/onnx"
)

// OutputName is the name of the exported graph's only output.
const OutputName = "sentence_embedding"

// Servable writes the servable directory dir (see package models) as one
// ONNX file at out, atomically. The servable must have exactly one encoder,
// an onnx.TextEncoder; the head may be any kind of package head (another
// head type is an error naming its kind).
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

// Model returns the exported graph of m: its encoder's model.onnx with the
// pooling, the normalisation and the head appended, and one output,
// OutputName [batch_size, m.Dim()].
func Model(m *models.SimilarityModel) (*pb.ModelProto, error) {
	encs := m.Encoders()
	enc, ok := encs[0].(*onnx.TextEncoder)
	if len(encs) != 1 || !ok {
		return nil, fmt.Errorf("export: the model has %d encoders, the first a %T; ONNX export supports exactly one *onnx.TextEncoder", len(encs), encs[0])
	}
	cfg := enc.Config()
	modelPath := enc.ModelPath()
	raw, err := os.ReadFile(modelPath)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var pm pb.ModelProto
	if err := proto.Unmarshal(raw, &pm); err != nil {
		return nil, fmt.Errorf("export: %s is not a valid ONNX model: %w", modelPath, err)
	}
	g := pm.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("export: %s has no graph", modelPath)
	}
	opset := int64(0)
	for _, o := range pm.OpsetImport {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			opset = o.Version
		}
	}
	if opset < 9 {
		return nil, fmt.Errorf("export: %s imports ONNX opset %d; at least 9 is needed", modelPath, opset)
	}
	hidden, pooled, err := encoderOutput(g)
	if err != nil {
		return nil, fmt.Errorf("export: %s: %w", modelPath, err)
	}
	b := newBuilder(g, opset)
	x := hidden
	if !pooled {
		mask := ""
		for _, in := range g.Input {
			if in.Name == "attention_mask" {
				mask = in.Name
			}
		}
		if mask == "" && cfg.Pooling != onnx.PoolingCLS {
			return nil, fmt.Errorf("export: %s has no attention_mask input, which %s pooling needs", modelPath, cfg.Pooling)
		}
		if x, err = b.pool(hidden, mask, string(cfg.Pooling)); err != nil {
			return nil, fmt.Errorf("export: encoder %q: %w", enc.Name(), err)
		}
	}
	if cfg.Normalize {
		x = b.normalize(x)
	}
	hc := m.Head().Config()
	if x, err = b.headGraph(x, m.Head()); err != nil {
		return nil, fmt.Errorf("export: head %s: %w", hc.Kind, err)
	}
	// The output is an Identity so that it carries the public name.
	g.Node = append(g.Node, &pb.NodeProto{Name: "simlearn/output", OpType: "Identity", Input: []string{x}, Output: []string{OutputName}})
	g.Output = []*pb.ValueInfoProto{floatMatrix(OutputName, "batch_size", int64(m.Dim()))}

	pm.ProducerName = "simlearn"
	pm.ProducerVersion = models.SimlearnVersion
	pm.MetadataProps = append(pm.MetadataProps,
		&pb.StringStringEntryProto{Key: "simlearn.head", Value: hc.Kind},
		&pb.StringStringEntryProto{Key: "simlearn.pooling", Value: string(cfg.Pooling)},
		&pb.StringStringEntryProto{Key: "simlearn.normalize", Value: strconv.FormatBool(cfg.Normalize)},
		&pb.StringStringEntryProto{Key: "simlearn.max_length", Value: strconv.Itoa(cfg.MaxLength)},
		&pb.StringStringEntryProto{Key: "simlearn.dim", Value: strconv.Itoa(m.Dim())},
	)
	return &pm, nil
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
