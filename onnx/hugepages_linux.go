package onnx

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"syscall"
)

// hugePage is the size of an x86-64 (and arm64 4K-granule) transparent huge
// page.
const hugePage = 2 << 20

// madvCollapse is MADV_COLLAPSE (Linux 6.1): back a range with transparent
// huge pages now, whatever the system's THP mode other than "never".
const madvCollapse = 25

// mapping is a private, writable, anonymous mapping of this process (the
// heap included), with how much of it is resident.
type mapping struct{ start, end, rss uintptr }

// anonMappings lists this process's private, writable, anonymous mappings
// from /proc/self/smaps.
func anonMappings() ([]mapping, error) {
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return nil, err
	}
	var out []mapping
	anon := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		switch {
		case len(f) >= 5 && bytes.IndexByte(f[0], '-') > 0 && len(f[1]) == 4:
			// start-end perms offset dev inode [path]
			var m mapping
			if _, err := fmt.Sscanf(string(f[0]), "%x-%x", &m.start, &m.end); err != nil {
				return nil, fmt.Errorf("/proc/self/smaps: %q: %w", f[0], err)
			}
			anon = f[1][1] == 'w' && f[1][3] == 'p' && (len(f) == 5 || string(f[5]) == "[heap]")
			if anon {
				out = append(out, m)
			}
		case anon && len(f) == 3 && string(f[0]) == "Rss:":
			var kb uintptr
			if _, err := fmt.Sscanf(string(f[1]), "%d", &kb); err != nil {
				return nil, fmt.Errorf("/proc/self/smaps: Rss %q: %w", f[1], err)
			}
			out[len(out)-1].rss = kb << 10
		}
	}
	return out, sc.Err()
}

// collapseNew backs with transparent huge pages the memory that was mapped
// after before was listed and is nearly all resident: ONNX Runtime's copy
// of a model's weights, which every run reads from end to end. With 4 KiB
// pages, that read misses the TLB once per page (10,900 pages for the
// products of all-MiniLM-L6-v2); with 2 MiB pages, once per 512. Mappings
// less than 90% resident are left alone, since collapsing a range populates
// all of it.
// It returns the bytes collapsed; it is best effort, and a kernel without
// MADV_COLLAPSE (before 6.1) or with THP off collapses nothing.
func collapseNew(before []mapping) int64 {
	after, err := anonMappings()
	if err != nil {
		return 0
	}
	var n int64
	for _, m := range after {
		if m.rss < (m.end-m.start)/10*9 {
			continue
		}
		// The parts of m that no earlier mapping covered.
		cur := m.start
		for _, b := range before {
			if b.end <= cur || b.start >= m.end {
				continue
			}
			if b.start > cur {
				n += collapse(cur, b.start)
			}
			cur = max(cur, b.end)
		}
		if cur < m.end {
			n += collapse(cur, m.end)
		}
	}
	return n
}

// collapse asks for the whole huge pages within [start, end) and returns
// their bytes, or 0 if the kernel refused.
func collapse(start, end uintptr) int64 {
	a := (start + hugePage - 1) &^ (hugePage - 1)
	z := end &^ (hugePage - 1)
	if z <= a {
		return 0
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, a, z-a, madvCollapse); errno != 0 {
		return 0
	}
	return int64(z - a)
}
