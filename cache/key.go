package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"unicode/utf8"
)

// KeyFunc returns the content key of an object: two objects with the same key
// are the same entry for an encoder. It must be deterministic and never
// return an empty key.
type KeyFunc func(obj any) ([]byte, error)

// CanonicalJSON returns the canonical JSON form of v, the input of the default
// content key. It is defined as follows:
//
//  1. v is marshalled with encoding/json (so struct tags, MarshalJSON and
//     TextMarshaler methods apply as usual);
//  2. the result is decoded into generic values (objects, arrays, strings,
//     json.Number, booleans, null), keeping every number's literal text;
//  3. that is written again with encoding/json without HTML escaping and
//     without insignificant whitespace; object keys are therefore sorted by
//     their UTF-8 bytes, at every depth.
//
// A struct and a map with the same fields and values give the same bytes, as
// do int 1 and float64 1. Values encoding/json cannot marshal (channels,
// functions, NaN or infinite floats, cycles) and strings or map keys that are
// not valid UTF-8 (which encoding/json would silently replace, merging
// different objects into one key) are errors.
func CanonicalJSON(v any) ([]byte, error) {
	if s, ok := v.(string); ok {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("string is not valid UTF-8")
		}
		return marshalNoEscape(s)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if err := checkUTF8(reflect.ValueOf(v), 0); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return marshalNoEscape(generic)
}

// ContentKey is the default [KeyFunc]: the SHA-256 of [CanonicalJSON].
func ContentKey(obj any) ([]byte, error) {
	c, err := CanonicalJSON(obj)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(c)
	return sum[:], nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// maxDepth bounds the UTF-8 walk; json.Marshal has already rejected cycles.
const maxDepth = 1000

// checkUTF8 rejects strings and map keys that are not valid UTF-8 anywhere in
// v (encoding/json would replace their bad bytes with U+FFFD).
func checkUTF8(v reflect.Value, depth int) error {
	if depth > maxDepth || !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return fmt.Errorf("string %q is not valid UTF-8", v.String())
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return checkUTF8(v.Elem(), depth+1)
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // []byte is base64, always valid
		}
		for i := range v.Len() {
			if err := checkUTF8(v.Index(i), depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if err := checkUTF8(it.Key(), depth+1); err != nil {
				return fmt.Errorf("map key: %w", err)
			}
			if err := checkUTF8(it.Value(), depth+1); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			if f := t.Field(i); f.IsExported() && f.Tag.Get("json") != "-" {
				if err := checkUTF8(v.Field(i), depth+1); err != nil {
					return fmt.Errorf("field %s: %w", f.Name, err)
				}
			}
		}
	}
	return nil
}
