"""Matmul FLOPs of one bert-base layer on a 128-token sequence, as PyTorch counts them.

Used by docs/attention.md. Run: python3 scripts/count_flops.py
FlopCounterMode counts matmul-like ops only (addmm = the Linears, bmm = attention's two matmuls).
"""

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig
from transformers.models.bert.modeling_bert import BertLayer

config = BertConfig()  # bert-base-uncased: hidden 768, 12 heads, intermediate 3072
config._attn_implementation = "eager"  # explicit matmuls (SDPA is counted the same way, as one op)
layer = BertLayer(config).eval()
counter = FlopCounterMode(display=False)
with torch.no_grad(), counter:
    layer(torch.randn(1, 128, config.hidden_size))
for op, flops in counter.get_flop_counts()["Global"].items():
    print(f"{str(op):<12} {flops:>14,}")
print(f"{'total':<12} {counter.get_total_flops():>14,}")
