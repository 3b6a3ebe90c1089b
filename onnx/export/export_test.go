package export_test

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/models"
	"github.com/simlearn/simlearn/onnx"
	"github.com/simlearn/simlearn/onnx/export"
)

const assetHint = "the tests need the assets of scripts/setup; run `make test` (which runs it) or scripts/setup"

func requireAssets(t testing.TB) {
	t.Helper()
	if _, err := onnx.CheckLibrary(onnx.LibraryPath()); err != nil {
		t.Fatalf("%v\n%s", err, assetHint)
	}
	for _, name := range []string{"model.onnx", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(onnx.DefaultModelDir(), name)); err != nil {
			t.Fatalf("%v\n%s", err, assetHint)
		}
	}
	if err := onnx.InitRuntime(""); err != nil {
		t.Fatal(err)
	}
}

// sentences returns n sentences of the STS Benchmark test split.
func sentences(t testing.TB, n int) []string {
	t.Helper()
	f, err := os.Open("../../../shared/datasets/stsbenchmark/sts-test.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(out) < n {
		if cols := strings.Split(sc.Text(), "\t"); len(cols) >= 7 {
			out = append(out, cols[5], cols[6])
		}
	}
	if len(out) < n {
		t.Fatalf("only %d sentences", len(out))
	}
	return out[:n]
}

func newModel(t testing.TB, enc *onnx.TextEncoder, hc head.Config) *models.SimilarityModel {
	t.Helper()
	h, err := head.New(hc, enc.Dim(), 11)
	if err != nil {
		t.Fatal(err)
	}
	// Move the gates off their initial values so that they matter.
	for _, p := range h.Params() {
		if strings.Contains(p.Name, "gates") {
			p.Value.Apply(func(_, j int, _ float64) float64 { return math.Sin(float64(j)) }, p.Value)
		}
	}
	m, err := models.New([]models.Encoder{enc}, h)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// runExported runs an exported model (file path or bytes) on texts,
// tokenised by each encoder's own tokenizer, in batches padded to the
// longest text; prefix[k] is what export.InputPrefix gives encs[k].
func runExported(t testing.TB, encs []*onnx.TextEncoder, prefix []string, model []byte, texts []string, dim int) [][]float32 {
	t.Helper()
	var names []string
	for _, p := range prefix {
		names = append(names, p+"input_ids", p+"attention_mask", p+"token_type_ids")
	}
	// Basic optimisation only: full graph optimisation of a transformer
	// takes longer than running these few batches.
	so, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer so.Destroy()
	if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableBasic); err != nil {
		t.Fatal(err)
	}
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(model, names, []string{export.OutputName}, so)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Destroy()
	ids := make([][][]uint32, len(encs))
	for k, enc := range encs {
		if ids[k], err = enc.Tokenize(context.Background(), texts); err != nil {
			t.Fatal(err)
		}
	}
	var out [][]float32
	for start := 0; start < len(texts); start += 32 {
		end := min(start+32, len(texts))
		var vals []ort.Value
		for k := range encs {
			batch := ids[k][start:end]
			l := 0
			for _, b := range batch {
				l = max(l, len(b))
			}
			in, mask, types := make([]int64, len(batch)*l), make([]int64, len(batch)*l), make([]int64, len(batch)*l)
			for r, b := range batch {
				for k, id := range b {
					in[r*l+k], mask[r*l+k] = int64(id), 1
				}
			}
			shape := ort.NewShape(int64(len(batch)), int64(l))
			for _, d := range [][]int64{in, mask, types} {
				v, err := ort.NewTensor(shape, d)
				if err != nil {
					t.Fatal(err)
				}
				defer v.Destroy()
				vals = append(vals, v)
			}
		}
		res, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(end-start), int64(dim)))
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.Run(vals, []ort.Value{res}); err != nil {
			t.Fatal(err)
		}
		data := res.GetData()
		for r := range end - start {
			out = append(out, append([]float32(nil), data[r*dim:(r+1)*dim]...))
		}
		res.Destroy()
	}
	return out
}

