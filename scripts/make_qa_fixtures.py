"""Extractive question answering as transformers' question-answering pipeline answers it.

transformers 5 removed the pipeline, so this runs the last transformers 4 release (pinned in
scripts/requirements-qa.txt, installed beside the torch of scripts/requirements.txt):

    python3 -m pip install --no-deps --target /tmp/tf4 -r scripts/requirements-qa.txt
    PYTHONPATH=/tmp/tf4 HF_HUB_OFFLINE=1 python3 scripts/make_qa_fixtures.py

The model is the random-weight BertForQuestionAnswering of tests/fixtures/checkpoints/head-qa
(written by scripts/make_checkpoint_fixtures.py). Writes tests/fixtures/pipelines/qa.json: per
case the question, the context, the pipeline's arguments, the windows the tokenizer cut
(input ids of each) and the answers, exactly as the pipeline returned them.
"""

import json
from pathlib import Path

import tokenizers
import torch
import transformers
from transformers import AutoTokenizer, BertForQuestionAnswering, pipeline

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "tests/fixtures/checkpoints/head-qa"
OUT = REPO / "tests/fixtures/pipelines/qa.json"

LONG = (
    "John lives in Paris and works at Google. Mary lives in Berlin, the capital of Germany, "
    "and works at Google too. The Parisian cafe by the riverbank sells bread. Tokyo is a city "
    "where people live and work fast. John Smith works at Google in Paris, France."
)

CASES = [
    # name, question, context, pipeline keyword arguments
    ("short", "Where does John live?", "John lives in Paris and works at Google.", {}),
    ("short-2", "Who works at Google?", "Mary works at Google in Berlin.", {}),
    ("short-top3", "Who works at Google?", "Mary works at Google in Berlin.", {"top_k": 3}),
    ("windows", "Where does John work?", LONG, {"max_seq_len": 24, "doc_stride": 8}),
    ("windows-top5", "Where does John work?", LONG, {"max_seq_len": 24, "doc_stride": 8, "top_k": 5}),
    ("windows-stride-4", "Who lives in Berlin?", LONG, {"max_seq_len": 32, "doc_stride": 4, "top_k": 3}),
    ("subwords", "What does the cafe sell?", "The Parisian cafe by the riverbank sells Googled breads.", {"top_k": 4}),
    ("subwords-no-align", "What does the cafe sell?", "The Parisian cafe by the riverbank sells Googled breads.",
     {"top_k": 4, "align_to_words": False}),
    ("impossible", "Who is the man?", "The quick brown fox jumps over the lazy dog.",
     {"top_k": 2, "handle_impossible_answer": True}),
    ("max-answer-len-3", "Where does John live?", LONG, {"max_seq_len": 24, "doc_stride": 8, "max_answer_len": 3}),
]


def main():
    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(str(MODEL))
    model = BertForQuestionAnswering.from_pretrained(str(MODEL), attn_implementation="eager").eval()
    qa = pipeline("question-answering", model=model, tokenizer=tok, device="cpu")
    cases = []
    for name, question, context, kwargs in CASES:
        out = qa(question=question, context=context, **kwargs)
        answers = out if isinstance(out, list) else [out]
        max_seq_len = kwargs.get("max_seq_len", min(tok.model_max_length, 384))
        stride = kwargs.get("doc_stride", min(max_seq_len // 2, 128))
        enc = tok(question, context, truncation="only_second", max_length=max_seq_len, stride=stride,
                  return_overflowing_tokens=True)
        cases.append({"name": name, "question": question, "context": context, "kwargs": kwargs,
                      "windows": enc["input_ids"],
                      "answers": [{"score": float(a["score"]), "start": int(a["start"]), "end": int(a["end"]),
                                   "answer": a["answer"]} for a in answers]})
        print(f"{name}: {len(enc['input_ids'])} window(s): {[(a['answer'], round(float(a['score']), 4)) for a in answers]}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "model": "tests/fixtures/checkpoints/head-qa",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__},
        "how": "transformers.pipeline('question-answering')(question=..., context=..., **kwargs); a single "
               "answer is stored as a list of one",
        "cases": cases,
    }, indent=1, ensure_ascii=False) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
