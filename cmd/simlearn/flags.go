package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"unicode/utf8"

	"github.com/simlearn/simlearn"
	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/onnx"
)

// flagSet is a subcommand's flags with its help text.
type flagSet struct {
	*flag.FlagSet
	synopsis string // usage lines and description, shown before the flags
	examples string // shown after the flags
	logLevel slog.Level
}

// newFlagSet returns the flags of "simlearn <name>". Every command has
// --log-level.
func newFlagSet(name, synopsis, examples string) *flagSet {
	f := &flagSet{FlagSet: flag.NewFlagSet("simlearn "+name, flag.ContinueOnError), synopsis: synopsis, examples: examples}
	f.SetOutput(io.Discard) // parse errors are reported by exitCode, help by parse
	f.TextVar(&f.logLevel, "log-level", slog.LevelInfo, "log `level` on standard error: debug, info, warn or error")
	return f
}

// parse parses args, flags and positional arguments in any order ("--" ends
// the flags), and returns the positional arguments. --help prints the help
// on standard output and returns flag.ErrHelp. It then installs the
// logger (a text handler on standard error at --log-level).
func (f *flagSet) parse(e *env, args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.printHelp(e.stdout)
				return nil, err
			}
			return nil, usageError{err}
		}
		rest := f.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: f.logLevel})))
	return pos, nil
}

// printHelp writes the synopsis, the flags and the examples.
func (f *flagSet) printHelp(w io.Writer) {
	fmt.Fprintln(w, strings.TrimSpace(f.synopsis))
	fmt.Fprintln(w, "\nFlags:")
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
	if f.examples != "" {
		fmt.Fprintln(w, "\nExamples:")
		fmt.Fprintln(w, strings.Trim(f.examples, "\n"))
	}
}

// isSet reports whether the named flag was given on the command line.
func (f *flagSet) isSet(name string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) {
		if fl.Name == name {
			set = true
		}
	})
	return set
}

// wantArgs checks the number of positional arguments, naming them in the
// error.
func wantArgs(pos []string, names ...string) error {
	switch {
	case len(pos) < len(names):
		return usagef("missing %s", strings.Join(names[len(pos):], " and "))
	case len(pos) > len(names):
		return usagef("unexpected argument %q", pos[len(names)])
	}
	return nil
}

// listValue is a comma-separated list flag; each use replaces the list.
type listValue struct{ p *[]string }

func (l listValue) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l listValue) Set(s string) error {
	*l.p = nil
	if s != "" {
		*l.p = strings.Split(s, ",")
	}
	return nil
}

// headValue sets a head.Config from a kind name ("skip_connection") or a
// JSON object ({"kind": "linear", "out": 128}).
type headValue struct{ p *head.Config }

func (h headValue) String() string {
	if h.p == nil {
		return ""
	}
	b, err := json.Marshal(h.p)
	if err != nil {
		return h.p.Kind
	}
	return string(b)
}

func (h headValue) Set(s string) error {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		c, err := head.ParseConfig([]byte(s))
		if err != nil {
			return err
		}
		*h.p = c
		return nil
	}
	*h.p = head.Config{Kind: s}
	return nil
}

// rawJSONValue sets a JSON object, checked for syntax.
type rawJSONValue struct{ p *json.RawMessage }

func (r rawJSONValue) String() string {
	if r.p == nil {
		return ""
	}
	return string(*r.p)
}

func (r rawJSONValue) Set(s string) error {
	if s == "" {
		*r.p = nil
		return nil
	}
	if !json.Valid([]byte(s)) || !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return fmt.Errorf("want a JSON object, got %q", s)
	}
	*r.p = json.RawMessage(s)
	return nil
}

// dataConfig says how sample files map to samples.
type dataConfig struct {
	// Kind is "groups" (objects with a label) or "pairs" (two objects with
	// an optional score).
	Kind string `json:"kind"`
	// Preset "stsb" reads the STS Benchmark files, replacing the fields
	// and CSV options.
	Preset string `json:"preset,omitempty"`
	// Obj and Group are the fields of group samples.
	Obj   string `json:"obj"`
	Group string `json:"group"`
	// A, B, Score and Subgroup are the fields of pair samples; Score and
	// Subgroup are optional. Scores in [ScoreMin, ScoreMax] are rescaled
	// to [0, 1].
	A        string  `json:"a"`
	B        string  `json:"b"`
	Score    string  `json:"score"`
	Subgroup string  `json:"subgroup"`
	ScoreMin float64 `json:"score_min"`
	ScoreMax float64 `json:"score_max"`
	// Comma, NoHeader, Columns and Quoting describe CSV files.
	Comma    string   `json:"comma"`
	NoHeader bool     `json:"no_header"`
	Columns  []string `json:"columns"`
	Quoting  string   `json:"quoting"`
}

