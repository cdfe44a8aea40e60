"""The Python package's figures (docs/beyond-one-machine.md): nanobert vs sentence-transformers
from Python, and Ray actors.

    # encode throughput and cold start, nanobert vs sentence-transformers, interleaved rounds:
    python3 scripts/bench_python.py encode --nanobert-python VENV/bin/python --st-python VENV2/bin/python
    # Ray Data: one actor of one thread vs two, and each actor's memory (PSS):
    python3 scripts/bench_python.py ray --nanobert-python VENV/bin/python

The corpus is `nanobert bench`'s mixed-length one (1,000 sentences of 5-128 tokens, seed 2024,
whole words of the model's vocabulary; the generator of src/bench/models.rs, ported below).
The model is all-MiniLM-L6-v2 from ~/.cache/nanobert (`nanobert fetch`).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MINILM = Path(os.environ.get("NANOBERT_HOME", Path.home() / ".cache" / "nanobert")) / "models" / "all-MiniLM-L6-v2"
M64 = (1 << 64) - 1


class Rng:
    """src/tensor/rng.rs: SplitMix64-seeded xoshiro256**."""

    def __init__(self, seed):
        x = seed
        s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            s.append(z ^ (z >> 31))
        self.s = s

    def next_u64(self):
        s = self.s
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M64  # noqa: E731
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result


def corpus(vocab_txt, n=1000, seed=2024):
    """src/bench/models.rs `corpus`: the same sentences for the same seed and vocabulary."""
    words = [w for w in Path(vocab_txt).read_text().split("\n") if len(w) >= 2 and w.isascii() and w.isalpha()
             and w.islower()]
    rng = Rng(seed)

    def pick(lo, hi):
        return lo + rng.next_u64() % (hi - lo + 1)

    out = []
    for i in range(n):
        r = i % 6
        tokens = pick(5, 32) if r <= 2 else pick(33, 64) if r <= 4 else pick(65, 128)
        n_words = max(tokens - 2, 1)
        out.append(" ".join(words[pick(0, len(words) - 1)] for _ in range(n_words)))
    for i in range(len(out) - 1, 0, -1):
        j = pick(0, i)
        out[i], out[j] = out[j], out[i]
    return out


# ------------------------------------------------------------------ one measurement per process

COLD = r"""
import sys, time
t0 = time.perf_counter()
engine, path = sys.argv[1], sys.argv[2]
if engine == "nanobert":
    import nanobert
    m = nanobert.SentenceTransformer(path, threads=2)
else:
    import torch
    torch.set_num_threads(2)
    from sentence_transformers import SentenceTransformer
    m = SentenceTransformer(path, device="cpu")
m.encode(["The first result."])
print(time.perf_counter() - t0)
"""

WARM = r"""
import json, sys, time
engine, path, corpus_file, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
texts = open(corpus_file).read().split("\n")
if engine == "nanobert":
    import nanobert
    m = nanobert.SentenceTransformer(path, threads=2)
else:
    import torch
    torch.set_num_threads(2)
    from sentence_transformers import SentenceTransformer
    m = SentenceTransformer(path, device="cpu")
m.encode(texts[:64])
best = None
for _ in range(reps):
    t = time.perf_counter()
    m.encode(texts, batch_size=32)
    s = time.perf_counter() - t
    best = s if best is None else min(best, s)
print(json.dumps({"seconds": best, "sentences_per_s": len(texts) / best}))
"""


def run(py, code, *args):
    out = subprocess.run([py, "-c", code, *map(str, args)], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def cmd_encode(a):
    texts = corpus(MINILM / "vocab.txt")
    cf = Path(a.work) / "corpus.txt"
    cf.parent.mkdir(parents=True, exist_ok=True)
    cf.write_text("\n".join(texts))
    engines = {"nanobert": a.nanobert_python, "sentence-transformers": a.st_python}
    warm = {k: [] for k in engines}
    cold = {k: [] for k in engines}
    for r in range(a.rounds):
        for name, py in engines.items():
            eng = "nanobert" if name == "nanobert" else "st"
            cold[name].append(float(run(py, COLD, eng, MINILM)))
            warm[name].append(json.loads(run(py, WARM, eng, MINILM, cf, a.reps))["sentences_per_s"])
            print(f"round {r + 1}: {name}: cold {cold[name][-1]:.2f} s, {warm[name][-1]:.1f} sentences/s",
                  file=sys.stderr)
    nb, st = max(warm["nanobert"]), max(warm["sentence-transformers"])
    print(f"corpus: {len(texts)} sentences of 5-128 tokens (seed 2024), all-MiniLM-L6-v2, 2 threads each, "
          f"best of {a.rounds} rounds x {a.reps} passes, interleaved")
    print(f"| engine | sentences/s | import + load + first result (best / median) |")
    print(f"|---|---:|---:|")
    for name in engines:
        c = sorted(cold[name])
        print(f"| {name} | {max(warm[name]):.1f} | {c[0]:.2f} s / {c[len(c) // 2]:.2f} s |")
    print(f"nanobert / sentence-transformers throughput: {nb / st:.2f}x")


RAY = r"""
import json, os, sys, time
import numpy as np
import ray
sys.path.insert(0, sys.argv[1])
import ray_embed

