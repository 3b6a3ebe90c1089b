package cache

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestCanonicalJSON(t *testing.T) {
	type inner struct {
		Z int    `json:"z"`
		A string `json:"a"`
	}
	type obj struct {
		Title string `json:"title"`
		Inner inner  `json:"inner"`
		Skip  string `json:"-"`
	}
	cases := []struct {
		in   any
		want string
	}{
		{"a <b> & c", `"a <b> & c"`},
		{map[string]any{"b": 1, "a": []any{true, nil, 2.5}}, `{"a":[true,null,2.5],"b":1}`},
		{obj{Title: "x", Inner: inner{Z: 1, A: "y"}, Skip: "ignored"}, `{"inner":{"a":"y","z":1},"title":"x"}`},
		{map[string]any{"inner": map[string]any{"z": 1.0, "a": "y"}, "title": "x"}, `{"inner":{"a":"y","z":1},"title":"x"}`},
		{int64(1) << 60, `1152921504606846976`},
		{"é\u2028", "\"é\\u2028\""},
	}
	for _, c := range cases {
		got, err := CanonicalJSON(c.in)
		if err != nil {
			t.Fatalf("%#v: %v", c.in, err)
		}
		if string(got) != c.want {
			t.Errorf("%#v: got %s, want %s", c.in, got, c.want)
		}
	}
	// A struct and the equivalent map share a key; other values do not.
	k1, _ := ContentKey(cases[2].in)
	k2, _ := ContentKey(cases[3].in)
	k3, _ := ContentKey("x")
	if !bytes.Equal(k1, k2) || bytes.Equal(k1, k3) || len(k1) != 32 {
		t.Fatalf("content keys: %x %x %x", k1, k2, k3)
	}
	// A plain string (fast path) equals the general path's bytes.
	k4, _ := ContentKey(any(struct{ S string }{"x"}))
	k5, _ := ContentKey(map[string]string{"S": "x"})
	if !bytes.Equal(k4, k5) {
		t.Fatal("struct and map[string]string differ")
	}
}

func TestCanonicalJSONRejects(t *testing.T) {
	type withBad struct{ Name string }
	bad := []struct {
		in   any
		want string
	}{
		{make(chan int), "unsupported type"},
		{math.NaN(), "unsupported value"},
		{func() {}, "unsupported type"},
		{"\xff\xfe", "UTF-8"},
		{map[string]any{"\xff": 1}, "map key"},
		{withBad{Name: "ok\xc3"}, "field Name"},
		{[]any{"fine", "bad\x80"}, "UTF-8"},
	}
	for _, c := range bad {
		_, err := CanonicalJSON(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%#v: error %v, want one containing %q", c.in, err, c.want)
		}
	}
}