// defaultData is the data configuration before flags and files.
func defaultData() dataConfig {
	return dataConfig{Kind: "groups", Obj: "text", Group: "label", A: "a", B: "b", Quoting: "standard"}
}

// register adds the data flags.
func (d *dataConfig) register(fs *flagSet) {
	fs.StringVar(&d.Kind, "data", d.Kind, "kind of samples: groups (an object and its label) or pairs (two objects and a score)")
	fs.StringVar(&d.Preset, "preset", d.Preset, "`name` of a known file layout, replacing --data and the field and CSV flags: stsb (STS Benchmark pairs)")
	fs.StringVar(&d.Obj, "obj", d.Obj, "groups: `field` holding the object (a string, or a JSON value for encoders with --encoder-field)")
	fs.StringVar(&d.Group, "group", d.Group, "groups: `field` holding the label (any string or number)")
	fs.StringVar(&d.A, "a", d.A, "pairs: `field` holding the first object")
	fs.StringVar(&d.B, "b", d.B, "pairs: `field` holding the second object")
	fs.StringVar(&d.Score, "score", d.Score, "pairs: `field` holding the similarity score (empty: every pair is a positive, score 1)")
	fs.StringVar(&d.Subgroup, "subgroup", d.Subgroup, "pairs: `field` holding an integer subgroup (empty: none)")
	fs.Float64Var(&d.ScoreMin, "score-min", d.ScoreMin, "pairs: lowest possible score, rescaled to 0")
	fs.Float64Var(&d.ScoreMax, "score-max", d.ScoreMax, "pairs: highest possible score, rescaled to 1 (0 means 1)")
	fs.StringVar(&d.Comma, "comma", d.Comma, "CSV: field separator (default ',' for .csv, tab for .tsv/.tab; \\t for tab)")
	fs.BoolVar(&d.NoHeader, "no-header", d.NoHeader, "CSV: the first line is data; columns are named by --columns or 1, 2, ...")
	fs.Var(listValue{&d.Columns}, "columns", "CSV: comma-separated column `names`, replacing the header's")
	fs.StringVar(&d.Quoting, "quoting", d.Quoting, "CSV: quote handling: standard (RFC 4180), lazy or none")
}

// csvOptions turns the CSV settings into reader options.
func (d dataConfig) csvOptions() (simlearn.CSVOptions, error) {
	o := simlearn.CSVOptions{NoHeader: d.NoHeader, Columns: d.Columns}
	switch d.Comma {
	case "":
	case `\t`, "tab":
		o.Comma = '\t'
	default:
		r, n := utf8.DecodeRuneInString(d.Comma)
		if n != len(d.Comma) || r == utf8.RuneError {
			return o, usagef("--comma %q: want one character", d.Comma)
		}
		o.Comma = r
	}
	switch d.Quoting {
	case "standard", "":
		o.Quoting = simlearn.QuoteStandard
	case "lazy":
		o.Quoting = simlearn.QuoteLazy
	case "none":
		o.Quoting = simlearn.QuoteNone
	default:
		return o, usagef("--quoting %q: want standard, lazy or none", d.Quoting)
	}
	return o, nil
}

// check validates the kind and the preset; a preset sets the kind.
func (d *dataConfig) check() error {
	switch d.Preset {
	case "":
	case "stsb":
		d.Kind = "pairs"
	default:
		return usagef("--preset %q: the only preset is stsb", d.Preset)
	}
	if d.Kind != "groups" && d.Kind != "pairs" {
		return usagef("--data %q: want groups or pairs", d.Kind)
	}
	return nil
}

