package onnx

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// ElemType is an ONNX tensor element type (TensorProto.DataType).
type ElemType int32

// The element types text encoders deal with.
const (
	ElemFloat   ElemType = 1
	ElemInt32   ElemType = 6
	ElemInt64   ElemType = 7
	ElemFloat16 ElemType = 10
	ElemDouble  ElemType = 11
)

// String returns the ONNX name of the type.
func (t ElemType) String() string {
	switch t {
	case ElemFloat:
		return "float"
	case ElemInt32:
		return "int32"
	case ElemInt64:
		return "int64"
	case ElemFloat16:
		return "float16"
	case ElemDouble:
		return "double"
	}
	return "elem_type " + strconv.Itoa(int(t))
}

// Dim is one dimension of a tensor shape: a fixed size, or a symbolic name
// (Size < 0) for a dynamic axis.
type Dim struct {
	Size  int64
	Param string
}

// String returns the size, or the symbolic name ("?" when it has none).
func (d Dim) String() string {
	if d.Size >= 0 {
		return strconv.FormatInt(d.Size, 10)
	}
	if d.Param != "" {
		return d.Param
	}
	return "?"
}

// ValueInfo is a graph input or output: its name, element type and shape.
type ValueInfo struct {
	Name  string
	Elem  ElemType
	Shape []Dim
}

// String renders the value as name(type)[dims].
func (v ValueInfo) String() string {
	dims := make([]string, len(v.Shape))
	for i, d := range v.Shape {
		dims[i] = d.String()
	}
	return fmt.Sprintf("%s(%s)[%s]", v.Name, v.Elem, strings.Join(dims, ","))
}

// ModelInfo is what ReadModelInfo learns about an ONNX file without loading it
// into ONNX Runtime.
type ModelInfo struct {
	Inputs  []ValueInfo // graph inputs, initializers excluded
	Outputs []ValueInfo
	SHA256  string // hex sha256 of the file
}

// ReadModelInfo reads the graph inputs and outputs of the ONNX model at path
// and the sha256 of the file, in one streaming pass to the end of the file
// that never holds the weights in memory. It needs no ONNX Runtime library.
func ReadModelInfo(path string) (ModelInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return ModelInfo{}, fmt.Errorf("reading ONNX model: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	p := &pbReader{r: bufio.NewReaderSize(io.TeeReader(f, h), 1<<16)}
	info, err := p.model()
	if err != nil {
		return ModelInfo{}, fmt.Errorf("reading ONNX model %s: at byte %d: %w", path, p.n, err)
	}
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	return info, nil
}

// fileSHA256 returns the hex sha256 of a file.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// pbReader walks protobuf wire format from a stream, reading only the small
// messages it needs into memory and discarding the rest (weights).
type pbReader struct {
	r *bufio.Reader
	n int64 // bytes consumed
}

var errTruncated = errors.New("truncated protobuf: not a complete ONNX file")

func (p *pbReader) varint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, err := p.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				return 0, errTruncated
			}
			return 0, err
		}
		p.n++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("malformed varint: not an ONNX file")
}

func (p *pbReader) discard(n int64) error {
	for n > 0 {
		step := min(n, 1<<30)
		got, err := p.r.Discard(int(step))
		p.n += int64(got)
		if err != nil {
			if err == io.EOF {
				return errTruncated
			}
			return err
		}
		n -= step
	}
	return nil
}

func (p *pbReader) bytes(n int64) ([]byte, error) {
	if n > 1<<26 {
		return nil, fmt.Errorf("field of %d bytes where a small message was expected: not an ONNX file", n)
	}
	b := make([]byte, n)
	got, err := io.ReadFull(p.r, b)
	p.n += int64(got)
	if err != nil {
		return nil, errTruncated
	}
	return b, nil
}

// skip consumes the value of a field of the given wire type.
func (p *pbReader) skip(typ protowire.Type) error {
	switch typ {
	case protowire.VarintType:
		_, err := p.varint()
		return err
	case protowire.Fixed32Type:
		return p.discard(4)
	case protowire.Fixed64Type:
		return p.discard(8)
	case protowire.BytesType:
		n, err := p.varint()
		if err != nil {
			return err
		}
		return p.discard(int64(n))
	}
	return fmt.Errorf("unsupported protobuf wire type %d: not an ONNX file", typ)
}

