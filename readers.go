package simlearn

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kinds of problems a reader reports; test for them with errors.Is.
var (
	// ErrEmptyFile: the input holds no records (nothing, blank lines, or a
	// header only).
	ErrEmptyFile = errors.New("no records")
	// ErrMalformed: a line is not valid JSON (or not an object), or a CSV
	// line cannot be parsed.
	ErrMalformed = errors.New("malformed record")
	// ErrMissingField: a mapped field is absent, null or empty.
	ErrMissingField = errors.New("missing field")
	// ErrBadValue: a field has the wrong type or cannot be parsed.
	ErrBadValue = errors.New("bad value")
	// ErrScoreRange: a score is not a finite number in its range.
	ErrScoreRange = errors.New("score out of range")
)

// MaxReadErrors is how many problems a read reports in detail; it still reads
// the whole input and says how many more there were.
const MaxReadErrors = 50

// ReadError is one problem in a sample file: where it is and what is wrong.
type ReadError struct {
	File  string // the name given to the reader, usually the path
	Line  int    // 1-based line number; 0 when it concerns the whole input
	Field string // the field (or column) name; "" when it concerns the record
	Err   error  // wraps one of ErrEmptyFile, ErrMalformed, ...
}

// Error reads like "train.jsonl:12: field "score": score out of range: 7 is
// not in [0, 1]".
func (e *ReadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap returns the underlying problem.
func (e *ReadError) Unwrap() error { return e.Err }

// PairFields maps the fields of a record to a PairSample. A and B are
// required; Score and Subgroup are optional (when "" every pair gets score 1
// and subgroup 0; when set, every record must have the field).
//
// Scores must be finite numbers in [ScoreMin, ScoreMax] and are stored
// rescaled to [0, 1] as (s - ScoreMin) / (ScoreMax - ScoreMin). With both
// zero the range is [0, 1]; the STS Benchmark's 0-5 scores take ScoreMax 5.
type PairFields struct {
	A, B               string
	Score              string
	Subgroup           string
	ScoreMin, ScoreMax float64
}

// GroupFields maps the fields of a record to a GroupSample.
//
// With Labels set, every label (a string, or a number taken by its text) is
// interned there, so "noun.food" and "noun.animal" get distinct ids; share one
// Labels between the files of a dataset. With Labels nil, labels must be
// non-negative integers and are used as the group ids.
type GroupFields struct {
	Obj    string
	Group  string
	Labels *Labels
}

// Quoting says how a CSV reader treats double quotes.
type Quoting int

const (
	// QuoteStandard follows RFC 4180: quoted fields, doubled quotes inside.
	QuoteStandard Quoting = iota
	// QuoteLazy accepts stray quotes inside unquoted fields.
	QuoteLazy
	// QuoteNone treats quotes as ordinary characters: every line is one
	// record split at each separator (the STS Benchmark files need this).
	QuoteNone
)

// CSVOptions describe a delimited text file.
type CSVOptions struct {
	// Comma separates fields; 0 means ',' (the *File functions use '\t' for
	// .tsv and .tab files).
	Comma rune
	// NoHeader says the first line is data. Columns are then named by
	// Columns, or "1", "2", ... (1-based positions) when Columns is nil.
	NoHeader bool
	// Columns names the columns, replacing the header's names when the file
	// has one. Records may have more columns than named; the extra are
	// ignored.
	Columns []string
	// Quoting selects how quotes are read.
	Quoting Quoting
}

// STSBenchmark returns the field mapping and CSV options of the STS
// Benchmark files (sts-train.csv, sts-dev.csv, sts-test.csv): tab-separated,
// no header, no quoting, columns 5-7 are score (0-5), sentence 1 and sentence
// 2, and some rows carry extra trailing columns, which are ignored.
func STSBenchmark() (PairFields, CSVOptions) {
	return PairFields{A: "sentence1", B: "sentence2", Score: "score", ScoreMax: 5},
		CSVOptions{
			Comma:    '\t',
			NoHeader: true,
			Columns:  []string{"genre", "file", "year", "id", "score", "sentence1", "sentence2"},
			Quoting:  QuoteNone,
		}
}

// ReadPairsJSONL reads one JSON object per line; name labels errors.
// Blank lines are allowed and skipped; every other line must yield a pair.
func ReadPairsJSONL(r io.Reader, name string, f PairFields) ([]PairSample, error) {
	conv, err := f.converter(name)
	if err != nil {
		return nil, err
	}
	return collect(conv, func(each func(record, *problems)) error { return readJSONL(r, name, each) })
}

// ReadGroupsJSONL reads one JSON object per line; name labels errors.
// Blank lines are allowed and skipped; every other line must yield a sample.
func ReadGroupsJSONL(r io.Reader, name string, f GroupFields) ([]GroupSample, error) {
	conv, err := f.converter(name)
	if err != nil {
		return nil, err
	}
	return collect(conv, func(each func(record, *problems)) error { return readJSONL(r, name, each) })
}

// ReadPairsCSV reads delimited text; name labels errors. Objects are the
// field texts (strings).
func ReadPairsCSV(r io.Reader, name string, f PairFields, o CSVOptions) ([]PairSample, error) {
	conv, err := f.converter(name)
	if err != nil {
		return nil, err
	}
	return collect(conv, func(each func(record, *problems)) error {
		return readCSV(r, name, o, []string{f.A, f.B, f.Score, f.Subgroup}, each)
	})
}

// ReadGroupsCSV reads delimited text; name labels errors. Objects are the
// field texts (strings).
func ReadGroupsCSV(r io.Reader, name string, f GroupFields, o CSVOptions) ([]GroupSample, error) {
	conv, err := f.converter(name)
	if err != nil {
		return nil, err
	}
	return collect(conv, func(each func(record, *problems)) error {
		return readCSV(r, name, o, []string{f.Obj, f.Group}, each)
	})
}

// ReadPairsFile reads a .jsonl/.ndjson file as JSONL and a .csv, .tsv or
// .tab file as CSV with o (Comma defaults to '\t' for .tsv and .tab).
func ReadPairsFile(path string, f PairFields, o CSVOptions) ([]PairSample, error) {
	var out []PairSample
	err := withFile(path, &o, func(r io.Reader, jsonl bool) error {
		var err error
		if jsonl {
			out, err = ReadPairsJSONL(r, path, f)
		} else {
			out, err = ReadPairsCSV(r, path, f, o)
		}
		return err
	})
	return out, err
}

// ReadGroupsFile reads a .jsonl/.ndjson file as JSONL and a .csv, .tsv or
// .tab file as CSV with o (Comma defaults to '\t' for .tsv and .tab).
func ReadGroupsFile(path string, f GroupFields, o CSVOptions) ([]GroupSample, error) {
	var out []GroupSample
	err := withFile(path, &o, func(r io.Reader, jsonl bool) error {
		var err error
		if jsonl {
			out, err = ReadGroupsJSONL(r, path, f)
		} else {
			out, err = ReadGroupsCSV(r, path, f, o)
		}
		return err
	})
	return out, err
}

func withFile(path string, o *CSVOptions, read func(r io.Reader, jsonl bool) error) error {
	ext := strings.ToLower(filepath.Ext(path))
	var jsonl bool
	switch ext {
	case ".jsonl", ".ndjson":
		jsonl = true
	case ".csv":
	case ".tsv", ".tab":
		if o.Comma == 0 {
			o.Comma = '\t'
		}
	default:
		return fmt.Errorf("read %s: unknown file type %q (want .jsonl, .ndjson, .csv, .tsv or .tab)", path, ext)
	}
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read samples: %w", err)
	}
	defer fh.Close()
	return read(bufio.NewReaderSize(fh, 1<<16), jsonl)
}

