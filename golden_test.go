package simlearn_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// goldenCase is one case of a golden file (see ../shared/GOLDEN.md).
type goldenCase struct {
	Kind     string                     `json:"kind"`
	Name     string                     `json:"name"`
	Params   map[string]json.RawMessage `json:"params"`
	Config   map[string]json.RawMessage `json:"config"`
	Input    map[string]json.RawMessage `json:"input"`
	Expected map[string]json.RawMessage `json:"expected"`

	tol tolerance
}

type tolerance struct{ rtol, atol float64 }

type goldenFile struct {
	RTol  float64      `json:"rtol"`
	ATol  float64      `json:"atol"`
	Cases []goldenCase `json:"cases"`
}

// goldenChecks maps a case kind to the function that checks it. Each kind's
// checker lives in the golden_<area>_test.go file of the package it exercises.
var goldenChecks = map[string]func(t *testing.T, c goldenCase){
	"head":          checkHead,
	"distance":      checkDistance,
	"group_loss":    checkGroupLoss,
	"pair_loss":     checkPairLoss,
	"group_metrics": checkGroupMetrics,
	"correlation":   checkCorrelation,
}

// TestGolden runs every case in testdata/golden and, when set, in
// $SIMLEARN_GOLDEN_DIR. A kind or name that is not implemented fails.
func TestGolden(t *testing.T) {
	dirs := []string{"testdata/golden"}
	if d := os.Getenv("SIMLEARN_GOLDEN_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	var files []string
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && filepath.Ext(p) == ".json" {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("golden dir %s: %v", d, err)
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no golden files found")
	}
	total := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var gf goldenFile
		if err := json.Unmarshal(raw, &gf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i, c := range gf.Cases {
			c.tol = tolerance{gf.RTol, gf.ATol}
			check, ok := goldenChecks[c.Kind]
			name := fmt.Sprintf("%s/%d_%s_%s", filepath.ToSlash(f), i, c.Kind, c.Name)
			t.Run(name, func(t *testing.T) {
				if !ok {
					t.Fatalf("golden kind %q is not implemented", c.Kind)
				}
				check(t, c)
			})
			total++
		}
	}
	t.Logf("%d golden cases in %d files", total, len(files))
}

// decode unmarshals a raw JSON field of a case, failing the test when absent.
func decode[T any](t *testing.T, m map[string]json.RawMessage, key string) T {
	t.Helper()
	var v T
	raw, ok := m[key]
	if !ok {
		t.Fatalf("golden case has no field %q", key)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("golden field %q: %v", key, err)
	}
	return v
}

// closeScalar reports whether got is within the case tolerance of want.
func (tol tolerance) closeScalar(got, want float64) bool {
	return math.Abs(got-want) <= tol.atol+tol.rtol*math.Abs(want)
}

// assertScalar fails the test when got is not within tolerance of want.
func assertScalar(t *testing.T, tol tolerance, what string, got, want float64) {
	t.Helper()
	if !tol.closeScalar(got, want) || math.IsNaN(got) {
		t.Errorf("%s = %.10g, want %.10g", what, got, want)
	}
}

// assertMatrix fails the test when got (row-major rows x cols via at) differs
// from want anywhere beyond tolerance, or when the shapes differ.
func assertMatrix(t *testing.T, tol tolerance, what string, rows, cols int, at func(i, j int) float64, want [][]float64) {
	t.Helper()
	if len(want) != rows || (rows > 0 && len(want[0]) != cols) {
		t.Errorf("%s: shape %dx%d, want %dx%d", what, rows, cols, len(want), len(want[0]))
		return
	}
	bad := 0
	for i := range want {
		for j, w := range want[i] {
			g := at(i, j)
			if !tol.closeScalar(g, w) || math.IsNaN(g) {
				if bad < 5 {
					t.Errorf("%s[%d][%d] = %.10g, want %.10g", what, i, j, g, w)
				}
				bad++
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d elements differ in all", what, bad)
	}
}
