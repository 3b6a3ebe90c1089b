package models_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/models"
)

// A model is saved as a servable directory and loaded back; Load verifies
// every file's checksum before rebuilding the encoders and the head.
func ExampleSimilarityModel_Save() {
	colors, _ := models.NewEmbeddingTable(models.EmbeddingTableConfig{
		Name: "color", Categories: []string{"red", "green", "blue"}, Dim: 4, Seed: 1,
	})
	h, _ := head.New(head.Config{Kind: head.KindLinear, Out: 2}, 4, 1)
	m, err := models.New([]models.Encoder{colors}, h)
	if err != nil {
		fmt.Println(err)
		return
	}
	tmp, _ := os.MkdirTemp("", "servable")
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "colors")
	if err := m.Save(dir); err != nil {
		fmt.Println(err)
		return
	}
	loaded, err := models.Load(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	vecs, _ := loaded.Encode(context.Background(), []any{"red", "mauve"})
	man, _ := models.ReadManifest(dir)
	fmt.Println(len(vecs), "vectors of", loaded.Dim(), "values; head", man.Head.Kind, "over", man.Encoders[0].Kind)
	// Output: 2 vectors of 2 values; head linear over embedding_table
}
