#!/usr/bin/env python3
"""The other runtimes for `nanobert bench --compare`: PyTorch eager, torch.compile, ONNX Runtime
and sentence-transformers, on the very checkpoint nanobert runs.

nanobert starts this script and drives it over stdin/stdout, one JSON object per line, so that
it can interleave runtimes (nanobert, torch, onnxruntime, nanobert, torch, ...) and every
runtime sees the same background load. Human-readable progress goes to stderr.

Start-up (arguments):
    --model DIR          checkpoint directory (config.json, model.safetensors, tokenizer files)
    --inputs FILE        safetensors written by nanobert: `ids_<case>` / `mask_<case>` (int64
                         [batch, seq]) for every timed case, `check_ids`, `check_mask` and
                         nanobert's `check_hidden` ([batch, seq, hidden]) for the output check,
                         `check_embeddings` for the first sentences of the corpus
    --corpus FILE        one sentence per line (for sentence-transformers)
    --threads N          threads for every runtime (torch.set_num_threads, ORT intra-op)
    --runtimes LIST      comma-separated: torch, torch_compile, onnxruntime, sentence_transformers,
                         and the lowered-precision ones: torch_int8 (torch.ao quantize_dynamic,
                         per-tensor qint8 Linear), torch_bf16 (weights and activations in bf16),
                         onnxruntime_int8 (onnxruntime.quantization.quantize_dynamic, per-channel)
    --onnx-dir DIR       where the exported ONNX model is cached
    --loose              nanobert runs in lowered precision: accept outputs whose min cosine
                         against ours is above 0.8 (timed anyway: the check table says how close)

Then it prints one line per runtime check:
    {"check": "torch", "ok": true, "max_abs_diff": ..., "min_cosine": ..., "version": "..."}
(or {"check": ..., "ok": false, "error": "..."}: that runtime is left out), then
    {"ready": true}
and answers commands read from stdin:
    {"time": "torch", "case": "8x128", "reps": 3}   -> {"times": [seconds, ...]}
    {"time": "sentence_transformers", "case": "corpus", "reps": 1} -> {"times": [...]}
    {"quit": true}

Needs the packages pinned in scripts/requirements-bench.txt.
"""

import argparse
import json
import os
import sys
import time


def log(msg):
    print(f"[bench_compare] {msg}", file=sys.stderr, flush=True)


# The protocol gets its own copy of stdout; fd 1 itself goes to stderr, so that whatever a
# library prints (the ONNX exporter's progress, C++ logs) cannot break a JSON line.
_PROTO = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr


