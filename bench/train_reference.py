#!/usr/bin/python3
"""PyTorch reference for `cai bench train`: the same random F32 Llama (embedding 288, 6 layers,
6 heads, feed-forward 768, vocabulary 32000), the same SFT and DPO optimiser steps at sequence
length 256, the same thread count, and the same figures (tokens/s, MFU against this machine's
own F32 matmul peak).

A step: forward, loss on the target tokens (the LM head applied only to the hidden states that
predict a target, as cai's objectives do), backward, clipping to norm 1, AdamW. Attention uses
torch's fused scaled_dot_product_attention where it exists (PyTorch >= 2.0), else the plain
masked softmax(q k^T) v.

    /usr/bin/python3 bench/train_reference.py [--threads N] [--batch 8] [--seq-len 256] [--steps 5]
                                              [--profile DIR]

With --profile, one more step of each is recorded by the autograd profiler into
DIR/{sft,dpo}.trace.json (Chrome trace format, as `cai bench train --profile DIR` writes).

Needs Debian's python3-torch (apt-get install -y python3-torch).
"""
import argparse
import math
import os
import time

import torch
import torch.nn.functional as F

V, C, L, H, FF = 32000, 288, 6, 6, 768
D = C // H
EPS = 1e-5


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Llama(torch.nn.Module):
    def __init__(self, max_len):
        super().__init__()
        init = lambda *s: torch.nn.Parameter(torch.randn(*s) * 0.02)
        self.embed = init(V, C)
        self.layers = torch.nn.ParameterList()
        for _ in range(L):
            self.layers.extend([torch.nn.Parameter(torch.ones(C)), init(3 * C, C), init(C, C),
                                torch.nn.Parameter(torch.ones(C)), init(2 * FF, C), init(C, FF)])
        self.norm = torch.nn.Parameter(torch.ones(C))
        self.lm_head = init(V, C)
        inv = 1.0 / (10000.0 ** (torch.arange(0, D, 2).float() / D))
        ang = torch.outer(torch.arange(max_len).float(), inv)
        ang = torch.cat((ang, ang), dim=-1)
        self.register_buffer("cos", ang.cos(), persistent=False)
        self.register_buffer("sin", ang.sin(), persistent=False)
        self.register_buffer("mask", torch.full((max_len, max_len), float("-inf")).triu(1),
                             persistent=False)

    def hidden(self, tokens):
        B, T = tokens.shape
        cos, sin = self.cos[:T].view(1, 1, T, D), self.sin[:T].view(1, 1, T, D)
        x = F.embedding(tokens, self.embed)
        p = list(self.layers)
        for l in range(L):
            an, wqkv, wo, mn, wgu, wd = p[6 * l:6 * l + 6]
            qkv = F.linear(rms_norm(x, an), wqkv).view(B, T, 3, H, D).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]                        # [B,H,T,D]
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if hasattr(F, "scaled_dot_product_attention"):          # PyTorch >= 2.0
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                s = (q @ k.transpose(-1, -2)) * D ** -0.5 + self.mask[:T, :T]
                o = torch.softmax(s, -1) @ v
            x = x + F.linear(o.transpose(1, 2).reshape(B, T, C), wo)
            gu = F.linear(rms_norm(x, mn), wgu)
            x = x + F.linear(F.silu(gu[..., :FF]) * gu[..., FF:], wd)
        return rms_norm(x, self.norm)

    def target_logps(self, tokens, target):
        """Per-row sums of log p(token t | < t) over target positions (target [B,T] bool)."""
        h = self.hidden(tokens)[:, :-1][target[:, 1:]]             # [N,C] predicting targets
        labels = tokens[:, 1:][target[:, 1:]]
        lp = torch.log_softmax(F.linear(h, self.lm_head), -1).gather(1, labels[:, None])[:, 0]
        rows = torch.arange(tokens.shape[0])[:, None].expand(-1, tokens.shape[1] - 1)[target[:, 1:]]
        return torch.zeros(tokens.shape[0]).index_add(0, rows, lp), lp.numel()


def matmul_peak(n):
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2.0 * n ** 3 / (time.perf_counter() - t) / 1e9)
    return best


def time_steps(model, loss_fn, steps, trace=None):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0, foreach=True)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    times = []
    for s in range(steps + 1):
        t = time.perf_counter()
        loss = step()
        if s > 0:
            times.append(time.perf_counter() - t)
        assert math.isfinite(loss.item())
    if trace:
        with torch.autograd.profiler.profile() as prof:
            step()
        prof.export_chrome_trace(trace)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--mm-size", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="")
    a = ap.parse_args()
    if a.profile:
        os.makedirs(a.profile, exist_ok=True)
    trace = lambda what: os.path.join(a.profile, what + ".trace.json") if a.profile else None
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    B, T = a.batch, a.seq_len

    model = Llama(max(1024, T))
    n_mul = sum(p.numel() for p in model.parameters()) - V * C     # all but the input embedding
    flops_per_token = 6.0 * n_mul + 12.0 * L * T * C
    peak = matmul_peak(a.mm_size)
    print(f"threads {torch.get_num_threads()}; F32 matmul peak ({a.mm_size}x{a.mm_size} mm): "
          f"{peak:.1f} GFLOP/s  [PyTorch {torch.__version__}]")

    def report(what, step_s):
        tps = B * T / step_s
        gflops = tps * flops_per_token / 1e9
        print(f"{what:<4} batch {B} x {T} tokens: {step_s * 1e3:7.1f} ms/step  {tps:8.0f} tokens/s  "
              f"{gflops:6.1f} GFLOP/s  MFU {100 * gflops / peak:5.1f}%")

    # SFT: every position after the first is a target; mean token NLL.
    tokens = torch.randint(0, V, (B, T))
    target = torch.ones(B, T, dtype=torch.bool)
    target[:, 0] = False

    def sft_loss():
        lp, n = model.target_logps(tokens, target)
        return -lp.sum() / n
    report("sft", time_steps(model, sft_loss, a.steps, trace("sft")))

    # DPO: B/2 pairs, prompt T/2 tokens, responses T - T/2; the reference log-probs are cached.
    P = B // 2
    prompt = torch.randint(0, V, (P, T // 2))
    chosen, rejected = torch.randint(0, V, (P, T - T // 2)), torch.randint(0, V, (P, T - T // 2))
    seqs = torch.cat([torch.cat([prompt, chosen], 1), torch.cat([prompt, rejected], 1)], 0)
    tgt = torch.zeros(B, T, dtype=torch.bool)
    tgt[:, T // 2:] = True
    ref = torch.full((B,), -1000.0)
    beta = 0.1

    def dpo_loss():
        lp, _ = model.target_logps(seqs, tgt)
        h = (lp[:P] - ref[:P]) - (lp[P:] - ref[P:])
        return -F.logsigmoid(beta * h).mean()
    report("dpo", time_steps(model, dpo_loss, a.steps, trace("dpo")))


if __name__ == "__main__":
    main()
