"""Standalone GPU timing of the paper's features stage at the true shape (issue 19 item 4).

Builds a random gemma-2-2b (the real Gemma2Config: 26 layers, d_model 2,304, vocab 256,000)
directly on the device, runs forward passes over batches of 1,024-token sequences up to a
layer (default 12, the lobes layer) and encodes each batch with a JumpReLU SAE of Gemma Scope's
shape (16k at the stopping layer, plus optionally 65k), and prints tokens/s and peak device
memory as one JSON line. Needs only torch (transformers is used when installed, else a
plain-torch Gemma-2 block of the same shapes); nothing of this project, no files, no network.

    python gpu_timing.py --dtype float32 --batch 8 --seconds 300        # the paper preset
    python gpu_timing.py --dtype bfloat16 --batch 8 --seconds 300
    python gpu_timing.py --tiny --device cpu --seconds 5                  # smoke test

Time-box it with --seconds (the timed loop stops after that many seconds of forward passes).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

GEMMA2_2B = {
    "vocab_size": 256000,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "query_pre_attn_scalar": 256,
    "sliding_window": 4096,
    "attn_logit_softcapping": 50.0,
    "final_logit_softcapping": 30.0,
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-6,
}
TINY = dict(
    GEMMA2_2B,
    vocab_size=1000,
    hidden_size=64,
    intermediate_size=128,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=32,
    query_pre_attn_scalar=32,
)


class _Norm(torch.nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight, self.eps = torch.nn.Parameter(torch.zeros(d)), eps

    def forward(self, x):
        y = x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * (1.0 + self.weight.float())).type_as(x)


class _Block(torch.nn.Module):
    """A Gemma-2 decoder block's shapes and FLOPs (causal SDPA, no sliding window/softcap)."""

    def __init__(self, c):
        super().__init__()
        d, h, kv, hd, ff = (
            c["hidden_size"],
            c["num_attention_heads"],
            c["num_key_value_heads"],
            c["head_dim"],
            c["intermediate_size"],
        )
        self.h, self.kv, self.hd = h, kv, hd

        def lin(i, o):
            return torch.nn.Linear(i, o, bias=False)

        self.q, self.k, self.v, self.o = (
            lin(d, h * hd),
            lin(d, kv * hd),
            lin(d, kv * hd),
            lin(h * hd, d),
        )
        self.gate, self.up, self.down = lin(d, ff), lin(d, ff), lin(ff, d)
        eps = c["rms_norm_eps"]
        self.n1, self.n2, self.n3, self.n4 = (_Norm(d, eps) for _ in range(4))

    def forward(self, x):
        b, t, _ = x.shape
        y = self.n1(x)
        q = self.q(y).view(b, t, self.h, self.hd).transpose(1, 2)
        k = (
            self.k(y)
            .view(b, t, self.kv, self.hd)
            .transpose(1, 2)
            .repeat_interleave(self.h // self.kv, 1)
        )
        v = (
            self.v(y)
            .view(b, t, self.kv, self.hd)
            .transpose(1, 2)
            .repeat_interleave(self.h // self.kv, 1)
        )
        a = (
            F.scaled_dot_product_attention(q, k, v, is_causal=True)
            .transpose(1, 2)
            .reshape(b, t, -1)
        )
        x = x + self.n2(self.o(a))
        y = self.n3(x)
        return x + self.n4(self.down(F.gelu(self.gate(y), approximate="tanh") * self.up(y)))


def build_model(cfg: dict, dtype, device, upto: int):
    """(embed, blocks up to ``upto``, implementation name). transformers when installed."""
    try:
        from transformers import Gemma2Config, Gemma2ForCausalLM

        config = Gemma2Config(**dict(cfg, num_hidden_layers=upto + 1))
        with torch.device(device):
            model = Gemma2ForCausalLM(config).to(dtype).eval()
        return model.model, "transformers " + __import__("transformers").__version__
    except ImportError:
        with torch.device(device):
            embed = torch.nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
            blocks = torch.nn.ModuleList(_Block(cfg) for _ in range(upto + 1))
        mod = torch.nn.Module()
        mod.embed, mod.blocks = embed.to(dtype), blocks.to(dtype).eval()
        return mod, "plain torch (SDPA, no softcap)"


def forward(model, ids, d):
    if hasattr(model, "embed_tokens"):  # transformers Gemma2Model: all its (upto + 1) layers
        return model(input_ids=ids).last_hidden_state
    x = model.embed(ids) * math.sqrt(d)
    for block in model.blocks:
        x = block(x)
    return x


def sae(d, width, device):
    w_dec = F.normalize(torch.randn(width, d, device=device), dim=1)
    return {
        "W_enc": w_dec.T.contiguous(),
        "b_enc": torch.zeros(width, device=device),
        "threshold": torch.full((width,), 2.8, device=device),
    }


def encode(p, x):
    pre = x.float() @ p["W_enc"] + p["b_enc"]
    return pre * (pre > p["threshold"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--layer", type=int, default=12, help="stop after this block")
    ap.add_argument(
        "--widths", default="16384", help="SAE widths encoded per batch, e.g. 16384,65536"
    )
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args(argv)
    cfg = TINY if args.tiny else GEMMA2_2B
    dtype, device = getattr(torch, args.dtype), torch.device(args.device)
    torch.manual_seed(0)
    t0 = time.time()
    model, impl = build_model(cfg, dtype, device, args.layer)
    saes = [
        sae(cfg["hidden_size"], int(w) if not args.tiny else 256, device)
        for w in args.widths.split(",")
    ]
    build_s = time.time() - t0
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    ids = torch.randint(0, cfg["vocab_size"], (args.batch, args.seq), device=device)
    n_batches, l0 = 0, 0.0
    with torch.no_grad():
        x = forward(model, ids, cfg["hidden_size"])  # warm-up
        sync()
        start = time.time()
        while time.time() - start < args.seconds or n_batches == 0:
            x = forward(model, ids, cfg["hidden_size"])
            for p in saes:
                f = encode(p, x)
            sync()
            n_batches += 1
        wall = time.time() - start
        l0 = float((f > 1).float().sum(-1).mean())
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "impl": impl,
        "dtype": args.dtype,
        "batch": args.batch,
        "seq": args.seq,
        "upto_block": args.layer,
        "sae_widths": args.widths,
        "build_s": round(build_s, 1),
        "batches": n_batches,
        "wall_s": round(wall, 2),
        "tokens_per_s": round(n_batches * args.batch * args.seq / wall, 1),
        "peak_mem_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        if device.type == "cuda"
        else None,
        "last_sae_l0": round(l0, 1),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
