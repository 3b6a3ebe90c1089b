package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes of simlearn.
const (
	exitOK      = 0 // the command did what was asked
	exitFailure = 1 // a runtime failure: bad data, missing assets, I/O, ...
	exitUsage   = 2 // a usage error: unknown command or flag, bad flag value
	// An interrupted command exits with 128 plus the signal number:
	// 130 for SIGINT, 143 for SIGTERM (serve shuts down and exits 0).
)

// command is one subcommand of simlearn.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// commands lists the subcommands in the order the help shows them.
var commands = []command{
	{"fit", "fine-tune a head on a frozen encoder and save a servable model", runFit},
	{"eval", "print retrieval and correlation metrics of a model on a dataset", runEval},
	{"embed", "embed a field of JSONL records, writing JSONL with the vectors", runEmbed},
	{"serve", "serve a model over HTTP (OpenAI-compatible /v1/embeddings)", runServe},
	{"export", "write a servable model as one ONNX file", runExport},
	{"cache", "inspect the embedding cache: stats, verify, rm", runCache},
}

// env is what a command reads and writes besides its arguments.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func main() {
	ctx, stop := signalContext()
	code := run(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		printUsage(e.stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == name {
			return exitCode(ctx, e, "simlearn "+c.name, c.run(ctx, e, args[1:]))
		}
	}
	fmt.Fprintf(e.stderr, "simlearn: unknown command %q\nRun 'simlearn --help' for the list of commands.\n", name)
	return exitUsage
}

// exitCode reports err on standard error as "<cmd>: <error>" and maps it to
// an exit code.
func exitCode(ctx context.Context, e *env, cmd string, err error) int {
	var ue usageError
	var ie interrupted
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "%s: %v\nRun '%s --help' for usage.\n", cmd, err, cmd)
		return exitUsage
	case errors.As(context.Cause(ctx), &ie):
		fmt.Fprintf(e.stderr, "%s: %v\n", cmd, err)
		return 128 + ie.number()
	default:
		fmt.Fprintf(e.stderr, "%s: %v\n", cmd, err)
		return exitFailure
	}
}

// usageError is a mistake in the command line, reported with exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// interrupted is the cause of the context's cancellation when a signal
// arrives.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return "interrupted by " + i.sig.String() }

// number is the signal number, for the exit code 128+n.
func (i interrupted) number() int {
	if s, ok := i.sig.(syscall.Signal); ok {
		return int(s)
	}
	return int(syscall.SIGINT)
}

// signalContext returns a context cancelled, with an interrupted cause,
// by the first SIGINT or SIGTERM. A second signal gets the default
// behaviour and ends the process at once.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			cancel(interrupted{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// printUsage writes the top-level help.
func printUsage(w io.Writer) {
	fmt.Fprint(w, `simlearn fine-tunes similarity heads on frozen encoders and serves the result.

Usage:
  simlearn <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'simlearn <command> --help' for a command's flags and examples.

Exit codes:
  0    success (also serve after a SIGINT/SIGTERM shutdown)
  1    runtime failure (bad data, missing assets, I/O errors, cache problems)
  2    usage error (unknown command or flag, missing argument, bad value)
  130  interrupted by SIGINT (143: SIGTERM); fit saves a checkpoint first

Native assets (ONNX Runtime, tokenizer, all-MiniLM-L6-v2) come from
scripts/setup, under ${SIMLEARN_HOME:-$HOME/.cache/simlearn}.
`)
}