// readGroups reads group sample files, interning labels in labels so that
// a label has the same id in every file.
func (d dataConfig) readGroups(labels *simlearn.Labels, paths ...string) ([][]simlearn.GroupSample, error) {
	o, err := d.csvOptions()
	if err != nil {
		return nil, err
	}
	f := simlearn.GroupFields{Obj: d.Obj, Group: d.Group, Labels: labels}
	out := make([][]simlearn.GroupSample, len(paths))
	for i, p := range paths {
		if out[i], err = simlearn.ReadGroupsFile(p, f, o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readPairs reads pair sample files.
func (d dataConfig) readPairs(paths ...string) ([][]simlearn.PairSample, error) {
	f := simlearn.PairFields{A: d.A, B: d.B, Score: d.Score, Subgroup: d.Subgroup, ScoreMin: d.ScoreMin, ScoreMax: d.ScoreMax}
	o, err := d.csvOptions()
	if err != nil {
		return nil, err
	}
	if d.Preset == "stsb" {
		f, o = simlearn.STSBenchmark()
	}
	out := make([][]simlearn.PairSample, len(paths))
	for i, p := range paths {
		if out[i], err = simlearn.ReadPairsFile(p, f, o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// encoderConfig configures the frozen ONNX text encoder.
type encoderConfig struct {
	// Model is the directory holding model.onnx and tokenizer.json.
	Model string `json:"model"`
	// Name is the encoder's name (default: Field, or "text").
	Name      string `json:"name,omitempty"`
	Pooling   string `json:"pooling"`
	MaxLength int    `json:"max_length"`
	Normalize bool   `json:"normalize"`
	// Field makes the encoder read the text from this field of JSON
	// objects.
	Field string `json:"field,omitempty"`
	// Threads, BatchSize and IdleThreads change speed only.
	Threads   int `json:"threads"`
	BatchSize int `json:"batch_size"`
	// IdleThreads (serve only) gives model calls that start alone a second
	// session with this many threads; 0: none.
	IdleThreads int `json:"-"`
}

// defaultEncoder is all-MiniLM-L6-v2 from the setup directory, as
// sentence-transformers runs it.
func defaultEncoder() encoderConfig {
	c := onnx.DefaultTextConfig()
	return encoderConfig{
		Model: onnx.DefaultModelDir(), Pooling: string(c.Pooling), MaxLength: c.MaxLength, Normalize: c.Normalize,
		Threads: runtime.NumCPU(), BatchSize: onnx.DefaultBatchSize,
	}
}

// encoderOutputFlags are the flags that change what a raw encoder computes;
// a servable records its own.
var encoderOutputFlags = []string{"encoder-name", "pooling", "max-length", "normalize", "encoder-field"}

// register adds the encoder flags; withModel adds --model (fit), the other
// commands take the model as an argument.
func (c *encoderConfig) register(fs *flagSet, withModel bool) {
	if withModel {
		fs.StringVar(&c.Model, "model", c.Model, "encoder `directory` with model.onnx and tokenizer.json (the default is where scripts/setup puts all-MiniLM-L6-v2)")
	}
	fs.StringVar(&c.Name, "encoder-name", c.Name, "encoder `name` (default: --encoder-field, or text)")
	fs.StringVar(&c.Pooling, "pooling", c.Pooling, "token pooling: mean, cls or max")
	fs.IntVar(&c.MaxLength, "max-length", c.MaxLength, "truncate texts at this many `tokens`")
	fs.BoolVar(&c.Normalize, "normalize", c.Normalize, "L2-normalise the encoder output")
	fs.StringVar(&c.Field, "encoder-field", c.Field, "encode this `field` of JSON-object samples (empty: samples are strings)")
	fs.IntVar(&c.Threads, "threads", c.Threads, "ONNX Runtime intra-op `threads`")
	fs.IntVar(&c.BatchSize, "encode-batch", c.BatchSize, "`texts` per ONNX Runtime call")
}

// options returns the onnx.TextEncoder options of c.
func (c encoderConfig) options() []onnx.TextOption {
	opts := []onnx.TextOption{
		onnx.WithModelDir(c.Model),
		onnx.WithPooling(onnx.Pooling(c.Pooling)),
		onnx.WithMaxLength(c.MaxLength),
		onnx.WithNormalize(c.Normalize),
		onnx.WithThreads(c.Threads),
		onnx.WithBatchSize(c.BatchSize),
	}
	if c.Field != "" {
		opts = append(opts, onnx.WithField(c.Field))
	}
	if c.Name != "" {
		opts = append(opts, onnx.WithName(c.Name))
	}
	if c.IdleThreads > 0 {
		opts = append(opts, onnx.WithIdleThreads(c.IdleThreads))
	}
	return opts
}
