package models

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/simlearn/simlearn/head"
)

// tableModel is a small real model: two embedding tables and a head.
func tableModel(t *testing.T, hc head.Config, seed uint64) *SimilarityModel {
	t.Helper()
	color, err := NewEmbeddingTable(EmbeddingTableConfig{Name: "color", Categories: []string{"red", "green", "blue"}, Dim: 4, Field: "color", Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	size, err := NewEmbeddingTable(EmbeddingTableConfig{Name: "size", Categories: []string{"S", "M", "L"}, Dim: 3, Field: "size", Seed: seed + 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := head.New(hc, 7, seed)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New([]Encoder{color, size}, h, WithBatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var tableObjs = []any{
	map[string]any{"color": "red", "size": "S"},
	map[string]any{"color": "blue", "size": "L"},
	map[string]any{"color": "purple", "size": "M"},
	map[string]any{"color": "green", "size": "XL"},
	map[string]any{"color": "green", "size": "S"},
}

func encodeAll(t *testing.T, m *SimilarityModel) [][]float32 {
	t.Helper()
	v, err := m.Encode(context.Background(), tableObjs)
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

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, hc := range []head.Config{
		{Kind: head.KindLinear, Out: 5},
		{Kind: head.KindSkipConnection, NLayers: 2},
		{Kind: head.KindSequential, Heads: []head.Config{{Kind: head.KindGated}, {Kind: head.KindStackedProjection, Sizes: []int{6, 2}, Activation: "gelu"}}},
	} {
		t.Run(hc.Kind, func(t *testing.T) {
			m := tableModel(t, hc, 3)
			want := encodeAll(t, m)
			dir := filepath.Join(t.TempDir(), "servable")
			if err := m.Save(dir); err != nil {
				t.Fatal(err)
			}
			got, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got.Dim() != m.Dim() || got.InDim() != 7 || len(got.Encoders()) != 2 {
				t.Fatalf("loaded dims %d/%d, %d encoders", got.Dim(), got.InDim(), len(got.Encoders()))
			}
			// Weights are stored as float32: the outputs agree to float32 precision.
			if d := maxDiff(want, encodeAll(t, got)); d > 1e-6 {
				t.Fatalf("outputs differ by %g after a round trip", d)
			}
			man, err := ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			if man.FormatVersion != FormatVersion || man.Head.Kind != hc.Kind || man.Encoders[1].Kind != KindEmbeddingTable || man.Dim != m.Dim() {
				t.Fatalf("manifest %+v", man)
			}
			if len(man.Encoders[0].Files) != 2 || man.Encoders[0].Files["encoders/color/weights.safetensors"] == "" {
				t.Fatalf("color files %v", man.Encoders[0].Files)
			}
		})
	}
}

func TestSaveOverExisting(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "model")
	a := tableModel(t, head.Config{Kind: head.KindLinear, Out: 3}, 1)
	b := tableModel(t, head.Config{Kind: head.KindGated}, 2)
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(dir); err != nil {
		t.Fatalf("saving over an existing servable: %v", err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(encodeAll(t, b), encodeAll(t, got)); got.Dim() != 7 || d > 1e-6 {
		t.Fatalf("the second save did not replace the first: dim %d, diff %g", got.Dim(), d)
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("temporary directories left beside the model: %v", names)
	}
}

func TestSaveRefusesNonServable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := tableModel(t, head.Config{Kind: head.KindEmpty}, 1).Save(dir)
	if err == nil || !strings.Contains(err.Error(), "not a servable") {
		t.Fatalf("got %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious.txt")); err != nil {
		t.Fatal("the existing file was removed")
	}
}

func TestLoadDamaged(t *testing.T) {
	src := filepath.Join(t.TempDir(), "m")
	if err := tableModel(t, head.Config{Kind: head.KindLinear, Out: 4}, 1).Save(src); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		damage func(dir string) error
		want   string
	}{
		{"flipped byte in head", func(d string) error { return flipByte(filepath.Join(d, "head.safetensors"), 40) }, "file head.safetensors does not match"},
		{"truncated encoder weights", func(d string) error {
			return os.Truncate(filepath.Join(d, "encoders/size/weights.safetensors"), 10)
		}, "file encoders/size/weights.safetensors does not match"},
		{"missing encoder.json", func(d string) error { return os.Remove(filepath.Join(d, "encoders/color/encoder.json")) }, "file encoders/color/encoder.json"},
		{"truncated manifest", func(d string) error { return os.Truncate(filepath.Join(d, "simlearn.json"), 50) }, "simlearn.json: invalid JSON"},
		{"missing manifest", func(d string) error { return os.Remove(filepath.Join(d, "simlearn.json")) }, "simlearn.json is missing"},
		{"newer format", func(d string) error {
			return editManifest(d, func(m map[string]any) { m["format_version"] = 99; m["future_field"] = true })
		}, "format version 99"},
		{"unknown encoder kind", func(d string) error {
			return editManifest(d, func(m map[string]any) { m["encoders"].([]any)[0].(map[string]any)["kind"] = "hologram" })
		}, `kind "hologram"`},
		{"path escape", func(d string) error {
			return editManifest(d, func(m map[string]any) {
				m["encoders"].([]any)[0].(map[string]any)["files"].(map[string]any)["encoders/color/../../x"] = "00"
			})
		}, "outside encoders/color/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "m")
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			if err := c.damage(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func flipByte(p string, at int64) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	b[at] ^= 0x55
	return os.WriteFile(p, b, 0o644)
}

func editManifest(dir string, edit func(map[string]any)) error {
	p := filepath.Join(dir, "simlearn.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	edit(m)
	b, err = json.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

func TestNewChecks(t *testing.T) {
	tbl := func(name string, dim int) Encoder {
		e, err := NewEmbeddingTable(EmbeddingTableConfig{Name: name, Categories: []string{"a"}, Dim: dim})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	h, _ := head.New(head.Config{Kind: head.KindEmpty}, 4, 0)
	for _, c := range []struct {
		encs []Encoder
		want string
	}{
		{nil, "no encoders"},
		{[]Encoder{tbl("a", 2), tbl("a", 2)}, "used twice"},
		{[]Encoder{tbl("../x", 4)}, "has name"},
		{[]Encoder{tbl("a", 3)}, "head takes 4"},
	} {
		if _, err := New(c.encs, h); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}