// problems collects ReadErrors for one input.
type problems struct {
	file  string
	errs  []error
	extra int
}

func (p *problems) add(line int, field string, err error) {
	if len(p.errs) >= MaxReadErrors {
		p.extra++
		return
	}
	p.errs = append(p.errs, &ReadError{File: p.file, Line: line, Field: field, Err: err})
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	errs := p.errs
	if p.extra > 0 {
		errs = append(errs, fmt.Errorf("%s: %d more problems not shown", p.file, p.extra))
	}
	return errors.Join(errs...)
}

// value is one field of one record.
type value struct {
	present bool
	line    int
	text    string          // CSV text, or the contents of a JSON string
	raw     json.RawMessage // JSON only: the raw value
}

// record gives access to the fields of one record.
type record interface {
	get(field string) value
}

type jsonRecord struct {
	fields map[string]json.RawMessage
	line   int
}

func (r jsonRecord) get(field string) value {
	raw, ok := r.fields[field]
	if !ok {
		return value{line: r.line}
	}
	v := value{present: true, line: r.line, raw: raw}
	if len(raw) > 0 && raw[0] == '"' {
		// A valid JSON string (the line decoded), so this cannot fail.
		_ = json.Unmarshal(raw, &v.text)
	}
	return v
}

type csvRecord struct {
	fields []string
	lines  []int // line of each field
	cols   map[string]int
}

