//go:build unix

package cache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the child process of the crash, full-disk and
// second-process tests: with childEnv set, TestMain runs the child's part
// instead of the tests.
const (
	childEnv    = "SIMLEARN_CACHE_TEST_CHILD" // fill | hold | fulldisk
	childDirEnv = "SIMLEARN_CACHE_TEST_DIR"
	// crash workload: small memtables so that kills also land in flushes
	// and compactions.
	crashObjects = 1200
	crashDim     = 96
	crashBatch   = 20
	crashMemtab  = 256 << 10
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode, os.Getenv(childDirEnv)))
	}
	os.Exit(m.Run())
}

func crashEncoder() *hashEncoder { return newHashEncoder("crash", crashDim) }

func runChild(mode, dir string) int {
	ctx := context.Background()
	s, err := Open(dir, Options{Logger: quiet(), MemTableSize: crashMemtab})
	if err != nil {
		fmt.Println("open error:", err)
		return 2
	}
	fmt.Println("opened")
	switch mode {
	case "hold":
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
	case "fill":
		o := FillOptions{Store: s, BatchSize: crashBatch, WriteBatch: crashBatch, Progress: ProgressOff, Logger: quiet()}
		if _, err := Fill(ctx, []Spec{{Encoder: crashEncoder()}}, texts(crashObjects), o); err != nil {
			fmt.Println("fill error:", err)
			return 3
		}
		fmt.Println("done")
	case "fulldisk":
		// From here on no file may grow past 64 KiB: Badger's next
		// memtable or table cannot be created, as on a full disk.
		lim := &syscall.Rlimit{Cur: 64 << 10, Max: 64 << 10}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, lim); err != nil {
			fmt.Println("setrlimit:", err)
			return 4
		}
		o := FillOptions{Store: s, BatchSize: crashBatch, WriteBatch: crashBatch, Progress: ProgressOff, Logger: quiet()}
		_, err := Fill(ctx, []Spec{{Encoder: crashEncoder()}}, texts(crashObjects), o)
		fmt.Println("fill error:", err)
		// Die without closing, as a process that gave up would.
		return 5
	}
	if err := s.Close(); err != nil {
		fmt.Println("close error:", err)
		return 6
	}
	return 0
}

// child starts the test binary in mode on dir and waits for "opened".
func child(t *testing.T, mode, dir string) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "opened" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child %s: first line %q", mode, sc.Text())
	}
	return cmd, sc, in
}

// referenceFill is the uninterrupted run the crashed ones must equal.
func referenceFill(t *testing.T) *Matrix {
	t.Helper()
	s, err := Open(t.TempDir(), Options{Logger: quiet(), MemTableSize: crashMemtab})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := Fill(context.Background(), []Spec{{Encoder: crashEncoder()}}, texts(crashObjects), FillOptions{Store: s, Progress: ProgressOff})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkRecovered opens a store left by a dead child: it must verify clean
// (no partial vector, counts in step), every vector present must be the
// reference's, and a rerun must complete it bit for bit. It returns how
// many vectors the child had written.
func checkRecovered(t *testing.T, dir string, ref *Matrix) int {
	t.Helper()
	ctx := context.Background()
	s, err := Open(dir, Options{Logger: quiet(), MemTableSize: crashMemtab})
	if err != nil {
		t.Fatalf("reopen after the child died: %v", err)
	}
	defer s.Close()
	rep, err := s.Verify(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("verify after the child died: %v %v", rep.Problems, err)
	}
	present := int(rep.Entries)
	enc := crashEncoder()
	m, err := Fill(ctx, []Spec{{Encoder: enc}}, texts(crashObjects), FillOptions{Store: s, Progress: ProgressOff})
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if got := int(enc.encoded.Load()); got != crashObjects-present {
		t.Fatalf("rerun encoded %d, want %d (%d were present)", got, crashObjects-present, present)
	}
	a, b := m.X.RawMatrix().Data, ref.X.RawMatrix().Data
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("element %d: %v, uninterrupted run %v", i, a[i], b[i])
		}
	}
	if rep, _ := s.Verify(ctx); !rep.OK() || rep.Entries != crashObjects || rep.Packs != 1 {
		t.Fatalf("after the rerun: %+v", rep)
	}
	// And once more, now from the pack.
	again, err := Fill(ctx, []Spec{{Encoder: enc}}, texts(crashObjects), FillOptions{Store: s, Progress: ProgressOff})
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range again.X.RawMatrix().Data {
		if math.Float64bits(x) != math.Float64bits(b[i]) {
			t.Fatalf("pack element %d: %v, uninterrupted run %v", i, x, b[i])
		}
	}
	return present
}

func TestCrashSafetyUnderSIGKILL(t *testing.T) {
	ref := referenceFill(t)

	// Time one uninterrupted child fill, from "opened" to "done" (closing
	// the store comes after), to spread the kills over it.
	dir := t.TempDir()
	cmd, sc, _ := child(t, "fill", dir)
	start := time.Now()
	var span time.Duration
	for sc.Scan() {
		if sc.Text() == "done" {
			span = time.Since(start)
		}
	}
	if err := cmd.Wait(); err != nil || span == 0 {
		t.Fatalf("uninterrupted child: %v (fill timed: %t)", err, span > 0)
	}
	checkRecovered(t, dir, ref)

	seed := uint64(time.Now().UnixNano())
	t.Logf("fill takes %v; kill seed %d", span, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	midway := 0
	for attempt := 0; midway < 12; attempt++ {
		if attempt == 40 {
			t.Fatalf("only %d of 40 kills landed during a fill", midway)
		}
		dir := t.TempDir()
		cmd, sc, _ := child(t, "fill", dir)
		time.Sleep(time.Duration(rng.Float64() * float64(span)))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
		present := checkRecovered(t, dir, ref)
		if killed && present < crashObjects {
			midway++
			t.Logf("kill %d: %d of %d vectors had been written", midway, present, crashObjects)
		} else if !killed {
			t.Logf("child finished before the kill: %v %v", err, lines)
		}
	}
}

func TestFullDiskLeavesNoPartialVectors(t *testing.T) {
	ref := referenceFill(t)
	dir := t.TempDir()
	cmd, sc, _ := child(t, "fulldisk", dir)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	err := cmd.Wait()
	out := strings.Join(lines, "\n")
	if err == nil || strings.Contains(out, "fill error: <nil>") {
		t.Fatalf("the fill should fail on the full disk: %v\n%s", err, out)
	}
	t.Logf("child: %v; %s", err, out)
	present := checkRecovered(t, dir, ref)
	if present == 0 || present >= crashObjects {
		t.Fatalf("%d vectors written before the disk filled; want some, not all", present)
	}
	t.Logf("%d vectors were written before the disk filled", present)
}

func TestSecondProcessGetsHolderError(t *testing.T) {
	dir := t.TempDir()
	cmd, _, stdin := child(t, "hold", dir)
	_, err := Open(dir, Options{Logger: quiet()})
	var le *LockedError
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid || !strings.Contains(err.Error(), "process "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("open while another process holds the cache: %v", err)
	}
	t.Log(err)
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, lockInfoName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock info left behind: %v", err)
	}
	s, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatalf("open after the holder left: %v", err)
	}
	_ = s.Close()
}
