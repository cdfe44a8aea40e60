#!/usr/bin/env python3
"""What the usual tools lose: PyTorch's and ONNX Runtime's dynamic int8 quantization, and
PyTorch bf16, on all-MiniLM-L6-v2 and the sentences `nanobert bench precision` uses.

For each variant: the cosine of each sentence embedding (mean pooling + L2 normalization, as
the model card says) with the f32 PyTorch embedding (min / mean over the set, and the worst
sentence), and the Spearman correlation of all pairwise similarities. Optionally (--time) the
latency of one forward at batch 1 x 128 tokens and batch 32 x 128 for each runtime, the
runtimes interleaved round by round, on --threads threads.

    python3 scripts/quantize_baselines.py [--model DIR] [--texts FILE] [--time] [--threads 2]

Needs the packages pinned in scripts/requirements-bench.txt (torch, transformers, onnxruntime,
onnx). Prints a markdown table; numbers go in docs/lower-precision.md with this command.
"""

import argparse
import os
import platform
import sys
import tempfile
import time


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/nanobert/models/all-MiniLM-L6-v2"))
    ap.add_argument("--texts", default="tests/fixtures/precision/sentences.txt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--time", action="store_true", help="also time the runtimes (interleaved)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(args.threads)
    texts = [l.rstrip("\n") for l in open(args.texts, encoding="utf-8") if l.strip()]
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model, attn_implementation="eager").eval()

    def embed_torch(m, dtype=torch.float32):
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), 32):
                b = tok(texts[i : i + 32], padding=True, truncation=True, max_length=256, return_tensors="pt")
                h = m(**b).last_hidden_state.float()
                mask = b["attention_mask"].unsqueeze(-1).float()
                e = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(e, dim=-1).numpy())
        return np.concatenate(out)

    def embed_ort(sess):
        out = []
        names = {i.name for i in sess.get_inputs()}
        for i in range(0, len(texts), 32):
            b = tok(texts[i : i + 32], padding=True, truncation=True, max_length=256, return_tensors="np")
            feeds = {k: v.astype(np.int64) for k, v in b.items() if k in names}
            h = sess.run(None, feeds)[0]
            mask = b["attention_mask"][..., None].astype(np.float32)
            e = (h * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            out.append(e / np.linalg.norm(e, axis=1, keepdims=True))
        return np.concatenate(out)

    def ranks(x):
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(1, len(x) + 1)
        return r

    def report(name, ref, emb):
        cos = np.sum(ref * emb, axis=1)
        iu = np.triu_indices(len(ref), 1)
        s_ref, s_q = (ref @ ref.T)[iu], (emb @ emb.T)[iu]
        rho = np.corrcoef(ranks(s_ref), ranks(s_q))[0, 1]
        worst = texts[int(np.argmin(cos))][:28].replace("|", "/")
        print(f"| {name} | {cos.min():.5f} | {cos.mean():.5f} | {rho:.5f} | {worst!r} |", flush=True)

    print(f"CPU: {cpu_name()}; torch {torch.__version__}, onnxruntime {ort.__version__}; {len(texts)} texts\n")
    print("| variant | min cos | mean cos | Spearman | worst text |\n|---|---|---|---|---|")
    ref = embed_torch(model)

    # PyTorch dynamic quantization (per-tensor default, and per-channel weights).
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic as tq

    q_tensor = tq(model, {torch.nn.Linear}, dtype=torch.qint8)
    report("PyTorch quantize_dynamic, per-tensor", ref, embed_torch(q_tensor))
    q_channel = tq(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    report("PyTorch quantize_dynamic, per-channel", ref, embed_torch(q_channel))
    bf16 = AutoModel.from_pretrained(args.model, attn_implementation="eager", torch_dtype=torch.bfloat16).eval()
    report("PyTorch bf16 (weights and activations)", ref, embed_torch(bf16))

    # ONNX Runtime dynamic quantization of the exported graph.
    tmp = tempfile.mkdtemp(prefix="nanobert-ort-")
    fp32 = os.path.join(tmp, "model.onnx")
    b = tok(texts[:2], padding=True, return_tensors="pt")
    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    torch.onnx.export(
        Wrap(model).eval(),
        (b["input_ids"], b["attention_mask"]),
        fp32,
        input_names=["input_ids", "attention_mask"],
        output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}, "last_hidden_state": {0: "b", 1: "s"}},
        opset_version=17,
        dynamo=False,
    )
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    sessions = {"ORT f32": ort.InferenceSession(fp32, so, providers=["CPUExecutionProvider"])}
    for per_channel in (False, True):
        path = os.path.join(tmp, f"model-int8-{per_channel}.onnx")
        quantize_dynamic(fp32, path, weight_type=QuantType.QInt8, per_channel=per_channel)
        name = f"ONNX Runtime quantize_dynamic, per-{'channel' if per_channel else 'tensor'}"
        sessions[name] = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        report(name, ref, embed_ort(sessions[name]))

    if args.time:
        print(f"\nLatency (ms, median of {args.rounds} interleaved rounds, {args.threads} threads, this model)\n")
        print("| runtime | 1 x 128 | 32 x 128 |\n|---|---|---|")
        shapes = {"1 x 128": (1, 128), "32 x 128": (32, 128)}
        rng = np.random.default_rng(0)
        inputs = {k: rng.integers(1000, 2000, size=s).astype(np.int64) for k, s in shapes.items()}
        runs = {
            "PyTorch f32": lambda ids: model(input_ids=torch.from_numpy(ids)),
            "PyTorch int8 per-channel": lambda ids: q_channel(input_ids=torch.from_numpy(ids)),
            "PyTorch bf16": lambda ids: bf16(input_ids=torch.from_numpy(ids)),
        }
        for name, s in sessions.items():
            runs[name] = lambda ids, s=s: s.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        times = {(r, k): [] for r in runs for k in shapes}
        with torch.inference_mode():
            for _ in range(args.rounds):
                for r, f in runs.items():
                    for k, ids in inputs.items():
                        t = time.perf_counter()
                        f(ids)
                        times[(r, k)].append(time.perf_counter() - t)
        for r in runs:
            cells = [f"{1e3 * float(np.median(times[(r, k)])):.1f}" for k in shapes]
            print(f"| {r} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
