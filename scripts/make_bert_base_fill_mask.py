"""The real bert-base-uncased top-5 for the fill-mask chapter, as transformers' pipeline prints it.

Takes the Hub id (downloaded into the Hugging Face cache, which nanobert's `--model
bert-base-uncased` shares) or a checkpoint directory:

    python3 scripts/make_bert_base_fill_mask.py bert-base-uncased

Writes tests/fixtures/fill-mask/bert-base-uncased-fill-mask.json, which the ignored test
`bert_base_uncased_fill_mask_matches_transformers` (tests/bert.rs) compares with nanobert:
    NANOBERT_BERT_BASE=bert-base-uncased cargo test --release --test bert -- --ignored
"""

import argparse
import hashlib
import json
from pathlib import Path

import torch
import transformers

TEXTS = ["Paris is the [MASK] of France.", "The man worked as a [MASK].", "Hello I'm a [MASK] model."]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model", help="bert-base-uncased (a Hub id) or its checkpoint directory")
    p.add_argument("--out", type=Path, default=Path("tests/fixtures/fill-mask/bert-base-uncased-fill-mask.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    pipe = transformers.pipeline("fill-mask", model=str(args.model), device="cpu", top_k=5)
    results = []
    for text in TEXTS:
        top = pipe(text)
        results.append({"text": text, "top": [
            {"id": int(c["token"]), "token_str": c["token_str"], "score": float(c["score"])} for c in top]})
        print(text)
        for c in top:
            print(f"    {c['token_str']:<15} {c['token']:>6}  {c['score']:.4f}")
    weights = Path(args.model) / "model.safetensors"
    if not Path(args.model).is_dir():
        import huggingface_hub

        weights = Path(huggingface_hub.hf_hub_download(args.model, "model.safetensors"))
    out = {
        "model": "bert-base-uncased",
        "model_safetensors_sha256": hashlib.sha256(weights.read_bytes()).hexdigest() if weights.exists() else None,
        "top_k": 5,
        "how": "transformers.pipeline('fill-mask', top_k=5) on each text alone; score = softmax over the vocabulary",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "results": results,
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
