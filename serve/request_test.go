package serve

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

var testLimits = Limits{MaxInputs: 8, MaxTextRunes: 16}

func TestDecodeRequest(t *testing.T) {
	ok := []struct {
		body   string
		input  []string
		format EncodingFormat
		dims   int
	}{
		{`{"input":"hello"}`, []string{"hello"}, FormatFloat, 0},
		{`{"input":["a","b"],"model":"m","encoding_format":"base64"}`, []string{"a", "b"}, FormatBase64, 0},
		{`{"input":["é"],"encoding_format":"float","dimensions":384,"user":"u","extra":1}`, []string{"é"}, FormatFloat, 384},
		{` {"input" : "sixteen runes ok"} `, []string{"sixteen runes ok"}, FormatFloat, 0},
	}
	for _, c := range ok {
		req, err := DecodeRequest([]byte(c.body), testLimits)
		if err != nil {
			t.Errorf("%s: %v", c.body, err)
			continue
		}
		if strings.Join(req.Input, "|") != strings.Join(c.input, "|") || req.Format != c.format || req.Dimensions != c.dims {
			t.Errorf("%s: got %+v", c.body, req)
		}
	}
	bad := []struct{ body, param, msg string }{
		{``, "input", "empty"},
		{`{}`, "input", "required"},
		{`{"input":null}`, "input", "required"},
		{`{"input":""}`, "input", "empty string"},
		{`{"input":[]}`, "input", "empty array"},
		{`{"input":[""]}`, "input[0]", "empty string"},
		{`{"input":42}`, "input", "got a number"},
		{`{"input":{"a":1}}`, "input", "got an object"},
		{`{"input":["a",1]}`, "input[1]", "got a number"},
		{`{"input":[[1,2,3]]}`, "input[0]", "got an array"},
		{`{"input":[["a"]]}`, "input[0]", "got an array"},
		{`{"input":["a",true]}`, "input[1]", "got a boolean"},
		{`{"input":["a","b","c","d","e","f","g","h","i"]}`, "input", "at most 8"},
		{`{"input":"seventeen runes!!"}`, "input", "at most 16"},
		{`{"input":"a","encoding_format":"int8"}`, "encoding_format", "unsupported"},
		{`{"input":"a","encoding_format":1}`, "encoding_format", "must be a string"},
		{`{"input":"a","dimensions":-3}`, "dimensions", "positive"},
		{`{"input":"a","dimensions":"x"}`, "dimensions", "positive"},
		{`{"input":"a","model":7}`, "model", "must be a string"},
		{`{"input":"a"`, "", "not a valid JSON object"},
		{`["a"]`, "", "not a valid JSON object"},
		{"{\"input\":\"\xff\xfe\"}", "", "UTF-8"},
	}
	for _, c := range bad {
		_, err := DecodeRequest([]byte(c.body), testLimits)
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Errorf("%q: error %v is not an *APIError", c.body, err)
			continue
		}
		if ae.Status != http.StatusBadRequest || ae.Param != c.param || !strings.Contains(ae.Message, c.msg) {
			t.Errorf("%q: got %d param %q message %q; want param %q containing %q", c.body, ae.Status, ae.Param, ae.Message, c.param, c.msg)
		}
	}
}

// FuzzDecodeRequest checks that the decoder never panics, fails only with a
// 400 *APIError that marshals to the OpenAI shape, and that what it accepts
// satisfies the limits. `go test` runs the seed corpus below and the files
// in testdata/fuzz/FuzzDecodeRequest; `go test -fuzz FuzzDecodeRequest`
// explores further.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"input":"hello"}`,
		`{"input":["a","b"],"encoding_format":"base64","model":"m"}`,
		`{"input":[1,2,3]}`,
		`{"input":[[1],[2]]}`,
		`{"input":[["nested"]]}`,
		`{"input":""}`,
		`{"input":[]}`,
		`{"input":"a","dimensions":1e400}`,
		`{"input":"\ud800"}`,
		"{\"input\":\"\xc3\x28\"}",
		`{"input":"a"}{"input":"b"}`,
		`{"input":"a","input":["b","c"]}`,
		`null`,
		`[]`,
		`{"input":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
		`{"input":["x","y","z","w","v","u","t","s","r"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeRequest(body, testLimits)
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Message == "" {
				t.Fatalf("error %v is not a 400 *APIError", err)
			}
			js, jerr := json.Marshal(ae)
			if jerr != nil || !json.Valid(js) {
				t.Fatalf("error does not marshal: %v", jerr)
			}
			return
		}
		if len(req.Input) == 0 || len(req.Input) > testLimits.MaxInputs {
			t.Fatalf("accepted %d inputs", len(req.Input))
		}
		for i, s := range req.Input {
			if s == "" || utf8.RuneCountInString(s) > testLimits.MaxTextRunes || !utf8.ValidString(s) {
				t.Fatalf("accepted input[%d] = %q", i, s)
			}
		}
		if req.Format != FormatFloat && req.Format != FormatBase64 {
			t.Fatalf("accepted format %q", req.Format)
		}
	})
}
