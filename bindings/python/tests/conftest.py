"""Shared paths and checks for the Python package's tests (run by .ci/run on the built wheel)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
CKPT = ROOT / "tests" / "fixtures" / "checkpoints"
HERE = Path(__file__).resolve().parent
# Every fixture value is compared within this absolute tolerance (relative for large values).
TOL = 1e-5


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 as `nanobert fetch` caches it ($NANOBERT_HOME, else ~/.cache/nanobert)."""
    home = Path(os.environ.get("NANOBERT_HOME", Path.home() / ".cache" / "nanobert"))
    return home / "models" / "all-MiniLM-L6-v2"


def load_json(path: Path):
    with open(path) as f:
        return json.load(f)


def assert_close(got, want, what: str, tol: float = TOL):
    """Same shape, no NaN, every entry within tol (relative to the value when it exceeds 1)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    assert np.all(np.isfinite(got)), f"{what}: non-finite values {got}"
    err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    assert err.max(initial=0.0) <= tol, f"{what}: max error {err.max()} > {tol}\n got {got}\n want {want}"


@pytest.fixture(scope="session")
def st_api():
    return load_json(HERE / "fixtures" / "st-api.json")


@pytest.fixture(scope="session")
def minilm():
    d = minilm_dir()
    if not (d / "model.safetensors").is_file():
        pytest.fail(f"{d}: all-MiniLM-L6-v2 is not cached; run `cargo run --release -- fetch` first")
    import nanobert

    return nanobert.SentenceTransformer(d)
