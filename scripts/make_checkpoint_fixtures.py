#!/usr/bin/env python3
"""The checkpoint test matrix: tiny model directories in every shape people publish, with the answers
transformers / sentence-transformers give on them. nanobert's tests (tests/checkpoints.rs) load each
directory and must reproduce the answers; Python is not needed to run them.

What it writes under tests/fixtures/checkpoints/ (well under 2 MB in total):

  vocab-uncased.txt, vocab-cased.txt   a 400-token slice of bert-base-uncased's vocab.txt (specials, characters,
                                       ## pieces, the words of the test texts); the cased one adds capitalized words
  st-<case>/                           sentence-transformers models saved by SentenceTransformer.save():
      modules.json, 1_Pooling/config.json, 2_Dense/..., config_sentence_transformers.json,
      sentence_bert_config.json, config.json, model.safetensors, tokenizer files
  st-<case>.expected.json              texts (+ prompt name) -> SentenceTransformer.encode() vectors
  head-<kind>/                         BertForSequenceClassification / BertForTokenClassification /
                                       BertForQuestionAnswering saved by save_pretrained, with id2label
  head-<kind>.expected.json            inputs, token ids, logits, str(model), pipeline answers
  tokenizer-cases.json                 tokenizer_config.json variants (+ tokenizer.json patches) over the real
                                       uncased vocab (tests/fixtures/tiny-bert/vocab.txt) -> AutoTokenizer's ids
  VERSIONS.txt                         versions, seed, command

Run (CPU only, offline, ~20 s):

    HF_HUB_OFFLINE=1 python3 scripts/make_checkpoint_fixtures.py --out tests/fixtures/checkpoints

with the packages of scripts/requirements.txt installed. Every random draw comes from SEED; torch runs on one
thread; re-running gives the same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
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
from sentence_transformers import CrossEncoder, SentenceTransformer  # noqa: E402
from sentence_transformers.models import Dense, Normalize, Pooling, Transformer  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer,
    BertConfig,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertTokenizer,
    pipeline,
)

SEED = 20261130
MAX_TOTAL_BYTES = 2 * 1024 * 1024
REPO = Path(__file__).resolve().parent.parent
FULL_VOCAB = REPO / "tests/fixtures/tiny-bert/vocab.txt"
FULL_TOKENIZER_JSON = REPO / "tests/fixtures/tiny-bert/tokenizer.json"

WORDS = """the a an is are was of in on at to and or for with from by this that what who where how why when
man woman people cat dog sat mat eating food bread paris france berlin germany capital city lives live works
work john mary smith google search engine fast slow good bad great terrible movie film book hello world query
passage answer question old years you i am it he she we they cafe naive tokyo river bank money fox quick brown
jumps over lazy night day sun moon rain""".split()
TAILS = "s ing ed er ly est".split()

ST_TEXTS = [
    "Hello world",
    "The cat sat on the mat.",
    "A man is eating bread in Paris!",
    "dog",
]
CASED_TEXTS = ["Hello World", "John works at Google in Berlin.", "the Moon"]


def log(msg: str) -> None:
    print(msg, flush=True)


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, indent=1, ensure_ascii=False) + "\n")


def floats(t: torch.Tensor) -> list:
    return t.detach().to(torch.float64).tolist()


# ----------------------------------------------------------------------------------------------- vocab + models


def small_vocab(cased: bool) -> list[str]:
    full = FULL_VOCAB.read_text(encoding="utf-8").split("\n")
    full_set = set(full)
    out = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-:;()\"/")
    out += chars
    out += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    # "##s" is both a character piece and a tail: listed twice, the tokenizer would keep the
    # later line's id and leave a hole, so the last word's id (len(vocab)) would fall off the
    # end of an embedding table sized len(tok.get_vocab()).
    out += ["##" + t for t in TAILS if "##" + t not in out]
    for w in WORDS:
        assert w in full_set, w
        if w not in out:
            out.append(w)
    if cased:
        out += list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        out += [w.capitalize() for w in WORDS if w.capitalize() not in out]
    assert len(set(out)) == len(out), "a token listed twice leaves a hole in the ids"
    return out


def write_vocab(path: Path, tokens: list[str]) -> None:
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")


def tiny_config(vocab_size: int, **extra) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=40,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        hidden_act="gelu",
        pad_token_id=0,
        **extra,
    )


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Re-draws every parameter so that outputs are far from the degenerate init (biases and LayerNorm
    weights too, so a loader that forgets one is caught)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.35)
            elif "LayerNorm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))


def tokenizer_dir(tmp: Path, cased: bool) -> Path:
    d = tmp / ("tok-cased" if cased else "tok-uncased")
    if not d.exists():
        d.mkdir(parents=True)
        write_vocab(d / "vocab.txt", small_vocab(cased))
        write_json(d / "tokenizer_config.json", {"do_lower_case": not cased, "tokenizer_class": "BertTokenizer"})
        write_json(d / "config.json", {"model_type": "bert"})
    return d


def hf_base(tmp: Path, cased: bool, seed: int) -> Path:
    """A tiny random BertModel + tokenizer saved by transformers, for sentence-transformers to wrap."""
    d = tmp / f"base-{'cased' if cased else 'uncased'}-{seed}"
    if d.exists():
        return d
    tok = BertTokenizer.from_pretrained(str(tokenizer_dir(tmp, cased)))
    torch.manual_seed(seed)
    model = BertModel(tiny_config(len(tok.get_vocab()))).eval()
    randomize(model, seed)
    model.save_pretrained(str(d))
    tok.save_pretrained(str(d))
    return d


# ----------------------------------------------------------------------------------------------- sentence-transformers

ST_CASES = [
    # name, kwargs
    ("st-cls", dict(pooling="cls")),
    ("st-mean", dict(pooling="mean")),
    ("st-max", dict(pooling="max")),
    # similarity_fn_name other than cosine on unnormalized models: model.similarity ranks by it
    ("st-mean-sqrt-len", dict(pooling="mean_sqrt_len_tokens", similarity="dot")),
    ("st-weightedmean", dict(pooling="weightedmean", similarity="euclidean")),
    ("st-lasttoken", dict(pooling="lasttoken", similarity="manhattan")),
    # several modes at once, in the order the config lists them (new format)
    ("st-multi", dict(pooling=("max", "cls", "mean_sqrt_len_tokens"), normalize=True)),
    # the legacy boolean format: concatenated in sentence-transformers' fixed order cls, max, mean, ...
    (
        "st-multi-legacy",
        dict(
            pooling="mean",
            legacy_pooling={
                "pooling_mode_cls_token": True,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": True,
                "pooling_mode_mean_sqrt_len_tokens": False,
                "pooling_mode_weightedmean_tokens": True,
                "pooling_mode_lasttoken": False,
            },
        ),
    ),
    # Dense after pooling: a Tanh projection to another width, then an identity one with a residual, then Normalize
    (
        "st-dense",
        dict(
            pooling="mean",
            dense=[(16, 12, "tanh", False), (12, 6, None, True)],
            normalize=True,
        ),
    ),
    # prompts + include_prompt=False + a default prompt
    (
        "st-prompt",
        dict(
            pooling="mean",
            include_prompt=False,
            prompts={"query": "query: ", "passage": "passage: "},
            default_prompt_name="query",
        ),
    ),
    ("st-prompt-cls", dict(pooling=("cls", "lasttoken"), include_prompt=False, prompts={"query": "what is "})),
    # sentence_bert_config.json do_lower_case on a cased tokenizer, and a short max_seq_length
    ("st-lowercase", dict(pooling="mean", cased=True, sentence_bert_config={"max_seq_length": 6, "do_lower_case": True})),
    ("st-cased", dict(pooling="mean", cased=True)),
    # sentence_bert_config.json tokenizer_args (the name of sentence-transformers <= 5; 6 calls it processor_kwargs):
    # passed to AutoTokenizer.from_pretrained, so they override tokenizer_config.json (here: a cased tokenizer made
    # to lowercase, and a shorter model_max_length)
    (
        "st-tokenizer-args",
        dict(
            pooling="mean",
            cased=True,
            sentence_bert_config={"tokenizer_args": {"do_lower_case": True, "model_max_length": 7}},
        ),
    ),
    # the other activations sentence-transformers loads by torch class name: ReLU on a Dense without bias, Sigmoid
    # with a same-width residual (adds x), GELU (exact) with a residual projection; after max pooling, no Normalize
    (
        "st-dense-activations",
        dict(
            pooling="max",
            dense=[(16, 10, "relu", False, False), (10, 10, "sigmoid", True), (10, 7, "gelu", True)],
        ),
    ),
    # the layout of sentence-transformers < 2: the Transformer's files in 0_Transformer/, not in the root
    ("st-subfolder", dict(pooling="mean", normalize=True, transformer_subfolder=True)),
]


def make_st(out: Path, tmp: Path, name: str, spec: dict, seed: int) -> None:
    cased = spec.get("cased", False)
    base = hf_base(tmp, cased, SEED)
    transformer = Transformer(str(base))
    modules = [transformer]
    dim = transformer.get_embedding_dimension()
    modules.append(Pooling(dim, pooling_mode=spec["pooling"], include_prompt=spec.get("include_prompt", True)))
    torch.manual_seed(seed)
    for i, (fin, fout, act, residual, *bias) in enumerate(spec.get("dense", [])):
        act_fn = {
            "tanh": torch.nn.Tanh(),
            "relu": torch.nn.ReLU(),
            "sigmoid": torch.nn.Sigmoid(),
            "gelu": torch.nn.GELU(),
            None: torch.nn.Identity(),
        }[act]
        d = Dense(fin, fout, bias=bias[0] if bias else True, activation_function=act_fn, use_residual=residual)
        randomize(d, seed + 10 + i)
        modules.append(d)
    if spec.get("normalize"):
        modules.append(Normalize())
    model = SentenceTransformer(
        modules=modules,
        prompts=spec.get("prompts"),
        default_prompt_name=spec.get("default_prompt_name"),
        similarity_fn_name=spec.get("similarity"),
        device="cpu",
    )
    d = out / name
    shutil.rmtree(d, ignore_errors=True)
    model.save(str(d))
    (d / "README.md").unlink(missing_ok=True)  # a generated model card, not needed
    if "sentence_bert_config" in spec:
        # sentence-transformers 6 no longer writes max_seq_length / do_lower_case here (it keeps the length in
        # tokenizer_config.json), but every model saved by versions 2-5 has them, and 6 still honours them.
        write_json(d / "sentence_bert_config.json", spec["sentence_bert_config"])
    if spec.get("transformer_subfolder"):
        sub = d / "0_Transformer"
        sub.mkdir()
        for f in list(d.iterdir()):
            if f.is_file() and f.name not in ("modules.json", "config_sentence_transformers.json"):
                f.rename(sub / f.name)
        mods = json.loads((d / "modules.json").read_text())
        mods[0]["path"] = "0_Transformer"
        write_json(d / "modules.json", mods)
    if "legacy_pooling" in spec:
        pool_dir = next(p for p in d.iterdir() if p.name.endswith("_Pooling"))
        cfg = {"word_embedding_dimension": dim, **spec["legacy_pooling"]}
        write_json(pool_dir / "config.json", cfg)
    # Reload from disk: the expected values are what a user loading the directory gets.
    loaded = SentenceTransformer(str(d), device="cpu")
    texts = CASED_TEXTS if cased else ST_TEXTS
    runs = []
    prompt_names = [None] + list((spec.get("prompts") or {}).keys())
    for pn in prompt_names:
        with torch.no_grad():
            emb = loaded.encode(texts, prompt_name=pn, convert_to_tensor=True, batch_size=8)
        tok = loaded[0].tokenizer
        prompt = loaded._resolve_prompt(None, pn) if hasattr(loaded, "_resolve_prompt") else None
        full = [(prompt or "") + t for t in texts]
        ids = [tok(t, truncation=True)["input_ids"] for t in full]
        runs.append(
            {
                "prompt_name": pn,
                "prompt": prompt,
                "texts": texts,
                "input_ids": ids,
                "embeddings": floats(emb),
            }
        )
    # model.similarity(query, docs) with the model's similarity function, on the default-prompt run
    first = torch.tensor(runs[0]["embeddings"])
    with torch.no_grad():
        sims = loaded.similarity(first[:1], first[1:])[0]
    similarity = {"fn": str(loaded.similarity_fn_name), "query": texts[0], "docs": texts[1:], "scores": floats(sims)}
    modules_json = json.loads((d / "modules.json").read_text())
    write_json(
        out / f"{name}.expected.json",
        {
            "model": name,
            "modules": [m["type"] for m in modules_json],
            "embedding_dimension": loaded.get_embedding_dimension(),
            "runs": runs,
            "similarity": similarity,
        },
    )
    log(f"  {name}: dim {loaded.get_embedding_dimension()}, modules {[m['type'].split('.')[-1] for m in modules_json]}")


# ----------------------------------------------------------------------------------------------- heads

CLS_TEXTS = ["This movie was great!", "terrible film", "The cat sat on the mat."]
CLS_PAIRS = [("who lives in paris?", "john lives in paris."), ("hello", "good night")]
NER_TEXTS = ["John Smith works at Google in Berlin.", "mary lives in paris", "Zürich rains"]
QA_INPUTS = [
    ("Where does John live?", "John lives in Paris and works at Google."),
    ("Who works at Google?", "Mary works at Google in Berlin."),
]
MAX_ANSWER_LEN = 15
RERANK_QUERY = "where is the capital of france?"
RERANK_DOCS = ["paris is the capital of france.", "the cat sat on the mat.", "berlin is a city in germany."]


def head_model(cls, tmp: Path, out: Path, name: str, seed: int, cased: bool, **cfg_extra):
    tok = BertTokenizer.from_pretrained(str(tokenizer_dir(tmp, cased)))
    torch.manual_seed(seed)
    model = cls(tiny_config(len(tok.get_vocab()), **cfg_extra)).eval()
    randomize(model, seed)
    d = out / name
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(str(d))
    tok.save_pretrained(str(d))
    model = cls.from_pretrained(str(d), attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(str(d))
    return model, tok, d


def enc(tok, texts, pairs=None):
    if pairs is None:
        return tok(texts, padding=True, truncation=True, return_tensors="pt")
    return tok([a for a, _ in pairs], [b for _, b in pairs], padding=True, truncation=True, return_tensors="pt")


def batch_json(b) -> dict:
    return {k: b[k].tolist() for k in ("input_ids", "attention_mask", "token_type_ids")}


def make_heads(out: Path, tmp: Path) -> None:
    labels = {0: "negative", 1: "neutral", 2: "positive"}
    model, tok, _ = head_model(
        BertForSequenceClassification, tmp, out, "head-seqcls", SEED + 100, False,
        num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()},
    )
    with torch.no_grad():
        b1, b2 = enc(tok, CLS_TEXTS), enc(tok, None, CLS_PAIRS)
        l1, l2 = model(**b1).logits, model(**b2).logits
    clf = pipeline("text-classification", model=model, tokenizer=tok, device="cpu", top_k=None)
    write_json(out / "head-seqcls.expected.json", {
        "architecture": "BertForSequenceClassification",
        "texts": CLS_TEXTS, "batch": batch_json(b1), "logits": floats(l1),
        "pairs": CLS_PAIRS, "pair_batch": batch_json(b2), "pair_logits": floats(l2),
        "pipeline": clf(CLS_TEXTS),
        "print": str(model),
    })
    log(f"  head-seqcls: logits {tuple(l1.shape)}")

    # Cross-encoder reranker: one logit per (query, document), sigmoid on top (CrossEncoder's default).
    model, tok, d = head_model(BertForSequenceClassification, tmp, out, "head-rerank", SEED + 200, False, num_labels=1)
    ce = CrossEncoder(str(d), device="cpu")
    pairs = [(RERANK_QUERY, doc) for doc in RERANK_DOCS]
    with torch.no_grad():
        b = enc(tok, None, pairs)
        logits = model(**b).logits
        scores = ce.predict(pairs, convert_to_tensor=True)
    ranks = ce.rank(RERANK_QUERY, RERANK_DOCS)
    write_json(out / "head-rerank.expected.json", {
        "architecture": "BertForSequenceClassification",
        "query": RERANK_QUERY, "docs": RERANK_DOCS, "batch": batch_json(b),
        "logits": floats(logits), "scores": floats(scores),
        "rank": [{"corpus_id": int(r["corpus_id"]), "score": float(r["score"])} for r in ranks],
        "print": str(model),
    })
    log(f"  head-rerank: scores {[round(float(s), 4) for s in scores]}")

    # problem_type decides the pipeline's function: sigmoid per label (multi-label), none (regression)
    for name, seed, extra in [
        ("head-multilabel", SEED + 250, dict(num_labels=3, problem_type="multi_label_classification",
                                              id2label={0: "sports", 1: "politics", 2: "science"},
                                              label2id={"sports": 0, "politics": 1, "science": 2})),
        ("head-regression", SEED + 260, dict(num_labels=1, problem_type="regression")),
    ]:
        model, tok, _ = head_model(BertForSequenceClassification, tmp, out, name, seed, False, **extra)
        with torch.no_grad():
            b = enc(tok, CLS_TEXTS)
            logits = model(**b).logits
        clf = pipeline("text-classification", model=model, tokenizer=tok, device="cpu", top_k=None)
        write_json(out / f"{name}.expected.json", {
            "architecture": "BertForSequenceClassification", "problem_type": extra["problem_type"],
            "texts": CLS_TEXTS, "batch": batch_json(b), "logits": floats(logits),
            "pipeline": clf(CLS_TEXTS),
            "print": str(model),
        })
        log(f"  {name}: {clf(CLS_TEXTS[:1])}")

    ner_labels = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-ORG", 4: "I-ORG", 5: "B-LOC", 6: "I-LOC"}
    model, tok, _ = head_model(
        BertForTokenClassification, tmp, out, "head-ner", SEED + 300, True,
        num_labels=7, id2label=ner_labels, label2id={v: k for k, v in ner_labels.items()},
    )
    # A random encoder gives nearly the same vector at every position; a larger classifier without bias spreads
    # the labels so that grouping (B-/I-, O dropped) is exercised. Saved again so the files match.
    with torch.no_grad():
        b = enc(tok, NER_TEXTS)
        h = model.bert(**b).last_hidden_state[b["attention_mask"].bool()]
        model.classifier.weight.mul_(4.0)
        model.classifier.bias.copy_(-(model.classifier.weight @ h.mean(0)))
    model.save_pretrained(str(out / "head-ner"))
    with torch.no_grad():
        b = enc(tok, NER_TEXTS)
        logits = model(**b).logits
    ner = pipeline("token-classification", model=model, tokenizer=tok, device="cpu", aggregation_strategy="simple")
    ner_none = pipeline("token-classification", model=model, tokenizer=tok, device="cpu", aggregation_strategy="none")

    def clean(rows):
        return [{k: (float(v) if k == "score" else v) for k, v in r.items()} for r in rows]

    write_json(out / "head-ner.expected.json", {
        "architecture": "BertForTokenClassification",
        "texts": NER_TEXTS, "batch": batch_json(b), "logits": floats(logits),
        "tokens": [tok.convert_ids_to_tokens(r) for r in b["input_ids"].tolist()],
        "pipeline_simple": [clean(ner(t)) for t in NER_TEXTS],
        "pipeline_none": [clean(ner_none(t)) for t in NER_TEXTS],
        "print": str(model),
    })
    log(f"  head-ner: logits {tuple(logits.shape)}")

    model, tok, _ = head_model(BertForQuestionAnswering, tmp, out, "head-qa", SEED + 400, True)
    with torch.no_grad():
        b = enc(tok, None, QA_INPUTS)
        o = model(**b)
    # transformers 5 removed the question-answering pipeline; its span rule is re-stated here: over the context
    # tokens (token type 1, [SEP] excluded), pick start <= end < start + MAX_ANSWER_LEN maximizing
    # p_start * p_end, with p = softmax of the logits over the context tokens (as the v4 pipeline did).
    answers = []
    for i, (q, c) in enumerate(QA_INPUTS):
        e = tok(q, c, return_offsets_mapping=True)
        ctx = [j for j, (s, t) in enumerate(zip(e.sequence_ids(), e["input_ids"])) if s == 1]
        n = len(e["input_ids"])
        start = o.start_logits[i, :n].clone()
        end = o.end_logits[i, :n].clone()
        mask = torch.full((n,), True)
        mask[ctx] = False
        start[mask] = -10000.0
        end[mask] = -10000.0
        ps, pe = start.softmax(-1), end.softmax(-1)
        outer = ps[:, None] * pe[None, :]
        outer = torch.triu(outer) - torch.triu(outer, diagonal=MAX_ANSWER_LEN)
        flat = int(outer.flatten().argmax())
        s_tok, e_tok = divmod(flat, n)
        offs = e["offset_mapping"]
        s_char, e_char = offs[s_tok][0], offs[e_tok][1]
        answers.append({"score": float(outer[s_tok, e_tok]), "start": s_char, "end": e_char,
                        "answer": c[s_char:e_char], "start_token": s_tok, "end_token": e_tok})
    write_json(out / "head-qa.expected.json", {
        "architecture": "BertForQuestionAnswering",
        "inputs": QA_INPUTS, "batch": batch_json(b),
        "start_logits": floats(o.start_logits), "end_logits": floats(o.end_logits),
        "pipeline": answers,
        "print": str(model),
    })
    log(f"  head-qa: answers {[a['answer'] for a in answers]}")


# ----------------------------------------------------------------------------------------------- tokenizer settings

TOKENIZER_TEXTS = [
    "Café naïve",
    "Hello WORLD, [MASK] unbelievable!",
    "東京 is in Japan",
    "Hello\u200b wor\u0000ld\ttab",
    "I like <ent> and 😀",
]
TOKENIZER_PAIRS = [("How old are you?", "I am 12 years old.")]

TOKENIZER_CASES = [
    # name, tokenizer_config.json (None = no file), tokenizer.json: None / "copy" / {"normalizer": {...}} patch
    ("no-config", None, None),
    ("lower-keep-accents", {"do_lower_case": True, "strip_accents": False}, None),
    ("cased", {"do_lower_case": False}, None),
    ("cased-strip-accents", {"do_lower_case": False, "strip_accents": True}, None),
    ("no-chinese-split", {"tokenize_chinese_chars": False}, None),
    ("never-split", {"do_lower_case": True, "never_split": ["Hello", "unbelievable!"]}, None),
    ("max-length-6", {"model_max_length": 6}, None),
    ("special-tokens", {"unk_token": "[MASK]", "cls_token": "[SEP]"}, None),
    ("added-token", {"added_tokens_decoder": {
        "0": {"content": "[PAD]", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
              "special": True},
        "30522": {"content": "<ent>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                  "special": True},
    }}, None),
    ("truncate-left", {"model_max_length": 6, "truncation_side": "left"}, None),
    # tokenizer.json lowercases, tokenizer_config.json says cased: transformers 5 rebuilds the normalizer
    ("json-and-config-cased", {"do_lower_case": False}, {"normalizer": {"lowercase": True}}),
    # tokenizer.json does NOT lowercase, no tokenizer_config.json: BertTokenizer's default (lowercase) wins
    ("json-cased-no-config", None, {"normalizer": {"lowercase": False}}),
    # tokenizer_class PreTrainedTokenizerFast: tokenizer.json is used as it is
    ("json-fast-class", {"tokenizer_class": "PreTrainedTokenizerFast", "do_lower_case": True},
     {"normalizer": {"lowercase": False}}),
    # Legacy files, read only when tokenizer_config.json has no added_tokens_decoder (4th element: extra files).
    # special_tokens_map.json overrides the config's special tokens...
    ("special-tokens-map", {"do_lower_case": True, "cls_token": "[CLS]"}, None,
     {"special_tokens_map.json": {"unk_token": "[MASK]", "cls_token": {
         "content": "[SEP]", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}}}),
    # ... but not when added_tokens_decoder is there
    ("special-tokens-map-ignored", {"do_lower_case": True, "added_tokens_decoder": {"0": {
        "content": "[PAD]", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
        "special": True}}}, None, {"special_tokens_map.json": {"cls_token": "[SEP]"}}),
    # added_tokens.json: {token: id}, kept whole
    ("added-tokens-json", {"do_lower_case": True}, None, {"added_tokens.json": {"<ent>": 30522}}),
    # additional special tokens: kept whole, whether in the vocabulary ([unused1]) or not (<ent>, appended)
    ("additional-special-tokens", {"do_lower_case": True, "additional_special_tokens": ["[unused1]", "<ent>"]}, None),
    ("extra-special-tokens-map", {"do_lower_case": True}, None,
     {"special_tokens_map.json": {"additional_special_tokens": ["[unused2]"]}}),
]
# Tokens the legacy files above keep whole (and every other case splits).
MARKER_TEXT = "a [unused1] b [unused2] c <ent> d"


def make_tokenizer_cases(out: Path, tmp: Path) -> None:
    full_json = json.loads(FULL_TOKENIZER_JSON.read_text(encoding="utf-8"))
    cases = []
    for name, cfg, tj, *extra in TOKENIZER_CASES:
        files = extra[0] if extra else None
        d = tmp / f"tok-case-{name}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        write_json(d / "config.json", {"model_type": "bert"})
        shutil.copy(FULL_VOCAB, d / "vocab.txt")
        if cfg is not None:
            write_json(d / "tokenizer_config.json", cfg)
        if tj is not None:
            j = json.loads(json.dumps(full_json))
            for key, patch in tj.items():
                j[key].update(patch)
            write_json(d / "tokenizer.json", j)
        for fname, content in (files or {}).items():
            write_json(d / fname, content)
        tok = AutoTokenizer.from_pretrained(str(d))
        rows = []
        for t in TOKENIZER_TEXTS + [MARKER_TEXT]:
            e = tok(t, truncation=True)
            rows.append({"text": t, "ids": e["input_ids"], "tokens": tok.convert_ids_to_tokens(e["input_ids"]),
                         "type_ids": e.encodings[0].type_ids})
        for a, bb in TOKENIZER_PAIRS:
            e = tok(a, bb, truncation=True)
            rows.append({"text": a, "pair": bb, "ids": e["input_ids"],
                         "tokens": tok.convert_ids_to_tokens(e["input_ids"]), "type_ids": e.encodings[0].type_ids})
        mml = tok.model_max_length if tok.model_max_length < 10**9 else None
        extra_files = {"files": files} if files else {}
        cases.append({"name": name, "tokenizer_config": cfg, "tokenizer_json_patch": tj, **extra_files,
                      "class": type(tok).__name__, "model_max_length": mml, "rows": rows})
        log(f"  tokenizer {name}: {type(tok).__name__} {rows[0]['tokens']}")
    write_json(out / "tokenizer-cases.json", {"vocab": "tests/fixtures/tiny-bert/vocab.txt",
                                              "tokenizer_json": "tests/fixtures/tiny-bert/tokenizer.json",
                                              "cases": cases})


# ----------------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "tests/fixtures/checkpoints")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        write_vocab(out / "vocab-uncased.txt", small_vocab(False))
        write_vocab(out / "vocab-cased.txt", small_vocab(True))
        log("sentence-transformers models")
        for i, (name, spec) in enumerate(ST_CASES):
            make_st(out, tmp, name, spec, SEED + i)
        log("heads")
        make_heads(out, tmp)
        log("tokenizer settings")
        make_tokenizer_cases(out, tmp)
    (out / "VERSIONS.txt").write_text(
        "\n".join([
            "# written by scripts/make_checkpoint_fixtures.py",
            f"python {platform.python_version()}",
            f"torch {torch.__version__}",
            f"transformers {transformers.__version__}",
            f"sentence-transformers {sentence_transformers.__version__}",
            f"tokenizers {tokenizers.__version__}",
            f"safetensors {safetensors.__version__}",
            f"numpy {np.__version__}",
            f"seed {SEED}",
            "command HF_HUB_OFFLINE=1 python3 scripts/make_checkpoint_fixtures.py --out tests/fixtures/checkpoints",
        ]) + "\n",
        encoding="utf-8",
    )
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"total {total / 1024:.0f} KiB in {out}")
    if total > MAX_TOTAL_BYTES:
        sys.exit(f"fixtures too large: {total} bytes > {MAX_TOTAL_BYTES}")


if __name__ == "__main__":
    main()
