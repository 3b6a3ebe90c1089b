"""Training throughput of a plain PyTorch loop, for scripts/bench-train.

SkipConnection(384) head (fc * sigmoid(gates) + x, gates at -4), batch 256,
float32, Adam(lr=1e-3): forward, loss, backward and optimiser step, on a
fixed random batch. Losses as simlearn's SPEC: batch-hard triplet (margin
0.5, cosine distance; a batch is 256 objects in 64 groups of 4, a sample is
an object) or MultipleNegativesRanking (scale 20, cosine; a batch is 256
pairs, 512 rows [a_1..a_256, b_1..b_256], a sample is a pair), as in
simlearn's fit benchmarks. Prints, per repeat, samples per second of wall
time and samples per second of the process's CPU time (the rate on one
dedicated core when the loop runs one thread, which stays meaningful on a
busy machine), as a JSON list of [wall, cpu] pairs.
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F

DIM, BATCH = 384, 256


class Skip(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = torch.nn.Linear(dim, dim)
        self.gates = torch.nn.Parameter(torch.full((dim,), -4.0))

    def forward(self, x):
        return self.fc(x) * torch.sigmoid(self.gates) + x


def triplet_hard(e, groups, margin=0.5):
    en = F.normalize(e, dim=1)
    d = 1 - en @ en.T
    same = groups[:, None] == groups[None, :]
    eye = torch.eye(len(groups), dtype=torch.bool)
    pos = same & ~eye
    hp = torch.where(pos, d, torch.full_like(d, -float("inf"))).max(dim=1).values
    hn = torch.where(~same, d, torch.full_like(d, float("inf"))).min(dim=1).values
    return F.relu(hp - hn + margin).mean()


def mnrl(a, b, scale=20.0):
    s = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T * scale
    return F.cross_entropy(s, torch.arange(len(a)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loss", choices=["triplet", "mnrl"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0, help="time per repeat")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = Skip(DIM)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    if args.loss == "triplet":
        x = torch.randn(BATCH, DIM)
        groups = torch.arange(BATCH) // 4

        def step():
            opt.zero_grad()
            triplet_hard(model(x), groups).backward()
            opt.step()
    else:
        x = torch.randn(2 * BATCH, DIM)

        def step():
            opt.zero_grad()
            y = model(x)
            mnrl(y[:BATCH], y[BATCH:]).backward()
            opt.step()

    for _ in range(20):
        step()
    out = []
    for _ in range(args.repeats):
        n, t0, c0 = 0, time.perf_counter(), time.process_time()
        while True:
            step()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= args.seconds:
                break
        out.append([n * BATCH / dt, n * BATCH / (time.process_time() - c0)])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
