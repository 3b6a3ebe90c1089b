package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// APIError is an error in the OpenAI error shape:
// {"error":{"message":...,"type":...,"param":...,"code":...}}.
type APIError struct {
	// Status is the HTTP status code sent with the error.
	Status int
	// Type is the OpenAI error type, e.g. "invalid_request_error".
	Type string
	// Param names the offending request field, e.g. "input[3]"; may be empty.
	Param string
	// Code is a short machine-readable code, e.g. "invalid_api_key"; may be empty.
	Code string
	// Message says what went wrong and what to do.
	Message string
}

// Error implements error.
func (e *APIError) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%d %s (%s): %s", e.Status, e.Type, e.Param, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

// MarshalJSON writes the OpenAI error envelope.
func (e *APIError) MarshalJSON() ([]byte, error) {
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	b := body{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		b.Param = &e.Param
	}
	if e.Code != "" {
		b.Code = &e.Code
	}
	return json.Marshal(struct {
		Error body `json:"error"`
	}{b})
}

// writeError sends e as a JSON response.
func writeError(w http.ResponseWriter, e *APIError) {
	b, err := json.Marshal(e)
	if err != nil { // cannot happen: the envelope holds only strings
		b = []byte(`{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(b, '\n'))
}

func errTooLarge(limit int64) *APIError {
	return &APIError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error",
		Message: fmt.Sprintf("request body exceeds the limit of %d bytes", limit)}
}

func errTimeout() *APIError {
	return &APIError{Status: http.StatusGatewayTimeout, Type: "timeout_error", Code: "timeout",
		Message: "the request did not finish within the server's time limit; retry, or send fewer inputs"}
}

func errOverloaded() *APIError {
	return &APIError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "overloaded",
		Message: "the server's queue is full; retry after a short wait"}
}

func errShuttingDown() *APIError {
	return &APIError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "shutting_down",
		Message: "the server is shutting down; retry on another instance"}
}

func errInternal(err error) *APIError {
	return &APIError{Status: http.StatusInternalServerError, Type: "server_error",
		Message: "embedding failed: " + err.Error()}
}

func errUnauthorized() *APIError {
	return &APIError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key",
		Message: "missing or incorrect bearer token: send the header \"Authorization: Bearer <token>\""}
}