func (r csvRecord) get(field string) value {
	i, ok := r.cols[field]
	if !ok || i >= len(r.fields) {
		line := 0
		if len(r.lines) > 0 {
			line = r.lines[0]
		}
		return value{line: line}
	}
	return value{present: true, line: r.lines[i], text: r.fields[i]}
}

func (v value) isJSON() bool { return v.raw != nil }

func (v value) isNull() bool { return v.isJSON() && string(v.raw) == "null" }

func (v value) isString() bool { return !v.isJSON() || v.raw[0] == '"' }

// object returns the value as a sample object: a string for CSV and JSON
// strings, otherwise the decoded JSON value (numbers as json.Number).
func (v value) object() (any, error) {
	if !v.present {
		return nil, fmt.Errorf("%w: absent", ErrMissingField)
	}
	if v.isNull() {
		return nil, fmt.Errorf("%w: null", ErrMissingField)
	}
	if v.isString() {
		if v.text == "" {
			return nil, fmt.Errorf("%w: empty", ErrMissingField)
		}
		return v.text, nil
	}
	dec := json.NewDecoder(bytes.NewReader(v.raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadValue, err)
	}
	return x, nil
}

// number parses a JSON number, or a number written as text.
func (v value) number() (float64, error) {
	if !v.present {
		return 0, fmt.Errorf("%w: absent", ErrMissingField)
	}
	if v.isNull() {
		return 0, fmt.Errorf("%w: null", ErrMissingField)
	}
	s := v.text
	if !v.isString() {
		if c := v.raw[0]; c != '-' && (c < '0' || c > '9') {
			return 0, fmt.Errorf("%w: want a number, got %s", ErrBadValue, truncate(string(v.raw)))
		}
		s = string(v.raw)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrMissingField)
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: want a number, got %q", ErrBadValue, truncate(s))
	}
	return x, nil
}

// integer parses an integral number.
func (v value) integer() (int, error) {
	x, err := v.number()
	if err != nil {
		return 0, err
	}
	if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
		return 0, fmt.Errorf("%w: want an integer, got %v", ErrBadValue, x)
	}
	return int(x), nil
}

func truncate(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

type pairConverter func(rec record, p *problems) (PairSample, bool)

func (f PairFields) converter(name string) (pairConverter, error) {
	if f.A == "" || f.B == "" {
		return nil, fmt.Errorf("read %s: PairFields needs both A and B field names", name)
	}
	lo, hi := f.ScoreMin, f.ScoreMax
	if lo == 0 && hi == 0 {
		hi = 1
	}
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return nil, fmt.Errorf("read %s: score range [%v, %v] is empty or infinite", name, f.ScoreMin, f.ScoreMax)
	}
	return func(rec record, p *problems) (PairSample, bool) {
		s := PairSample{Score: 1}
		ok := true
		get := func(field string) (any, bool) {
			v := rec.get(field)
			x, err := v.object()
			if err != nil {
				p.add(v.line, field, err)
				return nil, false
			}
			return x, true
		}
		var okA, okB bool
		s.A, okA = get(f.A)
		s.B, okB = get(f.B)
		ok = okA && okB
		if f.Score != "" {
			v := rec.get(f.Score)
			x, err := v.number()
			if err == nil && (math.IsNaN(x) || x < lo || x > hi) {
				err = fmt.Errorf("%w: %v is not in [%v, %v] (set PairFields.ScoreMin/ScoreMax for another scale)", ErrScoreRange, x, lo, hi)
			}
			if err != nil {
				p.add(v.line, f.Score, err)
				ok = false
			} else {
				s.Score = (x - lo) / (hi - lo)
			}
		}
		if f.Subgroup != "" {
			v := rec.get(f.Subgroup)
			x, err := v.integer()
			if err != nil {
				p.add(v.line, f.Subgroup, err)
				ok = false
			}
			s.Subgroup = x
		}
		return s, ok
	}, nil
}

