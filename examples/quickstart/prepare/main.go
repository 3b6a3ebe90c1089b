// Command prepare turns WordNet (Debian's wordnet-base package) into the
// quick start's data: one JSON record per synset, its gloss as the
// description and its lexicographer file (noun.food, verb.motion, ...) as the
// label.
//
//	apt-get install -y wordnet-base
//	go run ./examples/quickstart/prepare -wordnet /usr/share/wordnet -out examples/quickstart/data
//
// It reads nouns and verbs, drops labels with fewer than -min synsets, keeps
// at most -per-label synsets per label (chosen by a hash of the synset, so the
// output is deterministic), skips repeated glosses, and writes four files:
//
//	train.jsonl   70% of each seen label's synsets, for training
//	val.jsonl     10%, for validation metrics and early stopping
//	test.jsonl    20%, held-out items of the seen labels
//	unseen.jsonl  every kept synset of the -heldout labels, never trained on
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// lexnames maps a lex_filenum to its lexicographer file, as in WordNet's
// lexnames file (which wordnet-base does not ship).
var lexnames = []string{
	"adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal",
	"noun.artifact", "noun.attribute", "noun.body", "noun.cognition",
	"noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
	"noun.location", "noun.motive", "noun.object", "noun.person",
	"noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
	"noun.quantity", "noun.relation", "noun.shape", "noun.state",
	"noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition",
	"verb.communication", "verb.competition", "verb.consumption", "verb.contact",
	"verb.creation", "verb.emotion", "verb.motion", "verb.perception",
	"verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
}

// Record is one line of the output files.
type Record struct {
	Description string `json:"description"`
	Label       string `json:"label"`
}

type synset struct {
	id   string // pos and offset, e.g. "n00001740"
	hash uint64
	Record
}

func main() {
	dir := flag.String("wordnet", "/usr/share/wordnet", "directory holding data.noun and data.verb")
	out := flag.String("out", "examples/quickstart/data", "output directory")
	perLabel := flag.Int("per-label", 250, "at most this many synsets per label")
	minLabel := flag.Int("min", 80, "drop labels with fewer synsets than this")
	heldout := flag.String("heldout", "noun.food,noun.plant,noun.feeling,verb.emotion,verb.weather",
		"comma-separated labels kept out of training, written to unseen.jsonl")
	flag.Parse()
	if err := run(*dir, *out, *perLabel, *minLabel, strings.Split(*heldout, ",")); err != nil {
		log.Fatal(err)
	}
}

func run(dir, out string, perLabel, minLabel int, heldout []string) error {
	byLabel := map[string][]synset{}
	seen := map[string]bool{}
	for _, pos := range []string{"noun", "verb"} {
		if err := readData(filepath.Join(dir, "data."+pos), byLabel, seen); err != nil {
			return err
		}
	}
	files := map[string][]synset{}
	for label, ss := range byLabel {
		if len(ss) < minLabel {
			continue
		}
		slices.SortFunc(ss, func(a, b synset) int {
			if a.hash != b.hash {
				return cmpU64(a.hash, b.hash)
			}
			return strings.Compare(a.id, b.id)
		})
		ss = ss[:min(len(ss), perLabel)]
		if slices.Contains(heldout, label) {
			files["unseen"] = append(files["unseen"], ss...)
			continue
		}
		for i, s := range ss {
			switch i % 10 {
			case 0, 1:
				files["test"] = append(files["test"], s)
			case 2:
				files["val"] = append(files["val"], s)
			default:
				files["train"] = append(files["train"], s)
			}
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"train", "val", "test", "unseen"} {
		ss := files[name]
		slices.SortFunc(ss, func(a, b synset) int { return strings.Compare(a.id, b.id) })
		if err := writeJSONL(filepath.Join(out, name+".jsonl"), ss); err != nil {
			return err
		}
		fmt.Printf("%s.jsonl: %d records\n", name, len(ss))
	}
	return nil
}

// readData parses a WordNet data file: lines starting with two spaces are the
// licence; every other line is
// "offset lex_filenum ss_type w_cnt word lex_id ... | gloss".
// A gloss already seen is skipped, so that no description is in two files.
func readData(path string, byLabel map[string][]synset, seen map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w (install Debian's wordnet-base package)", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "  ") {
			continue
		}
		head, gloss, ok := strings.Cut(line, " | ")
		fields := strings.Fields(head)
		if !ok || len(fields) < 3 {
			return fmt.Errorf("%s:%d: not a synset line", path, n)
		}
		lex, err := strconv.Atoi(fields[1])
		if err != nil || lex < 0 || lex >= len(lexnames) {
			return fmt.Errorf("%s:%d: bad lex_filenum %q", path, n, fields[1])
		}
		gloss = strings.TrimSpace(gloss)
		if seen[gloss] {
			continue
		}
		seen[gloss] = true
		id := fields[2] + fields[0]
		h := fnv.New64a()
		h.Write([]byte(id))
		label := lexnames[lex]
		byLabel[label] = append(byLabel[label], synset{id: id, hash: h.Sum64(),
			Record: Record{Description: gloss, Label: label}})
	}
	return sc.Err()
}

func writeJSONL(path string, ss []synset) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, s := range ss {
		if err := enc.Encode(s.Record); err != nil {
			return err
		}
	}
	return w.Flush()
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
