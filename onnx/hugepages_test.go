package onnx_test

import (
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/simlearn/simlearn/onnx"
)

// TestHugePages checks that opening the session backs ONNX Runtime's copy
// of the weights (42.5 MB of products for all-MiniLM-L6-v2, and more) with
// transparent huge pages where Linux can (6.1 or later, THP not "never"),
// that WithHugePages(false) leaves them alone, and that the vectors are the
// same either way.
func TestHugePages(t *testing.T) {
	texts := stsbTestTexts(t, 8)
	on := newEncoder(t)
	off := newEncoder(t, onnx.WithHugePages(false))
	if n := on.HugePages(); n != 0 {
		t.Fatalf("HugePages before the session opens = %d, want 0", n)
	}
	got, want := encodeTexts(t, on, texts), encodeTexts(t, off, texts)
	for i := range got {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("text %d: vectors differ with huge pages", i)
		}
	}
	if n := off.HugePages(); n != 0 {
		t.Errorf("WithHugePages(false): %d bytes in huge pages, want 0", n)
	}
	n := on.HugePages()
	if !collapseAvailable(t) {
		if n != 0 {
			t.Errorf("%d bytes in huge pages where the system has none", n)
		}
		return
	}
	if n < 40<<20 {
		t.Errorf("%d bytes in huge pages, want at least the 40 MiB of weights", n)
	}
	t.Logf("%.1f MiB of the session's memory in huge pages", float64(n)/(1<<20))
}

// collapseAvailable reports whether this system can collapse memory into
// transparent huge pages: Linux 6.1 or later with THP not "never".
func collapseAvailable(t *testing.T) bool {
	if runtime.GOOS != "linux" {
		return false
	}
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		return false
	}
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	parts := strings.SplitN(b.String(), ".", 3)
	major, _ := strconv.Atoi(parts[0])
	minor := 0
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(strings.TrimLeftFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	}
	return major > 6 || major == 6 && minor >= 1
}