type groupConverter func(rec record, p *problems) (GroupSample, bool)

func (f GroupFields) converter(name string) (groupConverter, error) {
	if f.Obj == "" || f.Group == "" {
		return nil, fmt.Errorf("read %s: GroupFields needs both Obj and Group field names", name)
	}
	return func(rec record, p *problems) (GroupSample, bool) {
		var s GroupSample
		ok := true
		v := rec.get(f.Obj)
		obj, err := v.object()
		if err != nil {
			p.add(v.line, f.Obj, err)
			ok = false
		}
		s.Obj = obj
		g := rec.get(f.Group)
		id, err := f.group(g)
		if err != nil {
			p.add(g.line, f.Group, err)
			ok = false
		}
		s.Group = id
		return s, ok
	}, nil
}

func (f GroupFields) group(v value) (int, error) {
	if f.Labels == nil {
		if v.isJSON() && v.isString() {
			return 0, fmt.Errorf("%w: label %q is a string; set GroupFields.Labels to intern string labels", ErrBadValue, truncate(v.text))
		}
		id, err := v.integer()
		if err == nil && id < 0 {
			err = fmt.Errorf("%w: group id %d is negative", ErrBadValue, id)
		}
		if err != nil && !errors.Is(err, ErrMissingField) {
			err = fmt.Errorf("%w (or set GroupFields.Labels to intern labels)", err)
		}
		return id, err
	}
	if !v.present {
		return 0, fmt.Errorf("%w: absent", ErrMissingField)
	}
	if v.isNull() {
		return 0, fmt.Errorf("%w: null", ErrMissingField)
	}
	text := v.text
	if !v.isString() {
		if _, err := v.number(); err != nil {
			return 0, fmt.Errorf("%w: a label must be a string or a number, got %s", ErrBadValue, truncate(string(v.raw)))
		}
		text = string(v.raw)
	}
	if text == "" {
		return 0, fmt.Errorf("%w: empty", ErrMissingField)
	}
	return f.Labels.ID(text), nil
}

