"""Inside a host process: pickling, the GIL, the thread pool's size and place, fork."""

import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import time

import numpy as np

import nanobert
from conftest import CKPT

TEXTS = [f"sentence number {i}: " + "the cat sat on the mat " * (1 + i % 5) for i in range(64)]


def test_pickle_is_path_and_settings():
    m = nanobert.SentenceTransformer(CKPT / "st-prompt", threads=1, truncate_dim=8, prompts={"q": "question: "})
    blob = pickle.dumps(m)
    assert len(blob) < 2000, f"a pickle should hold the path and settings, not weights: {len(blob)} bytes"
    m2 = pickle.loads(blob)
    assert (m2.path, m2.threads, m2.truncate_dim, m2.prompts) == (m.path, 1, 8, m.prompts)
    assert np.array_equal(m2.encode(TEXTS[:3], prompt_name="q"), m.encode(TEXTS[:3], prompt_name="q"))
    ce = pickle.loads(pickle.dumps(nanobert.CrossEncoder(CKPT / "head-rerank")))
    assert ce.num_labels == 1
    fm = pickle.loads(pickle.dumps(nanobert.FillMask(CKPT.parent / "tiny-bert", top_k=3)))
    assert len(fm("The capital of France is [MASK].")) == 3


def test_gil_released_during_encode(minilm):
    texts = TEXTS * 4
    minilm.encode(texts[:2])
    ticks = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=count)
    t.start()
    time.sleep(0.05)
    before = ticks[0]
    start = time.perf_counter()
    minilm.encode(texts)
    seconds = time.perf_counter() - start
    during = ticks[0] - before
    stop.set()
    t.join()
    # With the GIL held the counter would stand still for the whole encode.
    assert seconds > 0.05, f"encode too short to tell ({seconds:.3f} s)"
    assert during > 1000, f"the Python thread ran only {during} iterations during a {seconds:.2f} s encode"


CHILD = r"""
import os, sys, json
import nanobert
def nanobert_threads():
    names = []
    for t in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{t}/comm") as f:
            names.append(f.read().strip())
    return names
before = len(os.listdir("/proc/self/task"))
m = nanobert.SentenceTransformer(sys.argv[1])
m.encode(["a text to embed"] * 40)
names = nanobert_threads()
print(json.dumps({"threads": m.threads, "rule": nanobert.resolve_threads(), "before": before,
                  "after": len(names), "pool": sorted(n for n in names if n.startswith("nanobert-"))}))
"""


def run_child(env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "RAYON_NUM_THREADS")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", CHILD, str(CKPT / "st-mean")], env=env, capture_output=True,
                         text=True, check=True)
    import json

    return json.loads(out.stdout)


def test_thread_count_follows_omp_num_threads():
    r = run_child({"OMP_NUM_THREADS": "1"})
    assert r["threads"] == 1 and r["rule"] == [1, "OMP_NUM_THREADS"], r
    # One pool thread, and no other thread started (rayon's global pool would add one per CPU).
    assert r["pool"] == ["nanobert-0"], r
    assert r["after"] - r["before"] == 1, r


def test_thread_count_rules_in_order():
    assert run_child({"OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "2"})["rule"] == [2, "RAYON_NUM_THREADS"]
    r = run_child({})
    assert r["rule"] == [nanobert.physical_cores(), "physical cores"], r
    assert len(r["pool"]) == nanobert.physical_cores(), r
    assert nanobert.resolve_threads(3) == (3, "threads=")


def _encode_in_child(q, m):
    q.put(m.encode(["forked and still working"]).tolist())


def test_fork_after_use():
    m = nanobert.SentenceTransformer(CKPT / "st-mean", threads=2)
    want = m.encode(["forked and still working"])  # the pool exists in the parent now
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_encode_in_child, args=(q, m))
    p.start()
    got = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0
    assert np.array_equal(np.asarray(got, dtype=np.float32), want)