class Measured(ray_embed.Embed):
    def __call__(self, batch):
        out = super().__call__(batch)
        pss = rss = 0
        for line in open("/proc/self/smaps_rollup"):
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
        n = len(out["embedding"])
        out["pid"] = np.full(n, os.getpid())
        out["pss_kb"] = np.full(n, pss)
        out["rss_kb"] = np.full(n, rss)
        return out

model, corpus_file, copies = sys.argv[2], sys.argv[3], int(sys.argv[4])
texts = open(corpus_file).read().split("\n") * copies
ray.init(num_cpus=2, logging_level="ERROR", log_to_driver=False,
         runtime_env={"env_vars": {"PYTHONPATH": sys.argv[1]}})
ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)]).materialize()
res = {}
for actors in [1, 2, 1, 2]:
    t = time.perf_counter()
    rows = ray_embed.embed_dataset(ds, model, actors=actors, threads_per_actor=1, rows_per_batch=250,
                                   udf=Measured).select_columns(["pid", "pss_kb", "rss_kb"]).take_all()
    s = time.perf_counter() - t
    pss = {}
    for r in rows:
        pss[r["pid"]] = max(pss.get(r["pid"], 0), r["pss_kb"])
    rss = {}
    for r in rows:
        rss[r["pid"]] = max(rss.get(r["pid"], 0), r["rss_kb"])
    best = res.get(actors)
    if best is None or s < best["seconds"]:
        res[actors] = {"seconds": s, "rows_per_s": len(texts) / s, "actors_seen": len(pss),
                       "pss_mb": sorted(v / 1024 for v in pss.values()), "rss_mb": sorted(v / 1024 for v in rss.values())}
print(json.dumps(res))
"""


def cmd_ray(a):
    texts = corpus(MINILM / "vocab.txt")
    cf = Path(a.work) / "corpus.txt"
    cf.parent.mkdir(parents=True, exist_ok=True)
    cf.write_text("\n".join(texts))
    examples = Path(__file__).resolve().parent.parent / "examples" / "python"
    res = json.loads(run(a.nanobert_python, RAY, examples, MINILM, cf, a.copies))
    one, two = res["1"], res["2"]
    print(f"Ray Data, local cluster of 2 CPUs, {len(texts) * a.copies} rows (the corpus x{a.copies}), "
          f"actors of 1 CPU / 1 thread, all-MiniLM-L6-v2; best of 2 runs each, interleaved, actor start-up included")
    print("| actors | rows/s | PSS per actor | RSS per actor |")
    print("|---:|---:|---|---|")
    for k, r in (("1", one), ("2", two)):
        print(f"| {k} | {r['rows_per_s']:.1f} | {', '.join(f'{v:.0f} MB' for v in r['pss_mb'])} | "
              f"{', '.join(f'{v:.0f} MB' for v in r['rss_mb'])} |")
    print(f"two actors / one: {two['rows_per_s'] / one['rows_per_s']:.2f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("encode")
    e.add_argument("--nanobert-python", required=True)
    e.add_argument("--st-python", required=True)
    e.add_argument("--rounds", type=int, default=3)
    e.add_argument("--reps", type=int, default=2)
    e.add_argument("--work", default="target/bench-python")
    r = sub.add_parser("ray")
    r.add_argument("--nanobert-python", required=True)
    r.add_argument("--copies", type=int, default=2)
    r.add_argument("--work", default="target/bench-python")
    a = ap.parse_args()
    cmd_encode(a) if a.cmd == "encode" else cmd_ray(a)


if __name__ == "__main__":
    main()
