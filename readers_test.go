package simlearn

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var qa = PairFields{A: "question", B: "answer"}

func TestReadPairsJSONL(t *testing.T) {
	in := "\ufeff{\"question\": \"q1\", \"answer\": \"a1\"}\n\n" +
		"{\"question\": \"q2\", \"answer\": {\"x\": 1}, \"score\": 0.25, \"sg\": 3}\r\n"
	got, err := ReadPairsJSONL(strings.NewReader(in), "x.jsonl", qa)
	if err != nil {
		t.Fatal(err)
	}
	want := []PairSample{
		{A: "q1", B: "a1", Score: 1},
		{A: "q2", B: map[string]any{"x": json.Number("1")}, Score: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	f := PairFields{A: "question", B: "answer", Score: "score", Subgroup: "sg"}
	in2 := `{"question": "q", "answer": "a", "score": 0.25, "sg": 3}` + "\n" +
		`{"question": "q", "answer": "a", "score": "1", "sg": -2}`
	got, err = ReadPairsJSONL(strings.NewReader(in2), "y.jsonl", f)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Score != 0.25 || got[0].Subgroup != 3 || got[1].Score != 1 || got[1].Subgroup != -2 {
		t.Fatalf("got %+v", got)
	}
}

// wantProblems checks that err lists exactly the given "line/field" problems,
// each wrapping kind.
func wantProblems(t *testing.T, err error, kind error, where ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want errors at %v, got none", where)
	}
	var got []string
	for _, e := range unjoin(err) {
		var re *ReadError
		if !errors.As(e, &re) {
			t.Fatalf("problem %v is not a *ReadError", e)
		}
		if !errors.Is(re, kind) {
			t.Errorf("problem %v: want kind %v", re, kind)
		}
		got = append(got, strings.TrimSuffix(re.File+":"+itoa(re.Line)+":"+re.Field, ":"))
	}
	if !reflect.DeepEqual(got, where) {
		t.Fatalf("problems at %v, want %v\n%v", got, where, err)
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestReadJSONLErrors(t *testing.T) {
	f := PairFields{A: "question", B: "answer", Score: "score", Subgroup: "sg"}
	cases := []struct {
		name, in string
		kind     error
		where    []string
	}{
		{"malformed", "{\"question\": \"q\", \"answer\": \"a\", \"score\": 1, \"sg\": 0}\n{\"question\": \n[1,2]\n{} {}\n", ErrMalformed, []string{"f:2", "f:3", "f:4"}},
		{"missing", `{"question": "q", "score": 1, "sg": 0}` + "\n" + `{"question": null, "answer": "", "score": 1, "sg": 0}`, ErrMissingField, []string{"f:1:answer", "f:2:question", "f:2:answer"}},
		{"score range", `{"question": "q", "answer": "a", "score": 1.5, "sg": 0}` + "\n" + `{"question": "q", "answer": "a", "score": -0.1, "sg": 0}` + "\n" + `{"question": "q", "answer": "a", "score": "NaN", "sg": 0}` + "\n" + `{"question": "q", "answer": "a", "score": "+Inf", "sg": 0}`, ErrScoreRange, []string{"f:1:score", "f:2:score", "f:3:score", "f:4:score"}},
		{"score type", `{"question": "q", "answer": "a", "score": true, "sg": 0}` + "\n" + `{"question": "q", "answer": "a", "score": "high", "sg": 0}`, ErrBadValue, []string{"f:1:score", "f:2:score"}},
		{"subgroup", `{"question": "q", "answer": "a", "score": 1, "sg": 1.5}`, ErrBadValue, []string{"f:1:sg"}},
		{"empty", "", ErrEmptyFile, []string{"f:0"}},
		{"blank only", "\n  \n\n", ErrEmptyFile, []string{"f:0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadPairsJSONL(strings.NewReader(c.in), "f", f)
			if got != nil {
				t.Errorf("got samples %v with an error", got)
			}
			wantProblems(t, err, c.kind, c.where...)
		})
	}
}

func TestReadErrorMessage(t *testing.T) {
	_, err := ReadPairsJSONL(strings.NewReader(`{"question": "q", "answer": "a", "score": 7}`), "train.jsonl",
		PairFields{A: "question", B: "answer", Score: "score"})
	want := `train.jsonl:1: field "score": score out of range: 7 is not in [0, 1] (set PairFields.ScoreMin/ScoreMax for another scale)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestReadErrorsCapped(t *testing.T) {
	in := strings.Repeat("{\"question\": \"q\"}\n", MaxReadErrors+7)
	_, err := ReadPairsJSONL(strings.NewReader(in), "f", qa)
	errs := unjoin(err)
	if len(errs) != MaxReadErrors+1 || !strings.Contains(errs[MaxReadErrors].Error(), "7 more problems") {
		t.Fatalf("got %d errors, last %v", len(errs), errs[len(errs)-1])
	}
}

func TestScoreScale(t *testing.T) {
	f := PairFields{A: "a", B: "b", Score: "s", ScoreMin: -1, ScoreMax: 1}
	got, err := ReadPairsJSONL(strings.NewReader(`{"a": "x", "b": "y", "s": -0.5}`), "f", f)
	if err != nil || got[0].Score != 0.25 {
		t.Fatalf("got %v, %v", got, err)
	}
	f.ScoreMax = -1
	if _, err := ReadPairsJSONL(strings.NewReader(`{"a": "x", "b": "y", "s": 0}`), "f", f); err == nil {
		t.Fatal("want an error for an empty score range")
	}
}

func TestReadGroupsJSONL(t *testing.T) {
	in := `{"description": "an apple", "label": "noun.food"}
{"description": "a dog", "label": "noun.animal"}
{"description": "bread", "label": "noun.food"}
{"description": "seven", "label": 7}`
	labels := &Labels{}
	got, err := ReadGroupsJSONL(strings.NewReader(in), "g.jsonl", GroupFields{Obj: "description", Group: "label", Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	want := []GroupSample{{"an apple", 0}, {"a dog", 1}, {"bread", 0}, {"seven", 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if n, _ := labels.Name(2); n != "7" {
		t.Fatalf("label 2 = %q", n)
	}
	// Without Labels, ids must be non-negative integers.
	_, err = ReadGroupsJSONL(strings.NewReader(in), "g.jsonl", GroupFields{Obj: "description", Group: "label"})
	wantProblems(t, err, ErrBadValue, "g.jsonl:1:label", "g.jsonl:2:label", "g.jsonl:3:label")
	_, err = ReadGroupsJSONL(strings.NewReader(`{"description": "x", "label": -1}`+"\n"+`{"description": "x", "label": 2.5}`+"\n"+`{"description": "x", "label": [1]}`), "g", GroupFields{Obj: "description", Group: "label"})
	wantProblems(t, err, ErrBadValue, "g:1:label", "g:2:label", "g:3:label")
	_, err = ReadGroupsJSONL(strings.NewReader(`{"description": "x", "label": {}}`+"\n"+`{"label": 1}`), "g", GroupFields{Obj: "description", Group: "label", Labels: labels})
	if len(unjoin(err)) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
}

func TestReadPairsCSV(t *testing.T) {
	in := "question,answer,score\n\"q, 1\",a1,0.5\nq2,\"a \"\"2\"\"\",1\n"
	got, err := ReadPairsCSV(strings.NewReader(in), "p.csv", PairFields{A: "question", B: "answer", Score: "score"}, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []PairSample{{A: "q, 1", B: "a1", Score: 0.5}, {A: "q2", B: `a "2"`, Score: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestReadCSVErrors(t *testing.T) {
	f := PairFields{A: "question", B: "answer", Score: "score"}
	cases := []struct {
		name, in string
		o        CSVOptions
		kind     error
		where    []string
	}{
		{"short record", "question,answer,score\nq,a,1\nq,a\n", CSVOptions{}, ErrMissingField, []string{"c:3:score"}},
		{"empty value", "question,answer,score\nq,,1\n", CSVOptions{}, ErrMissingField, []string{"c:2:answer"}},
		{"bad score", "question,answer,score\nq,a,x\nq,a,\nq,a,2\n", CSVOptions{}, nil, []string{"c:2:score", "c:3:score", "c:4:score"}},
		{"bare quote", "question,answer,score\nq,a\"b,1\nq,a,1\n", CSVOptions{}, ErrMalformed, []string{"c:2"}},
		{"header only", "question,answer,score\n", CSVOptions{}, ErrEmptyFile, []string{"c:0"}},
		{"empty", "", CSVOptions{NoHeader: true, Columns: []string{"question", "answer", "score"}}, ErrEmptyFile, []string{"c:0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadPairsCSV(strings.NewReader(c.in), "c", f, c.o)
			kind := c.kind
			if kind == nil {
				// Mixed kinds: only check the places.
				for _, e := range unjoin(err) {
					if !errors.Is(e, ErrBadValue) && !errors.Is(e, ErrMissingField) && !errors.Is(e, ErrScoreRange) {
						t.Errorf("unexpected kind: %v", e)
					}
				}
				var got []string
				for _, e := range unjoin(err) {
					var re *ReadError
					errors.As(e, &re)
					got = append(got, re.File+":"+itoa(re.Line)+":"+re.Field)
				}
				if !reflect.DeepEqual(got, c.where) {
					t.Fatalf("got %v want %v", got, c.where)
				}
				return
			}
			wantProblems(t, err, kind, c.where...)
		})
	}
	// A mapped column the header lacks.
	_, err := ReadPairsCSV(strings.NewReader("\nquestion,reply\nq,a\n"), "c", PairFields{A: "question", B: "answer"}, CSVOptions{})
	wantProblems(t, err, ErrMissingField, "c:2:answer")
	if !strings.Contains(err.Error(), `c:2: field "answer": header: missing field: no column "answer" (columns: question, reply)`) {
		t.Fatalf("got %v", err)
	}
	// A malformed header is an error of its own: the next line must not
	// become the header.
	_, err = ReadPairsCSV(strings.NewReader("question,ans\"wer\nq,a\nquestion,answer\nq,a\n"), "c", PairFields{A: "question", B: "answer"}, CSVOptions{})
	wantProblems(t, err, ErrMalformed, "c:1")
	// Lazy quotes accept the bare quote.
	got, err := ReadPairsCSV(strings.NewReader("question,answer\nq,a\"b\n"), "c", PairFields{A: "question", B: "answer"}, CSVOptions{Quoting: QuoteLazy})
	if err != nil || got[0].B != `a"b` {
		t.Fatalf("lazy: %v %v", got, err)
	}
}

func TestReadCSVNoHeaderPositions(t *testing.T) {
	in := "x\t\"quoted start\tplain\t0.2\textra\n"
	got, err := ReadPairsCSV(strings.NewReader(in), "t.tsv", PairFields{A: "2", B: "3", Score: "4"},
		CSVOptions{Comma: '\t', NoHeader: true, Quoting: QuoteNone})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].A != `"quoted start` || got[0].B != "plain" || got[0].Score != 0.2 {
		t.Fatalf("got %+v", got[0])
	}
	_, err = ReadPairsCSV(strings.NewReader(in), "t.tsv", PairFields{A: "a", B: "3"}, CSVOptions{Comma: '\t', NoHeader: true})
	if err == nil {
		t.Fatal("want an error for a non-numeric column name without header")
	}
}

func TestReadSTSBenchmark(t *testing.T) {
	f, o := STSBenchmark()
	path := filepath.Join("..", "shared", "datasets", "stsbenchmark", "sts-dev.csv")
	got, err := ReadPairsFile(path, f, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1500 {
		t.Fatalf("read %d pairs, want 1500", len(got))
	}
	if got[0].A != "A man with a hard hat is dancing." || got[0].Score != 1 {
		t.Fatalf("first pair %+v", got[0])
	}
	for i, s := range got {
		if s.Score < 0 || s.Score > 1 {
			t.Fatalf("pair %d score %v", i, s.Score)
		}
	}
}

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	g := GroupFields{Obj: "description", Group: "label", Labels: &Labels{}}
	for _, p := range []string{
		write("a.jsonl", `{"description": "d", "label": "l"}`),
		write("a.csv", "description,label\nd,l\n"),
		write("a.tsv", "description\tlabel\nd\tl\n"),
	} {
		got, err := ReadGroupsFile(p, g, CSVOptions{})
		if err != nil || len(got) != 1 || got[0] != (GroupSample{"d", 0}) {
			t.Fatalf("%s: %v %v", p, got, err)
		}
	}
	if _, err := ReadGroupsFile(write("a.txt", "x"), g, CSVOptions{}); err == nil {
		t.Fatal("want an error for .txt")
	}
	_, err := ReadGroupsFile(filepath.Join(dir, "missing.jsonl"), g, CSVOptions{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
	_, err = ReadPairsFile(write("e.jsonl", ""), qa, CSVOptions{})
	var re *ReadError
	if !errors.As(err, &re) || re.File != filepath.Join(dir, "e.jsonl") || !errors.Is(err, ErrEmptyFile) {
		t.Fatalf("got %v", err)
	}
}
