"""Reference outputs for the exercises of the "Making it fast" chapters (exercises/tests/).

Writes tests/fixtures/exercises/cases.json: every expected value computed by PyTorch or NumPy,
never by nanobert. Floats are stored as f32 bit patterns (u32) or as f64 JSON numbers.

    python3 -m pip install -r scripts/requirements.txt
    python3 scripts/make_exercise_fixtures.py --out tests/fixtures/exercises
"""

import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig
from transformers.models.bert.modeling_bert import BertLayer

SEED = 20261207


def bits(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "bits": t.view(torch.int32).flatten().tolist()}


def u32(x):
    # int32 view -> unsigned bit pattern
    return [v & 0xFFFFFFFF for v in x]


def f32(t):
    d = bits(t)
    d["bits"] = u32(d["bits"])
    return d


def flops_cases():
    cases = []
    for hidden, heads, inter, batch, seq in [(768, 12, 3072, 1, 128), (384, 12, 1536, 2, 32), (32, 4, 37, 3, 7)]:
        config = BertConfig(hidden_size=hidden, num_attention_heads=heads, intermediate_size=inter)
        config._attn_implementation = "eager"  # the two attention matmuls as explicit bmm
        layer = BertLayer(config).eval()
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            layer(torch.randn(batch, seq, hidden))
        counts = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
        linears = sum(n for op, n in counts.items() if "addmm" in op or op.endswith(".mm"))
        attention = sum(n for op, n in counts.items() if "bmm" in op)
        assert linears + attention == counter.get_total_flops(), counts
        cases.append({"hidden": hidden, "heads": heads, "intermediate": inter, "batch": batch, "seq": seq,
                      "linears": linears, "attention": attention, "counts": counts})
    return cases


def epilogue_cases():
    g = torch.Generator().manual_seed(SEED)
    cases = []
    # A random Linear-like product, and one with A = I (the product is exact, so the epilogue alone
    # is compared, at f32 precision) over inputs from -4 to 4.
    m, k, n = 5, 33, 6
    a = torch.randn(m, k, generator=g)
    b = torch.randn(k, n, generator=g) / k**0.5
    bias = torch.randn(n, generator=g)
    cases.append({"name": "random", "m": m, "k": k, "n": n, "a": f32(a), "b": f32(b), "bias": f32(bias),
                  "want": f32(F.gelu(a @ b + bias))})
    m = k = 4
    n = 48
    a = torch.eye(m)
    b = torch.linspace(-4.0, 4.0, k * n).reshape(k, n)
    bias = torch.linspace(-0.5, 0.75, n)
    cases.append({"name": "identity", "m": m, "k": k, "n": n, "a": f32(a), "b": f32(b), "bias": f32(bias),
                  "want": f32(F.gelu(a @ b + bias))})
    return cases


def quantize_case():
    g = torch.Generator().manual_seed(SEED + 1)
    rows, cols = 6, 40
    w = torch.randn(rows, cols, generator=g) * 0.05
    w[2] *= 60.0  # an outlier channel: with one scale per tensor every other row would lose its codes
    w[4] = 0.0  # a row with no range
    obs = torch.ao.quantization.PerChannelMinMaxObserver(
        ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric, quant_min=-127, quant_max=127)
    obs(w)
    scales, zero_points = obs.calculate_qparams()
    q = torch.quantize_per_channel(w, scales.to(torch.float64), zero_points, 0, torch.qint8).int_repr()
    # No value may sit on a rounding tie (PyTorch rounds ties to even, Rust's round() away from 0).
    frac = (w / scales[:, None].to(torch.float32)).abs() % 1.0
    assert not torch.any((frac - 0.5).abs() < 1e-4), "a tie: change the seed"
    return {"rows": rows, "cols": cols, "w": f32(w), "scales": f32(scales.to(torch.float32)),
            "codes": q.flatten().tolist(), "zero_row": 4}


def stats_cases():
    rng = np.random.default_rng(SEED)
    cases = []
    for n in [1, 2, 7, 10]:
        t = (20.0 + rng.gamma(2.0, 0.5, n)).tolist()
        if n >= 7:
            t[3] = 95.0  # one run slowed down by a neighbour
        cases.append({"times": t, "median": float(np.median(t)), "min": float(np.min(t)), "max": float(np.max(t))})
    # Two interleaved runs on a machine that slows down by 3x in rounds 3-6 (another program's
    # build); in round 5 the build paused between the baseline's turn and the candidate's. The
    # per-round ratios stay at 1.25 but one; the ratio of the two medians is 3.75.
    load_base = np.array([1, 1, 3, 3, 3, 3, 1], dtype=float)
    load_cand = np.array([1, 1, 3, 3, 1, 3, 1], dtype=float)
    noise = np.array([1.0, 1.01, 0.99, 1.02, 1.0, 0.98, 1.01])
    base = (10.0 * load_base * noise).tolist()
    cand = (8.0 * load_cand * noise).tolist()
    paired = float(np.median(np.array(base) / np.array(cand)))
    ratio_of_medians = float(np.median(base) / np.median(cand))
    assert abs(paired - ratio_of_medians) > 0.05, (paired, ratio_of_medians)
    return {"summaries": cases, "paired": {"baseline": base, "candidate": cand, "speedup": paired,
                                           "ratio_of_medians": ratio_of_medians}}


def percentile_cases():
    rng = np.random.default_rng(SEED + 2)
    cases = []
    for n in [1, 5, 37, 100, 1000]:
        v = rng.lognormal(3.0, 0.6, n)
        qs = [0.0, 0.5, 0.9, 0.99, 1.0]
        cases.append({"latencies": v.tolist(), "q": qs,
                      "want": [float(np.percentile(v, 100 * q, method="inverted_cdf")) for q in qs]})
    return cases


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="tests/fixtures/exercises")
    args = p.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    out = {
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "flops": flops_cases(),
        "epilogue": epilogue_cases(),
        "quantize": quantize_case(),
        "stats": stats_cases(),
        "percentile": percentile_cases(),
    }
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", os.path.join(args.out, "cases.json"))


if __name__ == "__main__":
    main()
