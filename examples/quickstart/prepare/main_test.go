package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The fixture holds real lines of WordNet 3.0: the licence header, three
// noun.animal and three noun.food synsets, and three verb.body synsets.

func TestReadData(t *testing.T) {
	byLabel := map[string][]synset{}
	seen := map[string]bool{}
	path := filepath.Join("testdata", "wordnet", "data.noun")
	if err := readData(path, byLabel, seen); err != nil {
		t.Fatal(err)
	}
	if len(byLabel) != 2 || len(byLabel["noun.animal"]) != 3 || len(byLabel["noun.food"]) != 3 {
		t.Fatalf("labels %v, want 3 noun.animal and 3 noun.food", counts(byLabel))
	}
	got := byLabel["noun.animal"][1]
	if got.id != "n01313888" || got.Description != "a cell or organism in which genetic recombination has occurred" {
		t.Errorf("second noun.animal synset = %q %q", got.id, got.Description)
	}
	// Reading the same glosses again adds nothing: each is kept once.
	if err := readData(path, byLabel, seen); err != nil {
		t.Fatal(err)
	}
	if len(byLabel["noun.animal"]) != 3 {
		t.Errorf("repeated glosses were kept: %v", counts(byLabel))
	}
}

func TestReadDataErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "data.noun")
	if err := os.WriteFile(bad, []byte("  licence\n00001740 99 n 01 entity 0 000 | a gloss\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := readData(bad, map[string][]synset{}, map[string]bool{})
	if err == nil || !strings.Contains(err.Error(), bad+":2: bad lex_filenum") {
		t.Errorf("err = %v, want the file, line 2 and the bad field", err)
	}
	err = readData(filepath.Join(dir, "missing"), map[string][]synset{}, map[string]bool{})
	if err == nil || !strings.Contains(err.Error(), "wordnet-base") {
		t.Errorf("err = %v, want a hint to install wordnet-base", err)
	}
}

func TestRunDeterministicSplit(t *testing.T) {
	var outputs []map[string][]byte
	for range 2 {
		out := t.TempDir()
		if err := run(filepath.Join("testdata", "wordnet"), out, 3, 3, []string{"verb.body"}); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, name := range []string{"train", "val", "test", "unseen"} {
			b, err := os.ReadFile(filepath.Join(out, name+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			files[name] = b
		}
		outputs = append(outputs, files)
	}
	for name, b := range outputs[0] {
		if !bytes.Equal(b, outputs[1][name]) {
			t.Errorf("%s.jsonl differs between two runs", name)
		}
	}
	// Three synsets per label: positions 0 and 1 of each label's hash order
	// go to test, position 2 to val (train would start at position 3);
	// verb.body goes to unseen only.
	want := map[string]int{"train": 0, "val": 2, "test": 4, "unseen": 3}
	for name, n := range want {
		b := outputs[0][name]
		if got := bytes.Count(b, []byte("\n")); got != n {
			t.Errorf("%s.jsonl has %d records, want %d:\n%s", name, got, n, b)
		}
		if body := bytes.Contains(b, []byte("verb.body")); body != (name == "unseen") {
			t.Errorf("%s.jsonl: holds verb.body records = %v:\n%s", name, body, b)
		}
	}
}

func counts(m map[string][]synset) map[string]int {
	c := map[string]int{}
	for k, v := range m {
		c[k] = len(v)
	}
	return c
}

// TestCommittedData checks the prepared files the quick start reads: every
// label is a lexicographer file, no description is in two records, and the
// held-out labels appear in unseen.jsonl only.
func TestCommittedData(t *testing.T) {
	heldout := map[string]bool{"noun.food": true, "noun.plant": true, "noun.feeling": true, "verb.emotion": true, "verb.weather": true}
	seen := map[string]string{}
	for _, name := range []string{"train", "val", "test", "unseen"} {
		path := filepath.Join("..", "data", name+".jsonl")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		labels := map[string]int{}
		for i, line := range lines {
			var r Record
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s:%d: %v", path, i+1, err)
			}
			if !slices.Contains(lexnames, r.Label) || r.Description == "" {
				t.Fatalf("%s:%d: label %q, description %q", path, i+1, r.Label, r.Description)
			}
			if where, dup := seen[r.Description]; dup {
				t.Errorf("%s:%d: description also in %s", path, i+1, where)
			}
			seen[r.Description] = fmt.Sprintf("%s:%d", path, i+1)
			if heldout[r.Label] != (name == "unseen") {
				t.Errorf("%s:%d: label %q in the wrong file", path, i+1, r.Label)
			}
			labels[r.Label]++
		}
		t.Logf("%s: %d records, %d labels", name, len(lines), len(labels))
	}
}
