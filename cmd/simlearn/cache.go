package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"

	"github.com/simlearn/simlearn/cache"
)

const cacheSynopsis = `
Usage: simlearn cache stats [--cache-dir DIR] [--json]
       simlearn cache verify [--cache-dir DIR]
       simlearn cache rm [--cache-dir DIR] FINGERPRINT...

Inspects the embedding cache that fit fills: one Badger directory whose
entries are keyed by the encoder's fingerprint (which changes with its
weights, tokenizer and settings) and a content key of the object.

  stats    lists every fingerprint: encoder, dimension, vectors, size, packs
  verify   reads every record and checks it; exits 1 when a problem is found
  rm       deletes every vector of the given fingerprints (a unique prefix,
           as stats shows it, is enough)

stats and verify open the cache read-only. While fit fills the cache (before
training starts) no other process can open it.
`

const cacheExamples = `
  simlearn cache stats
  simlearn cache verify --cache-dir /data/simlearn-cache
  simlearn cache rm 3f9a1c2b
`

func runCache(ctx context.Context, e *env, args []string) error {
	f := newFlagSet("cache", cacheSynopsis, cacheExamples)
	dir := f.String("cache-dir", "", "cache `directory` (default ${SIMLEARN_HOME:-$HOME/.cache/simlearn}/cache)")
	asJSON := f.Bool("json", false, "stats: print JSON")
	pos, err := f.parse(e, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("missing action: stats, verify or rm")
	}
	switch pos[0] {
	case "stats":
		if err := wantArgs(pos[1:]); err != nil {
			return err
		}
		return cacheStats(ctx, e.stdout, *dir, *asJSON)
	case "verify":
		if err := wantArgs(pos[1:]); err != nil {
			return err
		}
		return cacheVerify(ctx, e.stdout, *dir)
	case "rm":
		if len(pos) < 2 {
			return usagef("missing FINGERPRINT")
		}
		return cacheRemove(ctx, e.stdout, *dir, pos[1:])
	}
	return usagef("unknown action %q: want stats, verify or rm", pos[0])
}

// shortFingerprint is how many characters of a fingerprint stats shows.
const shortFingerprint = 16

func cacheStats(ctx context.Context, w io.Writer, dir string, asJSON bool) error {
	st, err := cache.Open(dir, cache.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer st.Close()
	stats, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, struct {
			Dir          string                   `json:"dir"`
			Fingerprints []cache.FingerprintStats `json:"fingerprints"`
		}{st.Dir(), stats})
	}
	fmt.Fprintf(w, "%s: %d fingerprints\n", st.Dir(), len(stats))
	if len(stats) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FINGERPRINT\tENCODER\tDIM\tVECTORS\tSIZE\tPACKS\tCREATED")
	var total int64
	for _, s := range stats {
		fp := s.Meta.Fingerprint
		if fp == "" {
			fp = "(no metadata)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%s\n", fp[:min(len(fp), shortFingerprint)], s.Meta.Encoder, s.Meta.Dim,
			s.Entries, humanize.IBytes(uint64(s.Bytes+s.PackBytes)), s.Packs, s.Meta.Created.Format("2006-01-02 15:04"))
		total += s.Bytes + s.PackBytes
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "total %s\n", humanize.IBytes(uint64(total)))
	return nil
}

func cacheVerify(ctx context.Context, w io.Writer, dir string) error {
	st, err := cache.Open(dir, cache.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.Verify(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %d fingerprints, %d vectors, %d packs (%d chunks of interrupted packs)\n",
		st.Dir(), rep.Fingerprints, rep.Entries, rep.Packs, rep.IncompletePacks)
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	if !rep.OK() {
		return fmt.Errorf("%d problems found; remove the fingerprints concerned with 'simlearn cache rm'", len(rep.Problems))
	}
	fmt.Fprintln(w, "ok")
	return nil
}

func cacheRemove(ctx context.Context, w io.Writer, dir string, prefixes []string) error {
	st, err := cache.Open(dir, cache.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	stats, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	fps := make([]string, len(prefixes))
	for i, p := range prefixes {
		var match []string
		for _, s := range stats {
			if fp := s.Meta.Fingerprint; fp != "" && strings.HasPrefix(fp, p) {
				match = append(match, fp)
			}
		}
		switch len(match) {
		case 0:
			return fmt.Errorf("no fingerprint starts with %q in %s (see 'simlearn cache stats')", p, st.Dir())
		case 1:
			fps[i] = match[0]
		default:
			return fmt.Errorf("%q matches %d fingerprints; give more characters", p, len(match))
		}
	}
	for _, fp := range fps {
		n, err := st.Remove(ctx, fp)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "removed %s: %d vectors\n", fp, n)
	}
	return nil
}
