package onnx_test

import (
	"context"
	"fmt"
	"log"

	"github.com/simlearn/simlearn/onnx"
)

// Embed three sentences with all-MiniLM-L6-v2 (from the directory
// scripts/setup fills) and compare them. The vectors are L2-normalised, so
// their dot product is their cosine similarity.
func ExampleTextEncoder() {
	enc, err := onnx.NewTextEncoder()
	if err != nil {
		log.Fatal(err)
	}
	defer enc.Close()
	vecs, err := enc.Encode(context.Background(), []any{
		"A man is playing a guitar.",
		"Someone is playing an instrument.",
		"A woman is slicing an onion.",
	})
	if err != nil {
		log.Fatal(err)
	}
	dot := func(a, b []float32) (s float32) {
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	}
	fmt.Println("dimension", enc.Dim())
	fmt.Printf("guitar ~ instrument %.1f\n", dot(vecs[0], vecs[1]))
	fmt.Printf("guitar ~ onion      %.1f\n", dot(vecs[0], vecs[2]))
	// Output:
	// dimension 384
	// guitar ~ instrument 0.7
	// guitar ~ onion      0.1
}

// Encode a field of structs: by Go field name or, as here, by json tag.
func ExampleWithField() {
	type product struct {
		SKU         string
		Description string `json:"description"`
	}
	enc, err := onnx.NewTextEncoder(onnx.WithField("description"))
	if err != nil {
		log.Fatal(err)
	}
	defer enc.Close()
	vecs, err := enc.Encode(context.Background(), []any{
		product{SKU: "g-1", Description: "steel-string acoustic guitar"},
		map[string]any{"description": "nylon-string classical guitar"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(enc.Name(), len(vecs), len(vecs[0]))
	// Output: description 2 384
}