func encode(t testing.TB, m *models.SimilarityModel, texts []string) [][]float32 {
	t.Helper()
	objs := make([]any, len(texts))
	for i, s := range texts {
		objs[i] = s
	}
	v, err := m.Encode(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func maxDiff(a, b [][]float32) float64 {
	d := 0.0
	for i := range a {
		for k := range a[i] {
			d = math.Max(d, math.Abs(float64(a[i][k]-b[i][k])))
		}
	}
	return d
}

// TestExportMatchesEncode saves a model with a rich head, exports the
// servable to a file and compares ONNX Runtime's output on 256 sentences
// with Encode. With SIMLEARN_EXPORT_KEEP set to a directory, it keeps the
// exported model, the tokenizer and the reference vectors there (see
// scripts/check-export-python).
func TestExportMatchesEncode(t *testing.T) {
	requireAssets(t)
	enc, err := onnx.NewTextEncoder(onnx.WithName("text"))
	if err != nil {
		t.Fatal(err)
	}
	m := newModel(t, enc, head.Config{Kind: head.KindSequential, Heads: []head.Config{
		{Kind: head.KindSkipConnection, NLayers: 2},
		{Kind: head.KindStackedProjection, Sizes: []int{512, 256}, Activation: "gelu"},
	}})
	defer m.Close()
	dir := t.TempDir()
	servable := filepath.Join(dir, "servable")
	if err := m.Save(servable); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "exported.onnx")
	if err := export.Servable(servable, out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// Compare with the loaded servable, whose head weights are the float32
	// values the export holds.
	loaded, err := models.Load(servable)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	texts := sentences(t, 256)
	want := encode(t, loaded, texts)
	got := runExported(t, []*onnx.TextEncoder{enc}, []string{""}, data, texts, 256)
	d := maxDiff(want, got)
	t.Logf("%d sentences, max |ONNX - Encode| = %.3g", len(texts), d)
	if d > 1e-5 {
		t.Fatalf("exported model differs from Encode by %g (> 1e-5)", d)
	}
	if keep := os.Getenv("SIMLEARN_EXPORT_KEEP"); keep != "" {
		ref, _ := json.Marshal(map[string]any{"sentences": texts, "embeddings": want, "max_length": enc.Config().MaxLength})
		tok, err := os.ReadFile(filepath.Join(onnx.DefaultModelDir(), "tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{"model.onnx": data, "reference.json": ref, "tokenizer.json": tok} {
			if err := os.WriteFile(filepath.Join(keep, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestExportHeads checks every exportable head kind and activation, and the
// cls and max poolings, on a few sentences.
func TestExportHeads(t *testing.T) {
	requireAssets(t)
	noBias := false
	cases := []struct {
		name    string
		pooling onnx.Pooling
		hc      head.Config
	}{
		{"empty", onnx.PoolingMean, head.Config{Kind: head.KindEmpty}},
		{"linear", onnx.PoolingMean, head.Config{Kind: head.KindLinear, Out: 64}},
		{"linear_no_bias", onnx.PoolingMean, head.Config{Kind: head.KindLinear, Out: 32, Bias: &noBias}},
		{"gated", onnx.PoolingMean, head.Config{Kind: head.KindGated}},
		{"skip_connection", onnx.PoolingMean, head.Config{Kind: head.KindSkipConnection, NLayers: 3}},
		{"softmax_embeddings", onnx.PoolingMean, head.Config{Kind: head.KindSoftmaxEmbeddings, Groups: 8, Size: 16}},
		{"stacked_relu", onnx.PoolingMean, head.Config{Kind: head.KindStackedProjection, Sizes: []int{100, 50, 20}}},
		{"stacked_tanh", onnx.PoolingMean, head.Config{Kind: head.KindStackedProjection, Sizes: []int{64, 16}, Activation: "tanh"}},
		{"stacked_sigmoid", onnx.PoolingMean, head.Config{Kind: head.KindStackedProjection, Sizes: []int{64, 16}, Activation: "sigmoid"}},
		{"stacked_leaky_relu", onnx.PoolingMean, head.Config{Kind: head.KindStackedProjection, Sizes: []int{64, 16}, Activation: "leaky_relu"}},
		{"widening_silu", onnx.PoolingMean, head.Config{Kind: head.KindWidening, Expansion: 1.5, Activation: "silu"}},
		{"sequential", onnx.PoolingMean, head.Config{Kind: head.KindSequential, Heads: []head.Config{{Kind: head.KindGated}, {Kind: head.KindLinear, Out: 48}, {Kind: head.KindWidening}}}},
		{"cls_pooling", onnx.PoolingCLS, head.Config{Kind: head.KindLinear, Out: 16}},
		{"max_pooling", onnx.PoolingMax, head.Config{Kind: head.KindEmpty}},
	}
	texts := sentences(t, 24)
	encoders := map[onnx.Pooling]*onnx.TextEncoder{} // one session per pooling
	defer func() {
		for _, e := range encoders {
			e.Close()
		}
	}()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := encoders[c.pooling]
			if enc == nil {
				var err error
				if enc, err = onnx.NewTextEncoder(onnx.WithPooling(c.pooling)); err != nil {
					t.Fatal(err)
				}
				encoders[c.pooling] = enc
			}
			m := newModel(t, enc, c.hc)
			pm, err := export.Model(m)
			if err != nil {
				t.Fatal(err)
			}
			data, err := proto.Marshal(pm)
			if err != nil {
				t.Fatal(err)
			}
			got := runExported(t, []*onnx.TextEncoder{enc}, []string{""}, data, texts, m.Dim())
			if d := maxDiff(encode(t, m, texts), got); d > 1e-5 {
				t.Fatalf("exported model differs from Encode by %g", d)
			}
		})
	}
}

// mystery is a head kind the exporter does not know.
type mystery struct{ head.Head }

func (mystery) Config() head.Config { return head.Config{Kind: "mystery"} }

func TestExportRefusesUnsupported(t *testing.T) {
	requireAssets(t)
	enc, err := onnx.NewTextEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	inner, _ := head.New(head.Config{Kind: head.KindEmpty}, enc.Dim(), 0)
	m, err := models.New([]models.Encoder{enc}, mystery{inner})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Model(m); err == nil || !strings.Contains(err.Error(), `head kind "mystery" cannot be exported`) {
		t.Fatalf("got %v, want a refusal naming the kind", err)
	}
	tbl, err := models.NewEmbeddingTable(models.EmbeddingTableConfig{Name: "c", Categories: []string{"a"}, Dim: 4})
	if err != nil {
		t.Fatal(err)
	}
	h4, _ := head.New(head.Config{Kind: head.KindEmpty}, 4, 0)
	m2, err := models.New([]models.Encoder{tbl}, h4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Model(m2); err == nil || !strings.Contains(err.Error(), `encoder "c" is a *models.EmbeddingTable`) {
		t.Fatalf("got %v, want a refusal of the encoder", err)
	}
}

// TestExportSeveralEncoders exports two encoders on one model.onnx, one
// mean-pooled over 256 tokens and one CLS-pooled over 24 (so that their
// tokenisations differ), concatenated under a gated head, and compares the
// output with Encode on 64 sentences.
func TestExportSeveralEncoders(t *testing.T) {
	requireAssets(t)
	mean, err := onnx.NewTextEncoder(onnx.WithName("mean"))
	if err != nil {
		t.Fatal(err)
	}
	cls, err := onnx.NewTextEncoder(onnx.WithName("cls"), onnx.WithPooling(onnx.PoolingCLS), onnx.WithMaxLength(24))
	if err != nil {
		t.Fatal(err)
	}
	h, err := head.New(head.Config{Kind: head.KindSequential, Heads: []head.Config{{Kind: head.KindGated}, {Kind: head.KindLinear, Out: 40}}}, mean.Dim()+cls.Dim(), 5)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.New([]models.Encoder{mean, cls}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	pm, err := export.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for _, in := range pm.Graph.Input {
		inputs = append(inputs, in.Name)
	}
	if want := "mean/input_ids mean/attention_mask mean/token_type_ids cls/input_ids cls/attention_mask cls/token_type_ids"; strings.Join(inputs, " ") != want {
		t.Fatalf("inputs %v, want %s", inputs, want)
	}
	data, err := proto.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	texts := sentences(t, 64)
	got := runExported(t, []*onnx.TextEncoder{mean, cls}, []string{"mean/", "cls/"}, data, texts, m.Dim())
	d := maxDiff(encode(t, m, texts), got)
	t.Logf("%d sentences, max |ONNX - Encode| = %.3g", len(texts), d)
	if d > 1e-5 {
		t.Fatalf("exported model differs from Encode by %g (> 1e-5)", d)
	}

	// An encoder on another opset of the default domain is refused, by name.
	dir := t.TempDir()
	raw, err := os.ReadFile(mean.ModelPath())
	if err != nil {
		t.Fatal(err)
	}
	var other pb.ModelProto
	if err := proto.Unmarshal(raw, &other); err != nil {
		t.Fatal(err)
	}
	for _, o := range other.OpsetImport {
		if o.Domain == "" {
			o.Version++
		}
	}
	if raw, err = proto.Marshal(&other); err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(onnx.DefaultModelDir(), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"model.onnx": raw, "tokenizer.json": tok} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bumped, err := onnx.NewTextEncoder(onnx.WithModelDir(dir), onnx.WithName("bumped"))
	if err != nil {
		t.Fatal(err)
	}
	defer bumped.Close()
	empty, err := head.New(head.Config{Kind: head.KindEmpty}, mean.Dim()+bumped.Dim(), 0)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := models.New([]models.Encoder{mean, bumped}, empty)
	if err != nil {
		t.Fatal(err)
	}
	_, err = export.Model(m2)
	t.Logf("refused: %v", err)
	if err == nil || !strings.Contains(err.Error(), `encoder "bumped"`) || !strings.Contains(err.Error(), "same opsets") {
		t.Fatalf("got %v, want a refusal of the other opset naming the encoder", err)
	}
}