// collect runs read, converting each record it yields with conv, and returns
// the samples in order; a record conv rejects has been reported to problems.
func collect[S any](conv func(record, *problems) (S, bool), read func(each func(record, *problems)) error) ([]S, error) {
	var out []S
	err := read(func(rec record, p *problems) {
		if s, ok := conv(rec, p); ok {
			out = append(out, s)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func readJSONL(r io.Reader, name string, each func(record, *problems)) error {
	p := &problems{file: name}
	br := bufio.NewReader(r)
	records := 0
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: line %d: %w", name, line, err)
		}
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			records++
			var fields map[string]json.RawMessage
			if jerr := decodeObject(t, &fields); jerr != nil {
				p.add(line, "", fmt.Errorf("%w: %v", ErrMalformed, jerr))
			} else {
				each(jsonRecord{fields: fields, line: line}, p)
			}
		}
		if err == io.EOF {
			break
		}
	}
	if records == 0 {
		p.add(0, "", ErrEmptyFile)
	}
	return p.err()
}

// decodeObject decodes exactly one JSON object from b.
func decodeObject(b []byte, into *map[string]json.RawMessage) error {
	if b[0] != '{' {
		return errors.New("want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("text after the JSON object")
	}
	return nil
}

func readCSV(r io.Reader, name string, o CSVOptions, mapped []string, each func(record, *problems)) error {
	p := &problems{file: name}
	comma := o.Comma
	if comma == 0 {
		comma = ','
	}
	if !utf8.ValidRune(comma) || comma == '\r' || comma == '\n' || (comma == '"' && o.Quoting != QuoteNone) {
		return fmt.Errorf("read %s: invalid separator %q", name, comma)
	}
	var cols map[string]int
	switch {
	case o.Columns != nil:
		var err error
		if cols, _, err = columnIndex(o.Columns, mapped); err != nil {
			return fmt.Errorf("read %s: CSVOptions.Columns: %w", name, err)
		}
	case o.NoHeader:
		cols = make(map[string]int)
		for _, m := range mapped {
			if m == "" {
				continue
			}
			i, err := strconv.Atoi(m)
			if err != nil || i < 1 {
				return fmt.Errorf("read %s: field %q: a file without header and CSVOptions.Columns names its columns 1, 2, ...", name, m)
			}
			cols[m] = i - 1
		}
	}
	next := csvLines(r, comma, o.Quoting)
	records := 0
	header := !o.NoHeader
	for {
		fields, lines, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if header {
					// Without its header the file's columns are unknown.
					return &ReadError{File: name, Line: pe.Line, Err: fmt.Errorf("header: %w: %v", ErrMalformed, pe.Err)}
				}
				p.add(pe.Line, "", fmt.Errorf("%w: %v", ErrMalformed, pe.Err))
				continue
			}
			return fmt.Errorf("read %s: %w", name, err)
		}
		if header {
			header = false
			if o.Columns == nil {
				var field string
				if cols, field, err = columnIndex(fields, mapped); err != nil {
					return &ReadError{File: name, Line: lines[0], Field: field, Err: fmt.Errorf("header: %w", err)}
				}
			}
			continue
		}
		records++
		each(csvRecord{fields: fields, lines: lines, cols: cols}, p)
	}
	if records == 0 {
		p.add(0, "", ErrEmptyFile)
	}
	return p.err()
}

// columnIndex maps column names to positions; every mapped name must be
// there exactly once, and the error names the first that is not.
func columnIndex(names, mapped []string) (map[string]int, string, error) {
	cols := make(map[string]int, len(names))
	count := make(map[string]int, len(names))
	for i, n := range names {
		if i == 0 {
			n = strings.TrimPrefix(n, "\ufeff")
		}
		if _, ok := cols[n]; !ok {
			cols[n] = i
		}
		count[n]++
	}
	for _, m := range mapped {
		if m == "" {
			continue
		}
		switch count[m] {
		case 0:
			return nil, m, fmt.Errorf("%w: no column %q (columns: %s)", ErrMissingField, m, strings.Join(names, ", "))
		case 1:
		default:
			return nil, m, fmt.Errorf("%w: column %q appears %d times", ErrBadValue, m, count[m])
		}
	}
	return cols, "", nil
}

// csvLines returns a function yielding records with the line of each field,
// and io.EOF at the end.
func csvLines(r io.Reader, comma rune, q Quoting) func() ([]string, []int, error) {
	if q == QuoteNone {
		br := bufio.NewReader(r)
		line := 0
		sep := string(comma)
		return func() ([]string, []int, error) {
			for {
				b, err := br.ReadString('\n')
				if err != nil && err != io.EOF {
					return nil, nil, err
				}
				if b == "" && err == io.EOF {
					return nil, nil, io.EOF
				}
				line++
				b = strings.TrimSuffix(strings.TrimSuffix(b, "\n"), "\r")
				if line == 1 {
					b = strings.TrimPrefix(b, "\ufeff")
				}
				if strings.TrimSpace(b) == "" {
					continue
				}
				fields := strings.Split(b, sep)
				lines := make([]int, len(fields))
				for i := range lines {
					lines[i] = line
				}
				return fields, lines, nil
			}
		}
	}
	cr := csv.NewReader(r)
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = q == QuoteLazy
	return func() ([]string, []int, error) {
		fields, err := cr.Read()
		if err != nil {
			return nil, nil, err
		}
		lines := make([]int, len(fields))
		for i := range fields {
			lines[i], _ = cr.FieldPos(i)
		}
		return fields, lines, nil
	}
}
