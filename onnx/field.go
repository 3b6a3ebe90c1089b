package onnx

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// fieldReader extracts the text to encode from an object: a string as it is,
// or the named field of a map or struct.
type fieldReader struct {
	field   string
	structs sync.Map // reflect.Type -> []int (field index path), or nil when absent
}

// text returns the text of obj, or an error that says why there is none.
func (r *fieldReader) text(obj any) (string, error) {
	switch v := obj.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case nil:
		return "", fmt.Errorf("object is nil")
	}
	if r.field == "" {
		return "", fmt.Errorf("object is a %T, not a string: set the encoder's field option to encode a field of it", obj)
	}
	switch v := obj.(type) {
	case map[string]any:
		f, ok := v[r.field]
		if !ok {
			return "", fmt.Errorf("map has no key %q", r.field)
		}
		s, ok := f.(string)
		if !ok {
			return "", fmt.Errorf("field %q is a %T, not a string", r.field, f)
		}
		return s, nil
	case map[string]string:
		s, ok := v[r.field]
		if !ok {
			return "", fmt.Errorf("map has no key %q", r.field)
		}
		return s, nil
	}
	rv := reflect.ValueOf(obj)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "", fmt.Errorf("object is a nil %T", obj)
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return "", fmt.Errorf("object is a %T: want a string, a map[string]any or a struct with field %q", obj, r.field)
	}
	idx := r.structField(rv.Type())
	if idx == nil {
		return "", fmt.Errorf("%s has no field or json tag %q", rv.Type(), r.field)
	}
	f, err := rv.FieldByIndexErr(idx)
	if err != nil {
		return "", fmt.Errorf("field %q of %s: %w", r.field, rv.Type(), err)
	}
	for f.Kind() == reflect.Pointer || f.Kind() == reflect.Interface {
		if f.IsNil() {
			return "", fmt.Errorf("field %q of %s is nil", r.field, rv.Type())
		}
		f = f.Elem()
	}
	if f.Kind() != reflect.String {
		return "", fmt.Errorf("field %q of %s is a %s, not a string", r.field, rv.Type(), f.Type())
	}
	return f.String(), nil
}

// structField finds the exported field of t named r.field, by Go name or by
// json tag; the json tag wins when both match different fields.
func (r *fieldReader) structField(t reflect.Type) []int {
	if idx, ok := r.structs.Load(t); ok {
		return idx.([]int)
	}
	var byName []int
	var byTag []int
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() {
			continue
		}
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == r.field && byTag == nil {
			byTag = f.Index
		}
		if f.Name == r.field && byName == nil {
			byName = f.Index
		}
	}
	idx := byTag
	if idx == nil {
		idx = byName
	}
	r.structs.Store(t, idx)
	return idx
}
