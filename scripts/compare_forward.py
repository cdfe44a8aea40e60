"""Compare a `nanobert forward --out FILE` result with transformers on the same token ids.

    nanobert forward --model DIR --out out.safetensors "some text" "another text"
    python3 scripts/compare_forward.py out.safetensors DIR

Runs the checkpoint in DIR with transformers (AutoModel, or AutoModelForMaskedLM when the file has
logits) on the input_ids / attention_mask nanobert wrote, and prints the largest differences.
Used by docs/bert-layer-by-layer.md.
"""

import os
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForMaskedLM

ours = load_file(sys.argv[1])
model_dir = os.path.expanduser(sys.argv[2])
has_logits = "logits" in ours
model = (AutoModelForMaskedLM if has_logits else AutoModel).from_pretrained(model_dir).eval()
with torch.no_grad():
    out = model(input_ids=ours["input_ids"], attention_mask=ours["attention_mask"], output_hidden_states=True)
real = ours["attention_mask"].bool()
theirs = {"last_hidden_state": out.hidden_states[-1]}
if has_logits:
    theirs["logits"] = out.logits
print(f"batch {tuple(ours['input_ids'].shape)}, {int(real.sum())} real tokens")
for name, t in theirs.items():
    d = (t - ours[name]).abs()
    print(f"{name:<18} max |nanobert - transformers|: real tokens {d[real].max().item():.1e}, all {d.max().item():.1e}")