def reply(obj):
    _PROTO.write(json.dumps(obj) + "\n")
    _PROTO.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--corpus")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--runtimes", default="torch,onnxruntime,sentence_transformers")
    ap.add_argument("--onnx-dir", required=True)
    ap.add_argument("--loose", action="store_true")
    args = ap.parse_args()

    try:
        import numpy as np
        import torch
        from safetensors.numpy import load_file
        from transformers import AutoModel
    except ImportError as e:
        reply({"fatal": f"missing Python package: {e}. Install: python3 -m pip install -r scripts/requirements-bench.txt"})
        return 1

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process
    torch.manual_seed(0)

    inputs = load_file(args.inputs)
    cases = sorted(k[len("ids_"):] for k in inputs if k.startswith("ids_"))
    log(f"torch {torch.__version__}, {args.threads} threads; cases {cases}")
    model = AutoModel.from_pretrained(args.model, attn_implementation="eager").eval()
    runners = {}

    def torch_runner(m):
        def run(ids, mask):
            with torch.inference_mode():
                out = m(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
                return out.float().numpy()
        return run

    def check(name, run, version):
        """Our output against theirs on the check batch (real tokens only)."""
        ids, mask, ours = inputs["check_ids"], inputs["check_mask"], inputs["check_hidden"]
        theirs = np.asarray(run(ids, mask), dtype=np.float32)
        keep = mask.astype(bool)
        a, b = ours[keep], theirs[keep]
        diff = float(np.max(np.abs(a - b)))
        cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
        if args.loose:
            ok = bool(np.isfinite(diff) and float(np.min(cos)) > 0.8)
        else:
            ok = bool(np.isfinite(diff) and diff < 1e-3 and float(np.min(cos)) > 0.9999)
        reply({"check": name, "ok": ok, "max_abs_diff": diff, "min_cosine": float(np.min(cos)), "version": version})
        return ok

    wanted = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    for name in wanted:
        try:
            if name == "torch":
                run = torch_runner(model)
                version = f"torch {torch.__version__} eager"
            elif name == "torch_compile":
                compiled = torch.compile(model, dynamic=False)
                run = torch_runner(compiled)
                version = f"torch {torch.__version__} compile (inductor)"
                log("torch.compile: compiling every case once (slow)...")
                for c in cases:
                    run(inputs[f"ids_{c}"], inputs[f"mask_{c}"])
            elif name == "torch_int8":
                qmodel = torch.ao.quantization.quantize_dynamic(
                    AutoModel.from_pretrained(args.model, attn_implementation="eager").eval(),
                    {torch.nn.Linear},
                    dtype=torch.qint8,
                )
                run = torch_runner(qmodel)
                version = f"torch {torch.__version__} quantize_dynamic (qint8 Linear, per-tensor)"
            elif name == "torch_bf16":
                bmodel = AutoModel.from_pretrained(args.model, attn_implementation="eager").eval().to(torch.bfloat16)
                run = torch_runner(bmodel)
                version = f"torch {torch.__version__} bf16 weights and activations"
            elif name == "onnxruntime":
                run, version = make_ort(model, args, inputs, cases)
            elif name == "onnxruntime_int8":
                run, version = make_ort(model, args, inputs, cases, int8=True)
            elif name == "sentence_transformers":
                run, version = make_st(args, inputs)
                if run is None:
                    continue
                runners[name] = run
                continue
            else:
                reply({"check": name, "ok": False, "error": f"unknown runtime {name}"})
                continue
            if check(name, run, version):
                # One untimed run per case: allocations, lazy initialization.
                for c in cases:
                    run(inputs[f"ids_{c}"], inputs[f"mask_{c}"])
                runners[name] = run
        except Exception as e:  # a runtime that fails is reported and left out
            reply({"check": name, "ok": False, "error": f"{type(e).__name__}: {e}"[:500]})
    reply({"ready": True})

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("quit"):
            break
        name, case, reps = cmd["time"], cmd["case"], int(cmd.get("reps", 1))
        run = runners.get(name)
        if run is None:
            reply({"error": f"runtime {name} is not available"})
            continue
        times = []
        for _ in range(reps):
            if case == "corpus":
                t = time.perf_counter()
                run(None, None)
            else:
                ids, mask = inputs[f"ids_{case}"], inputs[f"mask_{case}"]
                t = time.perf_counter()
                run(ids, mask)
            times.append(time.perf_counter() - t)
        reply({"times": times})
    return 0


def make_ort(model, args, inputs, cases, int8=False):
    """Exports the model to ONNX once (cached in --onnx-dir) and opens it with all graph
    optimizations and the requested threads. `int8`: ONNX Runtime's dynamic quantization of
    that export (int8 per-channel weights, activations quantized at run time), cached too."""
    import numpy as np
    import onnxruntime as ort
    import torch

    os.makedirs(args.onnx_dir, exist_ok=True)
    path = os.path.join(args.onnx_dir, "model.onnx")
    stamp = os.path.join(args.onnx_dir, "source.txt")
    source = os.path.abspath(os.path.join(args.model, "model.safetensors"))
    source += f" {os.path.getmtime(source)}"
    if not (os.path.exists(path) and os.path.exists(stamp) and open(stamp).read() == source):
        log(f"exporting {args.model} to {path} ...")
        ids = torch.from_numpy(inputs["check_ids"])
        mask = torch.from_numpy(inputs["check_mask"])

        class Wrap(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask):
                return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        batch = torch.export.Dim("batch", min=1, max=1024)
        seq = torch.export.Dim("seq", min=2, max=512)
        torch.onnx.export(
            Wrap(model).eval(),
            (ids, mask),
            path,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
            opset_version=18,
            dynamo=True,
        )
        with open(stamp, "w") as f:
            f.write(source)
    version = f"onnxruntime {ort.__version__} (CPU, graph optimizations all)"
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        qpath = os.path.join(args.onnx_dir, "model.int8.onnx")
        qstamp = os.path.join(args.onnx_dir, "source.int8.txt")
        if not (os.path.exists(qpath) and os.path.exists(qstamp) and open(qstamp).read() == source):
            log(f"quantizing {path} to {qpath} (dynamic int8, per-channel) ...")
            quantize_dynamic(path, qpath, weight_type=QuantType.QInt8, per_channel=True)
            with open(qstamp, "w") as f:
                f.write(source)
        path = qpath
        version = f"onnxruntime {ort.__version__} quantize_dynamic (int8 per-channel weights)"
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    def run(ids, mask):
        return sess.run(None, {"input_ids": ids.astype(np.int64), "attention_mask": mask.astype(np.int64)})[0]

    return run, version


def make_st(args, inputs):
    """sentence-transformers' encode on the corpus (tokenization, batches of 32, pooling),
    checked against nanobert's embeddings of the first sentences."""
    import numpy as np
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    if not args.corpus:
        reply({"check": "sentence_transformers", "ok": False, "error": "no --corpus given"})
        return None, None
    with open(args.corpus) as f:
        corpus = [line.rstrip("\n") for line in f if line.strip()]
    st = SentenceTransformer(args.model, device="cpu")
    ours = inputs.get("check_embeddings")
    if ours is not None:
        theirs = st.encode(corpus[: len(ours)], batch_size=32, convert_to_numpy=True)
        cos = np.sum(ours * theirs, axis=1) / (
            np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1) + 1e-30
        )
        diff = float(np.max(np.abs(ours - theirs)))
        ok = bool(np.isfinite(diff) and float(np.min(cos)) > 0.9999)
        reply({
            "check": "sentence_transformers",
            "ok": ok,
            "max_abs_diff": diff,
            "min_cosine": float(np.min(cos)),
            "version": f"sentence-transformers {sentence_transformers.__version__}",
        })
        if not ok:
            return None, None
    st.encode(corpus[:64], batch_size=32)  # warm-up

    def run(_ids, _mask):
        return st.encode(corpus, batch_size=32, convert_to_numpy=True)

    return run, None


if __name__ == "__main__":
    sys.exit(main())
