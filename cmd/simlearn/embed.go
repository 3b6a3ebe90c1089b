package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/simlearn/simlearn/models"
)

const embedSynopsis = `
Usage: simlearn embed [flags] MODEL

Reads JSONL records, one JSON object per line, embeds the --field of each
with MODEL and writes each record again, in input order, with the vector
added under --output-field. Blank lines are skipped. The field holds a string,
or any JSON value for models whose encoder reads a field of objects.

MODEL is a servable directory (written by fit) or an encoder directory
(model.onnx and tokenizer.json) used as the frozen encoder. Input comes from
standard input unless --in names a file; output goes to standard output
unless --out names a file, which is written completely or not at all.
`

const embedExamples = `
  echo '{"id": 1, "text": "A man is playing a guitar."}' | simlearn embed models/products

  simlearn embed --in products.jsonl --field description --out vectors.jsonl models/products
`

func runEmbed(ctx context.Context, e *env, args []string) error {
	enc := defaultEncoder()
	f := newFlagSet("embed", embedSynopsis, embedExamples)
	enc.register(f, false)
	in := f.String("in", "-", "input JSONL `file` (- for standard input)")
	out := f.String("out", "-", "output JSONL `file` (- for standard output)")
	field := f.String("field", "text", "`field` of each record to embed")
	outField := f.String("output-field", "embedding", "`field` that receives the vector")
	batch := f.Int("batch", 256, "`records` embedded together")
	pos, err := f.parse(e, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "MODEL"); err != nil {
		return err
	}
	if *field == "" || *outField == "" {
		return usagef("--field and --output-field must not be empty")
	}
	if *batch <= 0 {
		return usagef("--batch %d: want a positive number of records", *batch)
	}

	r, name := e.stdin, "<stdin>"
	if *in != "-" {
		fh, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer fh.Close()
		r, name = fh, *in
	}
	m, err := openModel(pos[0], enc, f)
	if err != nil {
		return err
	}
	defer m.Close()
	emb := &embedder{model: m, field: *field, outField: *outField, batch: *batch, name: name}
	if *out == "-" {
		return emb.run(ctx, r, e.stdout)
	}
	return writeFileAtomic(*out, func(w io.Writer) error { return emb.run(ctx, r, w) })
}

// embedder streams JSONL records through a model.
type embedder struct {
	model           *models.SimilarityModel
	field, outField string
	batch           int
	name            string // the input's name in errors
}

// pending is one input record waiting for its vector.
type pending struct {
	rec map[string]json.RawMessage
	obj any
}

// run reads records from r and writes them with their vectors to w, one
// batch at a time.
func (b *embedder) run(ctx context.Context, r io.Reader, w io.Writer) error {
	br := bufio.NewReaderSize(r, 1<<16)
	bw := bufio.NewWriterSize(w, 1<<16)
	var recs []pending
	line := 0
	for {
		text, rerr := br.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("%s: %w", b.name, rerr)
		}
		if len(bytes.TrimSpace(text)) > 0 {
			line++
			p, err := b.parse(text)
			if err != nil {
				return fmt.Errorf("%s:%d: %w", b.name, line, err)
			}
			recs = append(recs, p)
		} else if len(text) > 0 {
			line++
		}
		if len(recs) == b.batch || (errors.Is(rerr, io.EOF) && len(recs) > 0) {
			if err := b.flush(ctx, recs, bw); err != nil {
				return fmt.Errorf("%s: records ending at line %d: %w", b.name, line, err)
			}
			recs = recs[:0]
		}
		if errors.Is(rerr, io.EOF) {
			return bw.Flush()
		}
	}
}

// parse decodes one record and takes its object from the field.
func (b *embedder) parse(text []byte) (pending, error) {
	var p pending
	if err := json.Unmarshal(text, &p.rec); err != nil || p.rec == nil {
		return p, fmt.Errorf("not a JSON object: %.60q", bytes.TrimSpace(text))
	}
	raw, ok := p.rec[b.field]
	if !ok || string(raw) == "null" {
		return p, fmt.Errorf("field %q: missing", b.field)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&p.obj); err != nil {
		return p, fmt.Errorf("field %q: %w", b.field, err)
	}
	if s, ok := p.obj.(string); ok && s == "" {
		return p, fmt.Errorf("field %q: empty", b.field)
	}
	return p, nil
}

// flush embeds recs and writes them.
func (b *embedder) flush(ctx context.Context, recs []pending, w io.Writer) error {
	objs := make([]any, len(recs))
	for i, p := range recs {
		objs[i] = p.obj
	}
	vecs, err := b.model.Encode(ctx, objs)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i, p := range recs {
		v, err := json.Marshal(vecs[i])
		if err != nil {
			return err
		}
		p.rec[b.outField] = v
		if err := enc.Encode(p.rec); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes path through write into a temporary file in the
// same directory, which is synced and renamed over path only when write
// succeeds.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
