package onnx_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/simlearn/simlearn/onnx"
)

func TestCheckLibraryAcceptsTheSetUpLibrary(t *testing.T) {
	requireAssets(t)
	info, err := onnx.CheckLibrary(onnx.LibraryPath())
	if err != nil {
		t.Fatal(err)
	}
	if info.Version == "" {
		t.Fatalf("no version read from %s", info.Path)
	}
	if err := onnx.InitRuntime(""); err != nil {
		t.Fatal(err)
	}
	if got := onnx.RuntimeVersion(); got != info.Version {
		t.Errorf("loaded ONNX Runtime says version %q, its ELF symbols say %q", got, info.Version)
	}
}

// TestBadLibraries passes every kind of wrong library through the checks,
// InitRuntime and an encoder: each must give a clear error, never a panic.
func TestBadLibraries(t *testing.T) {
	requireAssets(t)
	dir := t.TempDir()
	text := filepath.Join(dir, "libonnxruntime.so")
	if err := os.WriteFile(text, []byte("not a library\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(onnx.Home(), "test", "onnxruntime-1.16.3", "libonnxruntime.so.1.16.3")
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("too-old test library: %v\n%s", err, setupHint)
	}
	cases := []struct {
		name, path string
		want       []string
	}{
		{"missing", filepath.Join(dir, "nope", "libonnxruntime.so"), []string{"does not exist", "make setup", "SIMLEARN_ORT_LIB"}},
		{"directory", dir, []string{"is a directory"}},
		{"not ELF", text, []string{"not an ELF shared library"}},
		{"other architecture", arm64Library(t), []string{"built for arm64", "runs on linux/amd64"}},
		{"not ONNX Runtime", systemLibrary(t), []string{"does not export OrtGetApiBase"}},
		{"too old", old, []string{"version 1.16.3, too old", "needs 1.24.0 or newer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := onnx.CheckLibrary(c.path)
			t.Log(err)
			checkErr(t, err, c.want)
			if c.name == "missing" && !errors.Is(err, onnx.ErrNotSetUp) {
				t.Errorf("error does not wrap ErrNotSetUp: %v", err)
			}
			// The same error through an encoder, at its first Encode.
			enc := newEncoder(t, onnx.WithLibrary(c.path))
			before := onnx.SessionsOpened()
			_, err = enc.EncodeTexts(t.Context(), []string{"hello"})
			checkErr(t, err, c.want)
			if enc.HasSession() || onnx.SessionsOpened() != before {
				t.Error("a session was opened with a bad library")
			}
		})
	}
}

func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// arm64Library is a real ONNX Runtime library for linux/arm64 that ships with
// github.com/yalue/onnxruntime_go (in the Go module cache).
func arm64Library(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/yalue/onnxruntime_go").Output()
	if err != nil {
		t.Fatalf("locating github.com/yalue/onnxruntime_go: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "test_data", "onnxruntime_arm64.so")
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// systemLibrary is a real x86-64 shared library that is not ONNX Runtime.
func systemLibrary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("no libm.so.6 found to stand for a shared library that is not ONNX Runtime")
	return ""
}
