package fit

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/simlearn/simlearn/head"
)

// TrainableEncoder is an encoder whose parameters Fit trains together with
// the head, such as models.EmbeddingTable; every models.TrainableEncoder
// satisfies it. (It is declared here, not taken from models, so that fit
// does not link the ONNX Runtime and tokenizer bindings that models does.)
//
// For each batch Fit calls Forward on the objects of the batch's rows (the
// dataset's Objects), gives the head [frozen columns | each trainable
// encoder's output, in Config.Trainable order] and, after the loss, passes
// each encoder its columns of the head's input gradient dL/dx in Backward.
type TrainableEncoder interface {
	// Name is a stable key of the encoder, distinct within a Config.
	Name() string
	// Dim is the width of Forward's output.
	Dim() int
	// Forward encodes a batch [len(objs), Dim], keeping what Backward
	// needs.
	Forward(objs []any) (*mat.Dense, error)
	// Backward takes dL/dy of the last Forward's output and accumulates
	// the parameters' gradients.
	Backward(dy *mat.Dense) error
	// Params lists the trainable parameters with their names.
	Params() []*head.Param
}

// encoders is the trainable-encoder state of a run: it builds the head's
// input [frozen | encoder 1 | encoder 2 | ...] and routes the head's input
// gradient back to each encoder.
type encoders struct {
	list   []TrainableEncoder
	x      *mat.Dense // the head's input of the last batch
	frozen int        // frozen columns of x
	objs   []any      // objects of the last batch
	rows   []int      // dataset X rows of the last batch
}

// checkTrainable validates Config.Trainable.
func checkTrainable(list []TrainableEncoder) error {
	seen := make(map[string]int, len(list))
	for i, e := range list {
		if e == nil {
			return fmt.Errorf("fit: Config.Trainable[%d] is nil", i)
		}
		if e.Dim() <= 0 {
			return fmt.Errorf("fit: trainable encoder %q (Config.Trainable[%d]) has dimension %d", e.Name(), i, e.Dim())
		}
		if j, dup := seen[e.Name()]; dup {
			return fmt.Errorf("fit: Config.Trainable[%d] and [%d] are both named %q; names must differ", j, i, e.Name())
		}
		seen[e.Name()] = i
	}
	return nil
}

// trainableDim is the number of head input columns the trainable encoders
// add.
func trainableDim(list []TrainableEncoder) int {
	w := 0
	for _, e := range list {
		w += e.Dim()
	}
	return w
}

// checkObjects reports a dataset that lacks the objects the trainable
// encoders need (their number is checked by the dataset's Validate).
func checkObjects(what string, cfg Config, d Dataset) error {
	if len(cfg.Trainable) == 0 {
		return nil
	}
	var objs []any
	switch d := d.(type) {
	case *PairData:
		objs = d.Objects
	case *GroupData:
		objs = d.Objects
	}
	if objs == nil {
		return fmt.Errorf("fit: %s data have no Objects, which trainable encoder %q needs: set Objects to the object of each row of X (cache.Matrix.Objects)", what, cfg.Trainable[0].Name())
	}
	return nil
}

// addEncoders registers the trainable encoders and adds their parameters,
// named "encoder/<encoder name>/<parameter name>", after the head's and the
// loss's.
func (r *run) addEncoders() {
	if len(r.cfg.Trainable) == 0 {
		return
	}
	r.enc = &encoders{list: r.cfg.Trainable}
	for _, e := range r.cfg.Trainable {
		for _, p := range e.Params() {
			r.params = append(r.params, p)
			r.names = append(r.names, "encoder/"+e.Name()+"/"+p.Name)
		}
	}
}

// groupInput returns the head's input for the group batch idx of d whose
// frozen columns x holds.
func (r *run) groupInput(x *mat.Dense, d *GroupData, idx []int) (*mat.Dense, error) {
	if r.enc == nil {
		return x, nil
	}
	rows := r.enc.rows[:0]
	for _, i := range idx {
		rows = append(rows, d.row(i))
	}
	r.enc.rows = rows
	return r.input(x, d.Objects, rows)
}

// pairInput returns the head's input for the pair batch idx of d whose
// frozen columns x holds, laid out as PairBatch.X: the A sides, then the B
// sides.
func (r *run) pairInput(x *mat.Dense, d *PairData, idx []int) (*mat.Dense, error) {
	if r.enc == nil {
		return x, nil
	}
	rows := r.enc.rows[:0]
	for _, i := range idx {
		rows = append(rows, d.A[i])
	}
	for _, i := range idx {
		rows = append(rows, d.B[i])
	}
	r.enc.rows = rows
	return r.input(x, d.Objects, rows)
}

// input returns the head's input for a batch whose frozen columns are x and
// whose samples are the given rows of the dataset's X, with objects the
// dataset's Objects: x itself without trainable encoders, otherwise x
// followed by each encoder's Forward of the rows' objects. The result is
// valid until the next call.
func (r *run) input(x *mat.Dense, objects []any, rows []int) (*mat.Dense, error) {
	e := r.enc
	if e == nil {
		return x, nil
	}
	n, c := x.Dims()
	e.objs = e.objs[:0]
	for _, i := range rows {
		e.objs = append(e.objs, objects[i])
	}
	e.x = resize(e.x, n, c+trainableDim(e.list))
	e.x.Slice(0, n, 0, c).(*mat.Dense).Copy(x)
	e.frozen = c
	off := c
	for _, enc := range e.list {
		y, err := enc.Forward(e.objs)
		if err != nil {
			return nil, forwardError(enc, e.objs, rows, err)
		}
		if yr, yc := y.Dims(); yr != n || yc != enc.Dim() {
			return nil, fmt.Errorf("trainable encoder %q: Forward of %d objects gave %dx%d, want %dx%d", enc.Name(), n, yr, yc, n, enc.Dim())
		}
		e.x.Slice(0, n, off, off+enc.Dim()).(*mat.Dense).Copy(y)
		off += enc.Dim()
	}
	return e.x, nil
}

// forwardError names the first row of the batch whose object enc cannot
// encode alone, or wraps err when each one can.
func forwardError(enc TrainableEncoder, objs []any, rows []int, err error) error {
	for k, o := range objs {
		if _, oerr := enc.Forward([]any{o}); oerr != nil {
			return fmt.Errorf("trainable encoder %q: object of row %d of X: %w", enc.Name(), rows[k], oerr)
		}
	}
	return fmt.Errorf("trainable encoder %q: %w", enc.Name(), err)
}

// backward accumulates the head's parameter gradients for dL/dy and, when
// encoders are trainable, theirs through the head's input gradient.
func (r *run) backward(dy *mat.Dense) error {
	h := r.cfg.Head
	if r.enc == nil {
		// The input is frozen: dL/dx is not needed.
		head.BackwardParams(h, dy)
		return nil
	}
	dx := h.Backward(dy)
	n, _ := dx.Dims()
	off := r.enc.frozen
	for _, e := range r.enc.list {
		if err := e.Backward(dx.Slice(0, n, off, off+e.Dim()).(*mat.Dense)); err != nil {
			return fmt.Errorf("trainable encoder %q: %w", e.Name(), err)
		}
		off += e.Dim()
	}
	return nil
}
