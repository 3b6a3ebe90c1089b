package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/simlearn/simlearn/models"
	"github.com/simlearn/simlearn/onnx"
)

// bin is the simlearn binary TestMain builds.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "simlearn-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "simlearn")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building simlearn: %v (the build needs libtokenizers.a: eval \"$(scripts/env)\" or make test)\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what a run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

// runBin runs the binary with args, stdin as standard input, and returns
// its output and exit code.
func runBin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("simlearn %s: %v", strings.Join(args, " "), err)
	}
	return result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

// mustRun runs the binary and fails the test unless it exits 0.
func mustRun(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := runBin(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("simlearn %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// requireAssets fails the test (never skips) when scripts/setup has not
// provided the ONNX Runtime library and all-MiniLM-L6-v2.
func requireAssets(t *testing.T) {
	t.Helper()
	for _, p := range []string{
		onnx.LibraryPath(),
		filepath.Join(onnx.DefaultModelDir(), models.ONNXModelFile),
		filepath.Join(onnx.DefaultModelDir(), models.ONNXTokenizerFile),
	} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("native asset missing: %v\nrun scripts/setup (or make test) first", err)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // in standard error
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"fit"}, "simlearn fit: missing --train"},
		{[]string{"fit", "--train", "x.jsonl"}, "simlearn fit: missing --out"},
		{[]string{"fit", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"fit", "--train", "x.jsonl", "--out", "m", "--optimizer", "lion"}, `--optimizer "lion"`},
		{[]string{"fit", "--train", "x.jsonl", "--out", "m", "--data", "triples"}, `--data "triples"`},
		{[]string{"fit", "--train", "x.jsonl", "--out", "m", "--epochs", "many"}, `invalid value "many" for flag -epochs`},
		{[]string{"fit", "--train", "x.jsonl", "--out", "m", "--loss-params", "margin=1"}, "want a JSON object"},
		{[]string{"fit", "--train", "x.jsonl", "--out", "m", "stray"}, `unexpected argument "stray"`},
		{[]string{"fit", "--train", "x.jsonl", "--out", "m", "--run-dir", "m/run"}, "is inside --out"},
		{[]string{"eval", "model"}, "simlearn eval: missing DATA"},
		{[]string{"eval", "--k", "0", "model", "data.jsonl"}, "--k 0"},
		{[]string{"embed"}, "simlearn embed: missing MODEL"},
		{[]string{"embed", "--batch", "0", "model"}, "--batch 0"},
		{[]string{"serve"}, "simlearn serve: missing MODEL"},
		{[]string{"serve", "--workers", "0", "model"}, "must be positive"},
		{[]string{"export", "model"}, "simlearn export: missing OUT.onnx"},
		{[]string{"cache"}, "simlearn cache: missing action"},
		{[]string{"cache", "prune"}, `unknown action "prune"`},
		{[]string{"cache", "rm"}, "missing FINGERPRINT"},
	} {
		r := runBin(t, "", c.args...)
		if r.code != exitUsage {
			t.Errorf("simlearn %q: exit %d, want %d\nstderr: %s", c.args, r.code, exitUsage, r.stderr)
		}
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("simlearn %q: stderr %q does not contain %q", c.args, r.stderr, c.want)
		}
	}
}

func TestHelp(t *testing.T) {
	r := mustRun(t, "", "--help")
	for _, c := range commands {
		if !strings.Contains(r.stdout, c.name) {
			t.Errorf("simlearn --help does not list %s", c.name)
		}
	}
	if !strings.Contains(r.stdout, "Exit codes:") {
		t.Errorf("simlearn --help does not document the exit codes:\n%s", r.stdout)
	}
	for _, c := range commands {
		r := mustRun(t, "", c.name, "--help")
		for _, want := range []string{"Usage: simlearn " + c.name, "Flags:", "Examples:", "-log-level"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("simlearn %s --help: no %q in\n%s", c.name, want, r.stdout)
			}
		}
	}
}

func TestRuntimeErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"text\": \"fine\", \"label\": \"a\"}\n{\"text\": 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fit", "--train", bad, "--out", filepath.Join(dir, "m"), "--cache", "none"}, "simlearn fit: " + bad + ":2"},
		{[]string{"eval", filepath.Join(dir, "nowhere"), bad}, "simlearn eval: " + bad + ":2"},
		{[]string{"embed", filepath.Join(dir, "nowhere")}, "simlearn embed: model: "},
		{[]string{"fit", "--train", bad, "--out", dir}, "simlearn fit: --out " + dir + " exists and is not a servable"},
		{[]string{"export", dir, filepath.Join(dir, "x.onnx")}, "simlearn export: model " + dir + ": neither a servable directory"},
		{[]string{"cache", "stats", "--cache-dir", filepath.Join(dir, "nocache")}, "simlearn cache: "},
	} {
		r := runBin(t, "", c.args...)
		if r.code != exitFailure {
			t.Errorf("simlearn %q: exit %d, want %d\nstderr: %s", c.args, r.code, exitFailure, r.stderr)
		}
		if !strings.HasPrefix(r.stderr, c.want) && !strings.Contains(r.stderr, "\n"+c.want) {
			t.Errorf("simlearn %q: stderr %q does not report %q", c.args, r.stderr, c.want)
		}
	}
}

