package simlearn

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestLabels(t *testing.T) {
	var l Labels
	if l.ID("b") != 0 || l.ID("a") != 1 || l.ID("b") != 0 || l.Len() != 2 {
		t.Fatal("ids not dense in first-seen order")
	}
	if _, ok := l.Lookup("c"); ok || l.Len() != 2 {
		t.Fatal("Lookup added a label")
	}
	if n, ok := l.Name(1); !ok || n != "a" {
		t.Fatalf("Name(1) = %q, %v", n, ok)
	}
	if _, ok := l.Name(2); ok {
		t.Fatal("Name(2) found")
	}
	b, err := json.Marshal(&l)
	if err != nil || string(b) != `["b","a"]` {
		t.Fatalf("%s %v", b, err)
	}
	var back Labels
	if err := json.Unmarshal(b, &back); err != nil || back.ID("a") != 1 {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`["x","x"]`), &back); err == nil {
		t.Fatal("want an error for repeated names")
	}
}

// Labels never collide, unlike hashing: many distinct labels get distinct ids.
func TestLabelsNoCollisions(t *testing.T) {
	var l Labels
	seen := map[int]bool{}
	for i := range 100000 {
		id := l.ID(fmt.Sprintf("label-%d", i))
		if seen[id] {
			t.Fatalf("id %d reused", id)
		}
		seen[id] = true
	}
}

func ExampleLabels() {
	var labels Labels
	for _, s := range []string{"noun.food", "noun.animal", "noun.food"} {
		fmt.Println(s, labels.ID(s))
	}
	// Output:
	// noun.food 0
	// noun.animal 1
	// noun.food 0
}
