"""Time sentence-transformers' all-MiniLM-L6-v2 on the lines of a text file: best of 5 runs, in
process, batch size 32 -- the PyTorch side of examples/time_embeddings.rs.

    HF_HUB_OFFLINE=1 python3 scripts/time_sentence_transformers.py [texts.txt] [threads] [model_dir]

texts.txt defaults to examples/data/sentences.txt (shipped). Needs the pinned packages of
scripts/requirements.txt.

model_dir defaults to nanobert's cache ($NANOBERT_HOME or ~/.cache/nanobert).
"""
import os
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "examples", "data", "sentences.txt")
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
home = os.environ.get("NANOBERT_HOME", os.path.expanduser("~/.cache/nanobert"))
model_dir = sys.argv[3] if len(sys.argv) > 3 else os.path.join(home, "models", "all-MiniLM-L6-v2")

torch.set_num_threads(threads)
model = SentenceTransformer(model_dir, device="cpu")
texts = [line.rstrip("\n") for line in open(path) if line.strip()]
model.encode(texts[:2])  # warm-up
best = float("inf")
for _ in range(5):
    t = time.perf_counter()
    model.encode(texts, batch_size=32)
    best = min(best, time.perf_counter() - t)
print(f"sentence-transformers (torch {torch.__version__}, {threads} threads): "
      f"best of 5 = {best * 1e3:.0f} ms for {len(texts)} texts")