// writeGroups writes n records {"id", "text", "label"} over four labels,
// drawn from seed, and returns the distinct texts.
func writeGroups(t *testing.T, path string, n int, seed uint64) map[string]bool {
	t.Helper()
	topics := map[string][]string{
		"animals":  {"cat", "dog", "horse", "rabbit", "parrot", "tiger", "dolphin", "sheep"},
		"vehicles": {"car", "truck", "bicycle", "train", "motorbike", "bus", "tractor", "scooter"},
		"food":     {"pizza", "soup", "bread", "salad", "pasta", "cheese", "apple pie", "curry"},
		"weather":  {"rain", "snow", "wind", "fog", "thunderstorm", "heat wave", "hail", "drizzle"},
	}
	labels := []string{"animals", "vehicles", "food", "weather"}
	templates := []string{
		"I saw a %s this morning.", "The %s was in the news today.", "We talked about the %s for hours.",
		"Everyone noticed the %s.", "There is a %s near the old station.", "My neighbour keeps mentioning the %s.",
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	texts := map[string]bool{}
	for i := range n {
		label := labels[i%len(labels)]
		words := topics[label]
		text := fmt.Sprintf(templates[rng.IntN(len(templates))], words[rng.IntN(len(words))])
		texts[text] = true
		rec, err := json.Marshal(map[string]any{"id": i, "text": text, "label": label})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(rec, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return texts
}

// TestWorkflow fits a model on generated groups with the real
// all-MiniLM-L6-v2, then embeds, evaluates, exports and serves it, and
// inspects the cache.
func TestWorkflow(t *testing.T) {
	requireAssets(t)
	dir := t.TempDir()
	train, val := filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "val.jsonl")
	texts := writeGroups(t, train, 60, 1)
	for s := range writeGroups(t, val, 24, 2) {
		texts[s] = true
	}
	cacheDir, model, runDir := filepath.Join(dir, "cache"), filepath.Join(dir, "model"), filepath.Join(dir, "model.run")

	// fit: cold cache, 3 epochs, the servable and the run files.
	r := mustRun(t, "", "fit", "--train", train, "--val", val, "--epochs", "3", "--batch-size", "16",
		"--cache-dir", cacheDir, "--out", model)
	if !strings.Contains(r.stdout, "trained 3 epochs") || !strings.Contains(r.stdout, "r_precision") {
		t.Errorf("fit output lacks the epochs or the metrics table:\n%s", r.stdout)
	}
	fitTrained := tableValue(t, r.stdout, "r_precision", 2)
	if want := fmt.Sprintf("encoded=%d", len(texts)); !strings.Contains(r.stderr, want) {
		t.Errorf("cold fit: no %q in the log:\n%s", want, r.stderr)
	}
	for _, p := range []string{
		filepath.Join(model, models.ManifestFile), filepath.Join(model, models.HeadFile),
		filepath.Join(runDir, "checkpoint.json"), filepath.Join(runDir, "history.json"),
		filepath.Join(runDir, "config.json"), filepath.Join(runDir, "labels.json"),
	} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("fit did not write %s: %v", p, err)
		}
	}

	// fit again from the written configuration: every vector from the cache.
	model2 := filepath.Join(dir, "model2")
	r = mustRun(t, "", "fit", "--config", filepath.Join(runDir, "config.json"), "--epochs", "2",
		"--out", model2, "--run-dir", filepath.Join(dir, "model2.run"))
	if want := fmt.Sprintf("from_cache=%d encoded=0", len(texts)); !strings.Contains(r.stderr, want) {
		t.Errorf("warm fit: no %q in the log:\n%s", want, r.stderr)
	}
	if !strings.Contains(r.stdout, "trained 2 epochs") {
		t.Errorf("fit --epochs 2 over the config: %s", r.stdout)
	}

	// embed: records keep their fields and get a vector; equal texts get
	// equal vectors.
	in := `{"id": "a", "text": "A dog runs in the park."}` + "\n\n" +
		`{"id": "b", "text": "Heavy snow is expected tonight."}` + "\n" +
		`{"id": "c", "text": "A dog runs in the park."}` + "\n"
	r = mustRun(t, in, "embed", model)
	type record struct {
		ID        string    `json:"id"`
		Text      string    `json:"text"`
		Embedding []float32 `json:"embedding"`
	}
	var recs []record
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var x record
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("embed output: %v\n%s", err, r.stdout)
		}
		recs = append(recs, x)
	}
	if len(recs) != 3 || recs[0].ID != "a" || recs[1].ID != "b" || recs[2].ID != "c" {
		t.Fatalf("embed: want records a, b, c in order, got %+v", recs)
	}
	for _, rec := range recs {
		if len(rec.Embedding) != 384 {
			t.Fatalf("embed %s: %d dimensions, want 384", rec.ID, len(rec.Embedding))
		}
	}
	if d := maxDiff(recs[0].Embedding, recs[2].Embedding); d > 1e-6 {
		t.Errorf("embed: the same text differs by %g", d)
	}
	if d := maxDiff(recs[0].Embedding, recs[1].Embedding); d < 1e-3 {
		t.Errorf("embed: different texts are equal within %g", d)
	}

	// eval: the servable against the frozen encoder, as JSON.
	r = mustRun(t, "", "eval", "--json", model, val, "--compare", onnx.DefaultModelDir())
	var ev map[string]struct {
		K       int                `json:"k"`
		Metrics map[string]float64 `json:"metrics"`
		Queries int                `json:"queries"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"model", "compare"} {
		res := ev[k]
		if res.Queries != 24 || res.K != 10 {
			t.Errorf("eval %s: %d queries at k %d, want 24 at 10", k, res.Queries, res.K)
		}
		for _, name := range []string{"r_precision", "mrr", "map@r"} {
			if v, ok := res.Metrics[name]; !ok || v <= 0 || v > 1 {
				t.Errorf("eval %s: %s = %v (present %t), want in (0, 1]", k, name, v, ok)
			}
		}
	}
	if got, want := ev["model"].Metrics["r_precision"], fitTrained; math.Abs(got-want) > 1e-4 {
		t.Errorf("eval of the saved model: r_precision %.4f, fit reported %.4f", got, want)
	}
	r = mustRun(t, "", "eval", model, val)
	if !strings.Contains(r.stdout, "r_precision") {
		t.Errorf("eval table lacks r_precision:\n%s", r.stdout)
	}

	// cache stats and verify: one fingerprint holding every distinct text.
	r = mustRun(t, "", "cache", "stats", "--json", "--cache-dir", cacheDir)
	var st struct {
		Fingerprints []struct {
			Meta    struct{ Fingerprint string }
			Entries int64
		} `json:"fingerprints"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("cache stats --json: %v\n%s", err, r.stdout)
	}
	if len(st.Fingerprints) != 1 || st.Fingerprints[0].Entries != int64(len(texts)) {
		t.Fatalf("cache stats: %+v, want one fingerprint with %d vectors", st.Fingerprints, len(texts))
	}
	fp := st.Fingerprints[0].Meta.Fingerprint
	r = mustRun(t, "", "cache", "stats", "--cache-dir", cacheDir)
	if !strings.Contains(r.stdout, fp[:shortFingerprint]) {
		t.Errorf("cache stats table lacks %s:\n%s", fp[:shortFingerprint], r.stdout)
	}
	r = mustRun(t, "", "cache", "verify", "--cache-dir", cacheDir)
	if !strings.Contains(r.stdout, fmt.Sprintf("%d vectors", len(texts))) || !strings.HasSuffix(r.stdout, "ok\n") {
		t.Errorf("cache verify:\n%s", r.stdout)
	}

	// export: one ONNX file with the head's output.
	out := filepath.Join(dir, "model.onnx")
	r = mustRun(t, "", "export", model, out)
	info, err := onnx.ReadModelInfo(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Outputs) != 1 || info.Outputs[0].Name != "sentence_embedding" || info.Outputs[0].Shape[1].Size != 384 {
		t.Errorf("export: outputs %v", info.Outputs)
	}
	if !strings.Contains(r.stdout, info.SHA256) {
		t.Errorf("export output does not name the file's sha256:\n%s", r.stdout)
	}

	// serve: the same vector over HTTP as embed computed; SIGTERM exits 0.
	vec := serveOnce(t, model, recs[1].Text)
	if d := maxDiff(vec, recs[1].Embedding); d > 1e-5 {
		t.Errorf("serve and embed differ by %g", d)
	}

	// cache rm by prefix empties the cache.
	mustRun(t, "", "cache", "rm", "--cache-dir", cacheDir, fp[:12])
	r = mustRun(t, "", "cache", "stats", "--cache-dir", cacheDir)
	if !strings.Contains(r.stdout, "0 fingerprints") {
		t.Errorf("cache stats after rm:\n%s", r.stdout)
	}
}

