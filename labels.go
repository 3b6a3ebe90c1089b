package simlearn

import (
	"encoding/json"
	"fmt"
)

// Labels interns string labels as dense group ids 0, 1, 2, ... in the order
// they are first seen. Unlike a hash of the label, two different labels never
// share an id. The zero value is empty and ready to use; a Labels is not safe
// for concurrent use.
//
// Use one Labels for every file of a dataset (train, validation, test) so a
// label gets the same id everywhere, and save it with the model to map ids
// back to names. It marshals to JSON as the array of names in id order.
type Labels struct {
	ids   map[string]int
	names []string
}

// NewLabels returns Labels that already hold names, with ids in the given
// order. A repeated name is an error.
func NewLabels(names ...string) (*Labels, error) {
	l := &Labels{}
	for i, n := range names {
		if _, ok := l.Lookup(n); ok {
			return nil, fmt.Errorf("labels: name %q repeated at index %d", n, i)
		}
		l.ID(n)
	}
	return l, nil
}

// ID returns the id of name, giving it the next free id if it is new.
func (l *Labels) ID(name string) int {
	if id, ok := l.ids[name]; ok {
		return id
	}
	if l.ids == nil {
		l.ids = make(map[string]int)
	}
	id := len(l.names)
	l.ids[name] = id
	l.names = append(l.names, name)
	return id
}

// Lookup returns the id of name without adding it.
func (l *Labels) Lookup(name string) (int, bool) {
	id, ok := l.ids[name]
	return id, ok
}

// Name returns the label whose id is id, and false when no label has it.
func (l *Labels) Name(id int) (string, bool) {
	if id < 0 || id >= len(l.names) {
		return "", false
	}
	return l.names[id], true
}

// Len is the number of distinct labels.
func (l *Labels) Len() int { return len(l.names) }

// Names returns a copy of the labels in id order.
func (l *Labels) Names() []string { return append([]string(nil), l.names...) }

// MarshalJSON writes the names in id order.
func (l *Labels) MarshalJSON() ([]byte, error) {
	if l.names == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(l.names)
}

// UnmarshalJSON reads an array of distinct names, replacing the contents.
func (l *Labels) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	n, err := NewLabels(names...)
	if err != nil {
		return err
	}
	*l = *n
	return nil
}
