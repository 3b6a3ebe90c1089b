package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// EncodingFormat is how embeddings are written in a response.
type EncodingFormat string

const (
	// FormatFloat writes each embedding as a JSON array of numbers.
	FormatFloat EncodingFormat = "float"
	// FormatBase64 writes each embedding as the standard base64 encoding of
	// its little-endian float32 bytes.
	FormatBase64 EncodingFormat = "base64"
)

// EmbeddingRequest is a decoded and validated POST /v1/embeddings body.
type EmbeddingRequest struct {
	// Input holds the texts to embed, in request order; never empty.
	Input []string
	// Model is the model name the client asked for (informational).
	Model string
	// Format is the requested encoding of the embeddings.
	Format EncodingFormat
	// Dimensions is the requested vector length, 0 when not given.
	Dimensions int
}

// Limits bound what one request may ask for.
type Limits struct {
	// MaxInputs is the most texts one request may carry.
	MaxInputs int
	// MaxTextRunes is the most characters (Unicode code points) one text may have.
	MaxTextRunes int
}

// rawRequest mirrors the OpenAI request object; fields stay raw so that
// wrong types produce precise messages. Unknown fields are ignored, as the
// OpenAI API does.
type rawRequest struct {
	Input          json.RawMessage `json:"input"`
	Model          json.RawMessage `json:"model"`
	EncodingFormat json.RawMessage `json:"encoding_format"`
	Dimensions     json.RawMessage `json:"dimensions"`
	User           json.RawMessage `json:"user"`
}

// DecodeRequest parses and validates an embeddings request body against
// lim. Every failure is an *APIError with status 400 that names the
// offending field (and index, for an input); it never panics.
func DecodeRequest(body []byte, lim Limits) (*EmbeddingRequest, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("input", "request body is empty; expected a JSON object with an \"input\" field")
	}
	if !utf8.Valid(body) {
		return nil, invalid("", "request body is not valid UTF-8")
	}
	var raw rawRequest
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, invalid("", fmt.Sprintf("request body is not a valid JSON object: %v", jsonErrText(err)))
	}
	req := &EmbeddingRequest{Format: FormatFloat}
	var err error
	if req.Input, err = decodeInput(raw.Input, lim); err != nil {
		return nil, err
	}
	if !isNull(raw.Model) {
		if err := json.Unmarshal(raw.Model, &req.Model); err != nil {
			return nil, invalid("model", "\"model\" must be a string")
		}
	}
	if !isNull(raw.EncodingFormat) {
		var f string
		if err := json.Unmarshal(raw.EncodingFormat, &f); err != nil {
			return nil, invalid("encoding_format", "\"encoding_format\" must be a string: \"float\" or \"base64\"")
		}
		switch EncodingFormat(f) {
		case FormatFloat, FormatBase64:
			req.Format = EncodingFormat(f)
		default:
			return nil, invalid("encoding_format", fmt.Sprintf("unsupported encoding_format %q: use \"float\" or \"base64\"", f))
		}
	}
	if !isNull(raw.Dimensions) {
		if err := json.Unmarshal(raw.Dimensions, &req.Dimensions); err != nil || req.Dimensions <= 0 {
			return nil, invalid("dimensions", "\"dimensions\" must be a positive integer")
		}
	}
	if !isNull(raw.User) {
		var u string
		if err := json.Unmarshal(raw.User, &u); err != nil {
			return nil, invalid("user", "\"user\" must be a string")
		}
	}
	return req, nil
}

// decodeInput accepts a string or an array of strings and enforces lim.
func decodeInput(raw json.RawMessage, lim Limits) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return nil, invalid("input", "\"input\" is required: a string or an array of strings")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalid("input", fmt.Sprintf("\"input\" is not a valid JSON string: %v", jsonErrText(err)))
		}
		if err := checkText(s, "input", lim); err != nil {
			return nil, err
		}
		return []string{s}, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, invalid("input", fmt.Sprintf("\"input\" is not a valid JSON array: %v", jsonErrText(err)))
		}
		if len(items) == 0 {
			return nil, invalid("input", "\"input\" is an empty array; give at least one string")
		}
		if lim.MaxInputs > 0 && len(items) > lim.MaxInputs {
			return nil, invalid("input", fmt.Sprintf("\"input\" has %d items; at most %d are allowed per request", len(items), lim.MaxInputs))
		}
		texts := make([]string, len(items))
		for i, it := range items {
			param := fmt.Sprintf("input[%d]", i)
			if len(it) == 0 || it[0] != '"' {
				return nil, invalid(param, fmt.Sprintf("%s must be a string, got %s (token arrays are not supported)", param, jsonKind(it)))
			}
			if err := json.Unmarshal(it, &texts[i]); err != nil {
				return nil, invalid(param, fmt.Sprintf("%s is not a valid JSON string: %v", param, jsonErrText(err)))
			}
			if err := checkText(texts[i], param, lim); err != nil {
				return nil, err
			}
		}
		return texts, nil
	default:
		return nil, invalid("input", fmt.Sprintf("\"input\" must be a string or an array of strings, got %s", jsonKind(raw)))
	}
}

func checkText(s, param string, lim Limits) error {
	if s == "" {
		return invalid(param, param+" is an empty string")
	}
	if lim.MaxTextRunes > 0 && len(s) > lim.MaxTextRunes {
		if n := utf8.RuneCountInString(s); n > lim.MaxTextRunes {
			return invalid(param, fmt.Sprintf("%s has %d characters; at most %d are allowed", param, n, lim.MaxTextRunes))
		}
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// jsonKind names the JSON type of a raw value for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '[':
		return "an array"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// jsonErrText shortens encoding/json errors, dropping the Go type names that
// mean nothing to an HTTP client.
func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the body"
		}
		return fmt.Sprintf("%s has the wrong JSON type %s (at byte %d)", field, te.Value, te.Offset)
	}
	return err.Error()
}

func invalid(param, msg string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Message: msg}
}