// serveOnce starts simlearn serve on a free port with a token from the
// environment, checks that a request without it is refused, embeds text once
// over HTTP, stops the server with SIGTERM and checks that it exits 0.
func serveOnce(t *testing.T, model, text string) []float32 {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", model)
	cmd.Env = append(os.Environ(), "SIMLEARN_API_TOKEN=s3cret")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The encoder's run layout, then the address.
	out := bufio.NewReader(stdout)
	var lines []string
	for len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "listening on ") {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("serve printed no address: %v\nstdout:\n%s\nstderr:\n%s", err, strings.Join(lines, ""), stderr.String())
		}
		lines = append(lines, line)
	}
	if len(lines) != 2 || !strings.Contains(lines[0], ": packed runs, ") || !strings.HasSuffix(lines[0], " MiB of model memory in huge pages\n") {
		t.Errorf("serve: want one encoder line saying packed runs and huge pages before the address, got %q", lines)
	}
	base := strings.TrimSpace(strings.TrimPrefix(lines[len(lines)-1], "listening on "))
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("serve: unexpected address line %q", lines[len(lines)-1])
	}
	post := func(token string) *http.Response {
		body := fmt.Sprintf(`{"input": [%q], "model": "m"}`, text)
		req, err := http.NewRequest(http.MethodPost, base+"/v1/embeddings", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := post(""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("serve without the token: status %d, want 401", resp.StatusCode)
		resp.Body.Close()
	}
	resp := post("s3cret")
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("serve: status %d, %v: %s", resp.StatusCode, err, b)
	}
	var got struct {
		Data []struct {
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
		Model string `json:"model"`
	}
	if err := json.Unmarshal(b, &got); err != nil || len(got.Data) != 1 {
		t.Fatalf("serve response: %v: %s", err, b)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v, want exit 0\nstderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "shut down") {
		t.Errorf("serve did not log its graceful shutdown:\n%s", stderr.String())
	}
	return got.Data[0].Embedding
}

// TestFitInterruptResume stops a long fit with SIGINT after its first
// epoch: it exits 130 with a checkpoint, and --resume finishes the run.
func TestFitInterruptResume(t *testing.T) {
	requireAssets(t)
	dir := t.TempDir()
	train := filepath.Join(dir, "train.jsonl")
	writeGroups(t, train, 60, 3)
	model, runDir := filepath.Join(dir, "model"), filepath.Join(dir, "model.run")
	args := []string{"fit", "--train", train, "--epochs", "1000000", "--patience", "-1", "--batch-size", "16",
		"--cache", "memory", "--out", model}
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "epoch done") {
			break
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stderr)
	log.Write(rest)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("fit after SIGINT: exit %d, want 130\nstderr:\n%s", code, log.String())
	}
	if !strings.Contains(log.String(), "--resume") {
		t.Errorf("fit after SIGINT does not say how to resume:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(model, models.ManifestFile)); err == nil {
		t.Errorf("an interrupted fit wrote the servable")
	}
	b, err := os.ReadFile(filepath.Join(runDir, "checkpoint.json"))
	if err != nil {
		t.Fatalf("no checkpoint after SIGINT: %v", err)
	}
	var ck struct{ Epoch int }
	if err := json.Unmarshal(b, &ck); err != nil || ck.Epoch < 1 {
		t.Fatalf("checkpoint: epoch %d, %v", ck.Epoch, err)
	}

	args[4] = fmt.Sprint(ck.Epoch + 2) // --epochs
	r := mustRun(t, "", append(args, "--resume")...)
	if want := fmt.Sprintf("trained %d epochs", ck.Epoch+2); !strings.Contains(r.stdout, want) {
		t.Errorf("resumed fit: no %q in\n%s", want, r.stdout)
	}
	if _, err := os.Stat(filepath.Join(model, models.ManifestFile)); err != nil {
		t.Errorf("resumed fit did not write the servable: %v", err)
	}
}

