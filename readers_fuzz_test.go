package simlearn

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// FuzzReaders feeds arbitrary bytes to every reader. None may panic; every
// problem (but the count of those past MaxReadErrors) must be a *ReadError
// naming the input and a line within it; scores
// must come out finite in [0, 1]; and a JSONL reader that succeeds must
// return one sample per non-blank line, so that no line is dropped silently.
func FuzzReaders(f *testing.F) {
	for _, seed := range []string{
		`{"q": "a", "b": "c", "s": 0.5, "g": 2}` + "\n" + `{"q": "x", "b": {"k": 1}, "s": 1, "g": 0}`,
		"\ufeff" + `{"q": "a", "b": "c", "s": "0.25", "g": "noun.food"}` + "\r\n\r\n",
		"q,b,s,g\na,c,0.5,1\n\"x, y\",\"z\"\"\",1,2\n",
		"q\tb\ts\tg\na\tc\t0.5\t1\n",
		`{"q": "a", "b": "c", "s": NaN}`,
		"q,b,s,g\na,c,7,1\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	pairs := PairFields{A: "q", B: "b", Score: "s", Subgroup: "g"}
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(what string, scores []float64, err error) {
			t.Helper()
			if err != nil {
				problems := unjoin(err)
				if last := problems[len(problems)-1]; strings.HasSuffix(last.Error(), " more problems not shown") {
					problems = problems[:len(problems)-1] // the summary past MaxReadErrors
				}
				for _, e := range problems {
					var re *ReadError
					if !errors.As(e, &re) || re.File != "in" || re.Line < 0 || re.Line > bytes.Count(data, []byte("\n"))+1 {
						t.Fatalf("%s: problem %v is not a *ReadError naming the input and one of its lines", what, e)
					}
				}
				return
			}
			for i, s := range scores {
				if !(s >= 0 && s <= 1) || math.IsNaN(s) {
					t.Fatalf("%s: sample %d has score %v", what, i, s)
				}
			}
		}
		nonBlank := 0
		for _, l := range strings.Split(strings.TrimPrefix(string(data), "\ufeff"), "\n") {
			if strings.TrimSpace(l) != "" {
				nonBlank++
			}
		}

		ps, err := ReadPairsJSONL(bytes.NewReader(data), "in", pairs)
		check("pairs JSONL", pairScores(ps), err)
		if err == nil && len(ps) != nonBlank {
			t.Fatalf("pairs JSONL: %d samples from %d non-blank lines", len(ps), nonBlank)
		}
		gs, err := ReadGroupsJSONL(bytes.NewReader(data), "in", GroupFields{Obj: "q", Group: "g", Labels: &Labels{}})
		check("groups JSONL", nil, err)
		if err == nil && len(gs) != nonBlank {
			t.Fatalf("groups JSONL: %d samples from %d non-blank lines", len(gs), nonBlank)
		}
		for _, q := range []Quoting{QuoteStandard, QuoteLazy, QuoteNone} {
			for _, comma := range []rune{',', '\t'} {
				o := CSVOptions{Comma: comma, Quoting: q}
				ps, err := ReadPairsCSV(bytes.NewReader(data), "in", pairs, o)
				check("pairs CSV", pairScores(ps), err)
				_, err = ReadGroupsCSV(bytes.NewReader(data), "in", GroupFields{Obj: "q", Group: "g"}, o)
				check("groups CSV", nil, err)
			}
		}
	})
}

func pairScores(ps []PairSample) []float64 {
	s := make([]float64, len(ps))
	for i, p := range ps {
		s[i] = p.Score
	}
	return s
}
