// Command embed embeds a few sentences with all-MiniLM-L6-v2 (the frozen ONNX
// text encoder) and prints their cosine similarity matrix.
//
//	make demo
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/simlearn/simlearn/onnx"
)

var sentences = []string{
	"A man is playing a guitar.",
	"Someone is playing an instrument.",
	"A woman is slicing an onion.",
	"A person is cutting vegetables.",
	"The stock market fell sharply today.",
}

func main() {
	if err := run(context.Background()); err != nil {
		slog.Error("embed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	enc, err := onnx.NewTextEncoder()
	if err != nil {
		return err
	}
	defer enc.Close()
	start := time.Now()
	vecs, err := enc.EncodeTexts(ctx, sentences)
	if err != nil {
		return err
	}
	fmt.Printf("%s\nencoded %d sentences in %v (ONNX Runtime %s)\n\n",
		enc, len(vecs), time.Since(start).Round(time.Millisecond), onnx.RuntimeVersion())
	for i, s := range sentences {
		fmt.Printf("[%d] %s\n", i, s)
	}
	fmt.Printf("\ncosine similarity\n     ")
	for j := range sentences {
		fmt.Printf("  [%d] ", j)
	}
	fmt.Println()
	for i, a := range vecs {
		fmt.Printf("[%d]  ", i)
		for _, b := range vecs {
			fmt.Printf(" %5.3f", dot(a, b)) // the vectors are unit length
		}
		fmt.Println()
	}
	return nil
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