// fields calls fn for every field until end (a byte count) is reached, or
// until EOF when end < 0. fn must consume the field's value.
func (p *pbReader) fields(end int64, fn func(num protowire.Number, typ protowire.Type) error) error {
	for end < 0 || p.n < end {
		if end < 0 {
			if _, err := p.r.Peek(1); err == io.EOF {
				return nil
			}
		}
		tag, err := p.varint()
		if err != nil {
			return err
		}
		num, typ := protowire.DecodeTag(tag)
		if num <= 0 {
			return errors.New("invalid protobuf field number: not an ONNX file")
		}
		if err := fn(num, typ); err != nil {
			return err
		}
	}
	if p.n != end {
		return errors.New("protobuf message overruns its length: not an ONNX file")
	}
	return nil
}

// model parses ModelProto, descending into field 7 (graph).
func (p *pbReader) model() (ModelInfo, error) {
	var info ModelInfo
	sawGraph := false
	err := p.fields(-1, func(num protowire.Number, typ protowire.Type) error {
		if num != 7 || typ != protowire.BytesType {
			return p.skip(typ)
		}
		n, err := p.varint()
		if err != nil {
			return err
		}
		sawGraph = true
		return p.graph(p.n+int64(n), &info)
	})
	if err != nil {
		return info, err
	}
	if !sawGraph {
		return info, errors.New("no graph found: not an ONNX model")
	}
	return info, nil
}

// graph parses GraphProto: input (11), output (12), initializer (5) names.
func (p *pbReader) graph(end int64, info *ModelInfo) error {
	initializers := map[string]bool{}
	var inputs []ValueInfo
	err := p.fields(end, func(num protowire.Number, typ protowire.Type) error {
		if typ != protowire.BytesType || (num != 5 && num != 11 && num != 12) {
			return p.skip(typ)
		}
		n, err := p.varint()
		if err != nil {
			return err
		}
		if num == 5 {
			name, err := p.tensorName(p.n + int64(n))
			initializers[name] = true
			return err
		}
		b, err := p.bytes(int64(n))
		if err != nil {
			return err
		}
		v, err := parseValueInfo(b)
		if err != nil {
			return err
		}
		if num == 11 {
			inputs = append(inputs, v)
		} else {
			info.Outputs = append(info.Outputs, v)
		}
		return nil
	})
	for _, v := range inputs {
		if !initializers[v.Name] {
			info.Inputs = append(info.Inputs, v)
		}
	}
	return err
}

// tensorName parses TensorProto for its name (8), skipping the data.
func (p *pbReader) tensorName(end int64) (string, error) {
	var name string
	err := p.fields(end, func(num protowire.Number, typ protowire.Type) error {
		if num != 8 || typ != protowire.BytesType {
			return p.skip(typ)
		}
		n, err := p.varint()
		if err != nil {
			return err
		}
		b, err := p.bytes(int64(n))
		name = string(b)
		return err
	})
	return name, err
}

// parseValueInfo parses ValueInfoProto: name (1), type (2) -> tensor_type (1)
// -> elem_type (1), shape (2) -> dim (1) -> dim_value (1) | dim_param (2).
func parseValueInfo(b []byte) (ValueInfo, error) {
	var v ValueInfo
	err := eachField(b, func(num protowire.Number, typ protowire.Type, val []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			v.Name = string(val)
		case num == 2 && typ == protowire.BytesType:
			return eachField(val, func(num protowire.Number, typ protowire.Type, val []byte, _ uint64) error {
				if num != 1 || typ != protowire.BytesType { // not a tensor type
					return nil
				}
				return eachField(val, func(num protowire.Number, typ protowire.Type, val []byte, x uint64) error {
					switch {
					case num == 1 && typ == protowire.VarintType:
						v.Elem = ElemType(x)
					case num == 2 && typ == protowire.BytesType:
						v.Shape = v.Shape[:0]
						return eachField(val, func(num protowire.Number, typ protowire.Type, val []byte, _ uint64) error {
							if num != 1 || typ != protowire.BytesType {
								return nil
							}
							d := Dim{Size: -1}
							err := eachField(val, func(num protowire.Number, typ protowire.Type, val []byte, x uint64) error {
								switch {
								case num == 1 && typ == protowire.VarintType:
									d.Size = int64(x)
								case num == 2 && typ == protowire.BytesType:
									d.Param = string(val)
								}
								return nil
							})
							v.Shape = append(v.Shape, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	if err != nil {
		return v, fmt.Errorf("graph input/output %q: %w", v.Name, err)
	}
	return v, nil
}

// eachField walks the fields of an in-memory protobuf message; fn gets the
// bytes of length-delimited fields and the value of varint fields.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, val []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var val []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			val, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, typ, val, x); err != nil {
			return err
		}
	}
	return nil
}
