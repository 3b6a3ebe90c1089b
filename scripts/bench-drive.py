#!/usr/bin/env python3
"""Side-by-side encoder throughput: simlearn (Go) against its Python peers.

Run through scripts/bench. Every configuration (system x thread count) encodes all
distinct STS Benchmark sentences (the three splits) once per round; the rounds are
interleaved (round r runs every configuration once, in an order rotated by r) so
that slow spells of a shared machine fall on all of them alike. The Python peers
are long-lived workers (scripts/bench-peer.py) that have loaded the model and
done an untimed warm-up pass before the first round; the Go side is the compiled
test binary of ./onnx running BenchmarkEncodeSTSB once per round, which reports
its own sentences/s. The table gives the median of the rounds.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

NAMES = {
    "simlearn": "simlearn (Go, onnxruntime_go + daulet/tokenizers)",
    "onnxruntime": "(a) Python onnxruntime + HF tokenizers, same model.onnx",
    "sentence-transformers": "(b) sentence-transformers encode, PyTorch",
}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def thread_env(threads):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[k] = str(threads)
    # Older OpenBLAS builds need these on some processors; they slow a current numpy.
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


class Worker:
    """A Python peer: a bench-peer.py process that answers 'run' with one timed pass."""

    def __init__(self, system, threads, args):
        self.system, self.threads = system, threads
        cmd = [sys.executable, str(HERE / "bench-peer.py"), "--system", system,
               "--threads", str(threads), "--batch", str(args.batch),
               "--model-dir", args.model_dir, "--datasets", args.datasets]
        self.log = open(Path(args.workdir) / f"{system}-{threads}.log", "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, env=thread_env(threads))
        self.hello = None

    def _reply(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.system} ({self.threads} threads) exited; see {self.log.name}")
        return json.loads(line)

    def ready(self):
        if self.hello is None:
            self.hello = self._reply()
        return self.hello

    def call(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def run(self):
        return self.call("run")["sentences_per_s"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        self.log.close()


class GoBench:
    """simlearn: the compiled onnx test binary, BenchmarkEncodeSTSB, one pass a run."""

    def __init__(self, threads, workers, args):
        self.system, self.threads, self.workers, self.args = "simlearn", threads, workers, args
        if workers > 1:
            self.system = f"simlearn-w{workers}"

    def ready(self):
        return {}

    def run(self):
        env = thread_env(self.threads)
        env["SIMLEARN_BENCH_BATCH"] = str(self.args.batch)
        env["SIMLEARN_BENCH_THREADS"] = str(self.threads)
        env["SIMLEARN_BENCH_WORKERS"] = str(self.workers)
        cmd = [self.args.go_test, "-test.run", "^$", "-test.bench", "^BenchmarkEncodeSTSB$",
               "-test.benchtime", "1x", "-test.timeout", "0"]
        p = subprocess.run(cmd, cwd=self.args.go_dir, env=env, capture_output=True, text=True)
        m = re.search(r"([0-9.e+]+) sentences/s", p.stdout)
        if p.returncode != 0 or not m:
            raise RuntimeError(f"{' '.join(cmd)} (in {self.args.go_dir}) failed, exit {p.returncode}:\n"
                               f"{p.stdout[-3000:]}{p.stderr[-3000:]}")
        return float(m.group(1))

    def close(self):
        pass


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--datasets", required=True)
    p.add_argument("--go-test", help="compiled test binary of ./onnx (omit to leave simlearn out)")
    p.add_argument("--go-dir", help="directory to run it in (the onnx package)")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--systems", default="simlearn,onnxruntime,sentence-transformers")
    p.add_argument("--go-workers", default="1",
                   help="simlearn's batches run at once (SIMLEARN_BENCH_WORKERS), a list; "
                        "more than 1 is a row of its own, the peers have no counterpart")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--out", required=True, help="markdown file for the table")
    args = p.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    systems = args.systems.split(",")
    for s in systems:
        if s not in NAMES:
            sys.exit(f"bench: unknown system {s!r} (want {', '.join(NAMES)})")
    if "simlearn" in systems and not args.go_test:
        sys.exit("bench: --go-test is needed to run simlearn")

    with tempfile.TemporaryDirectory(prefix="simlearn-bench-") as workdir:
        args.workdir = workdir
        configs = []
        for s in systems:
            for t in threads:
                if s == "simlearn":
                    configs += [GoBench(t, int(w), args) for w in args.go_workers.split(",")]
                else:
                    configs.append(Worker(s, t, args))
        versions, n = {}, None
        try:
            log(f"loading and warming up {sum(isinstance(c, Worker) for c in configs)} Python peers")
            for c in configs:
                hello = c.ready()
                versions.update(hello.get("versions", {}))
                n = hello.get("n", n)
            results = {(c.system, c.threads): [] for c in configs}
            load0 = os.getloadavg()[0]
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            for r in range(args.reps):
                order = configs[r % len(configs):] + configs[:r % len(configs)]
                for c in order:
                    v = c.run()
                    results[(c.system, c.threads)].append(v)
                    log(f"round {r + 1}/{args.reps}: {c.system:22s} {c.threads} threads {v:8.1f} sentences/s")
                Path(args.out).write_text(report(args, configs, threads, results, versions, n, [], r + 1,
                                                 [load0, os.getloadavg()[0]]))
            # The peers must compute the same embeddings, or their speed means nothing.
            checks = []
            dumps = {}
            for c in configs:
                if isinstance(c, Worker):
                    path = str(Path(workdir) / f"{c.system}-{c.threads}.npy")
                    c.call(f"dump {path}")
                    dumps[(c.system, c.threads)] = path
            if len(dumps) >= 2:
                import numpy as np
                keys = list(dumps)
                base = np.load(dumps[keys[0]])
                for k in keys[1:]:
                    other = np.load(dumps[k])
                    cos = (base * other).sum(1) / (np.linalg.norm(base, axis=1) * np.linalg.norm(other, axis=1))
                    checks.append(f"{k[0]} (threads={k[1]}) vs {keys[0][0]} (threads={keys[0][1]}): "
                                  f"min cosine {cos.min():.7f} over {len(cos)} sentences")
                    if cos.min() < 0.9999:
                        sys.exit(f"bench: peers disagree: {checks[-1]}")
        finally:
            for c in configs:
                c.close()

    text = report(args, configs, threads, results, versions, n, checks, args.reps,
                  [load0, os.getloadavg()[0]])
    Path(args.out).write_text(text)
    print(text)


def report(args, configs, threads, results, versions, n, checks, rounds, loads):
    """The markdown table of the medians so far, with the summary against the goals."""
    med = {k: statistics.median(v) for k, v in results.items() if v}
    best = {}
    for (s, t), v in med.items():
        if s not in best or v > med[(s, best[s])]:
            best[s] = t
    ours = med[("simlearn", best["simlearn"])] if "simlearn" in best else None

    lines = [
        "| system | threads | median sentences/s | min-max | ours/peer |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in configs:
        s, t = c.system, c.threads
        if (s, t) not in med:
            continue
        v = med[(s, t)]
        lo, hi = min(results[(s, t)]), max(results[(s, t)])
        mark = " **(fastest)**" if best.get(s) == t and len(threads) > 1 else ""
        ratio = f"{ours / v:.2f}x" if ours is not None and not s.startswith("simlearn") else ""
        name = NAMES.get(s) or f"{NAMES['simlearn']}, {c.workers} batches at once"
        lines.append(f"| {name} | {t}{mark} | {v:.1f} | {lo:.1f}-{hi:.1f} | {ratio} |")
    summary = []
    if ours is not None:
        for s, goal in (("onnxruntime", 1.0), ("sentence-transformers", 1.5)):
            if s in best:
                ratio = ours / med[(s, best[s])]
                summary.append(f"- simlearn at {best['simlearn']} threads vs {NAMES[s]} at {best[s]} threads: "
                               f"**{ratio:.2f}x** (goal >= {goal}x: {'met' if ratio >= goal else 'NOT met'})")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    vers = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    partial = "" if rounds == args.reps else f" (PARTIAL: {rounds} of {args.reps} rounds done)"
    return "\n".join([
        "# Encoder throughput: all-MiniLM-L6-v2 on the STS Benchmark sentences",
        "",
        f"{n} distinct sentences (train, dev and test), batch size {args.batch}, "
        f"{args.reps} interleaved rounds, median{partial}; {os.cpu_count()} cores ({cpu_model()}), {now}; "
        f"1-minute load average {' -> '.join(f'{x:.1f}' for x in loads)} (start -> now).",
        f"Python peers: {vers}; Python {platform.python_version()}.",
        "",
        *lines,
        "",
        *summary,
        *([""] if summary else []),
        *(f"- check: {c}" for c in checks),
        *([""] if checks else []),
        "Reproduce: `make bench` (or `scripts/bench`).",
        "",
    ])


if __name__ == "__main__":
    main()
