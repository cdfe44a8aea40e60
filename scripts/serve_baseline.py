#!/usr/bin/env python3
"""The Python baseline for `nanobert bench serve`: sentence-transformers behind FastAPI/uvicorn.

What a Python team would deploy first: one uvicorn worker, a synchronous FastAPI endpoint
(FastAPI runs it on its thread pool), `SentenceTransformer.encode` per request, torch limited
to the same number of threads as nanobert's compute pool. It speaks the same `POST /embed`
shape as `nanobert serve` (text-embeddings-inference's) and binds 127.0.0.1 only.

    python3 scripts/serve_baseline.py --model ~/.cache/nanobert/models/all-MiniLM-L6-v2 --port 8081 --threads 2

Requirements: scripts/requirements-bench.txt.
"""

import argparse
from typing import List, Union

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sentence_transformers import SentenceTransformer


class EmbedRequest(BaseModel):
    inputs: Union[str, List[str]]
    normalize: bool = True
    truncate: bool = False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="sentence-transformers model directory")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model = SentenceTransformer(args.model, device="cpu")
    model.eval()

    app = FastAPI()

    @app.get("/health")
    def health() -> str:
        return "ok"

    @app.post("/embed")
    def embed(req: EmbedRequest) -> List[List[float]]:
        texts = [req.inputs] if isinstance(req.inputs, str) else req.inputs
        with torch.inference_mode():
            v = model.encode(texts, normalize_embeddings=req.normalize, convert_to_numpy=True, batch_size=32)
        return v.tolist()

    # 127.0.0.1 only: this is a benchmark baseline, not a public server.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
