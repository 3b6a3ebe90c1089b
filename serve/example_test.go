package serve_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/simlearn/simlearn/head"
	"github.com/simlearn/simlearn/models"
	"github.com/simlearn/simlearn/serve"
)

// The service answers OpenAI-style embedding requests; here over a tiny
// embedding-table model (in practice, a model from models.Load).
func Example() {
	words, _ := models.NewEmbeddingTable(models.EmbeddingTableConfig{Name: "words", Categories: []string{"hello", "world"}, Dim: 3})
	h, _ := head.New(head.Config{Kind: head.KindEmpty}, 3, 0)
	m, _ := models.New([]models.Encoder{words}, h)

	srv, err := serve.New(m, serve.Config{ModelName: "tiny", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler()) // srv.ListenAndServe(ctx) in a real program
	defer ts.Close()

	resp, err := http.Post(ts.URL+"/v1/embeddings", "application/json",
		strings.NewReader(`{"input":["hello","world"],"model":"tiny"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, strings.Count(string(body), `"object":"embedding"`), "embeddings")

	resp, _ = http.Post(ts.URL+"/v1/embeddings", "application/json", strings.NewReader(`{"input":[1,2]}`))
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, strings.TrimSpace(string(body)))
	// Output:
	// 200 OK 2 embeddings
	// 400 Bad Request {"error":{"message":"input[0] must be a string, got a number (token arrays are not supported)","type":"invalid_request_error","param":"input[0]","code":null}}
}