// TestFitPairs trains on scored pairs and checks that the metrics fit
// reports for the trained head are those of the saved model.
func TestFitPairs(t *testing.T) {
	requireAssets(t)
	dir := t.TempDir()
	words := [][]string{{"cat", "dog", "horse"}, {"car", "bus", "truck"}, {"rain", "snow", "fog"}}
	write := func(name string, n int, seed uint64) string {
		rng := rand.New(rand.NewPCG(seed, 2))
		var b bytes.Buffer
		for range n {
			ta, tb := rng.IntN(3), rng.IntN(3)
			wa, wb := words[ta][rng.IntN(3)], words[tb][rng.IntN(3)]
			score := 0.0
			switch {
			case wa == wb:
				score = 1
			case ta == tb:
				score = 0.6
			}
			rec, err := json.Marshal(map[string]any{
				"first": "Look at the " + wa + ".", "second": "There goes a " + wb + " again.", "score": score,
			})
			if err != nil {
				t.Fatal(err)
			}
			b.Write(append(rec, '\n'))
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	train, val := write("train.jsonl", 40, 1), write("val.jsonl", 20, 2)
	model := filepath.Join(dir, "model")
	data := []string{"--data", "pairs", "--a", "first", "--b", "second", "--score", "score"}
	r := mustRun(t, "", append([]string{"fit", "--train", train, "--val", val, "--epochs", "3", "--batch-size", "8",
		"--head", `{"kind":"linear","out":64}`, "--cache", "memory", "--out", model}, data...)...)
	trained := tableValue(t, r.stdout, "spearman", 2)
	r = mustRun(t, "", append([]string{"eval", "--json", model, val}, data...)...)
	var ev map[string]struct{ Metrics map[string]float64 }
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, r.stdout)
	}
	if got := ev["model"].Metrics["spearman"]; math.Abs(got-trained) > 1e-4 {
		t.Errorf("eval of the saved model: spearman %.4f, fit reported %.4f", got, trained)
	}
}

func TestPrintConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "fit.json")
	if err := os.WriteFile(cfg, []byte(`{"train": "train.jsonl", "out": "m", "epochs": 7, "head": {"kind": "linear", "out": 32}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, "", "fit", "--config", cfg, "--epochs", "9", "--print-config")
	var got fitConfig
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("--print-config: %v\n%s", err, r.stdout)
	}
	want := map[string][2]any{
		"train (relative to the file)": {got.Train, filepath.Join(dir, "train.jsonl")},
		"run dir":                      {got.RunDir, filepath.Join(dir, "m.run")},
		"epochs (flag over file)":      {got.Epochs, 9},
		"head":                         {got.Head.Kind + fmt.Sprint(got.Head.Out), "linear32"},
		"default loss for groups":      {got.Loss.Name, "triplet"},
	}
	for what, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s: %v, want %v", what, v[0], v[1])
		}
	}
	if err := os.WriteFile(cfg, []byte(`{"train": "t.jsonl", "out": "m", "epoch": 7}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runBin(t, "", "fit", "--config", cfg); r.code != exitFailure || !strings.Contains(r.stderr, `unknown field "epoch"`) {
		t.Errorf("a config with an unknown field: exit %d, %s", r.code, r.stderr)
	}
}

// tableValue reads column col (1 is the first value) of the metric's line
// in a table that eval.Compare or eval.Result.String formatted.
func tableValue(t *testing.T, table, metric string, col int) float64 {
	t.Helper()
	for line := range strings.Lines(table) {
		f := strings.Fields(line)
		if len(f) > col && f[0] == metric {
			var v float64
			if _, err := fmt.Sscan(f[col], &v); err != nil {
				t.Fatalf("metric %s: %v in %q", metric, err, line)
			}
			return v
		}
	}
	t.Fatalf("no %s line in\n%s", metric, table)
	return 0
}

// maxDiff is the largest absolute difference of two vectors (Inf when the
// lengths differ).
func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}
