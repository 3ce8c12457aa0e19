"""Tiny models for metering tests, with their FLOPs derived by hand."""

from __future__ import annotations

import torch
import torch.nn.functional as nnf
from torch import nn


class MLP(nn.Module):
    """Linear, GELU, Linear."""

    def __init__(self, d_in: int, hidden: int, d_out: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.fc2 = nn.Linear(hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(nnf.gelu(self.fc1(x)))


def mlp_step_flops(tokens: int, d_in: int, hidden: int, d_out: int) -> int:
    """Forward 2·T·(in·h + h·out); backward 4·T·h·out for fc2, 2·T·in·h for fc1.

    The input needs no gradient, so fc1's backward computes only its weight gradient.
    """
    return 6 * tokens * hidden * d_out + 4 * tokens * d_in * hidden


class Block(nn.Module):
    """A pre-norm causal transformer block; attention by sdpa or written out."""

    def __init__(self, d: int, heads: int, *, explicit: bool = False) -> None:
        super().__init__()
        self.heads, self.explicit = heads, explicit
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if not self.explicit:
            return nnf.scaled_dot_product_attention(q, k, v, is_causal=True)
        s = q.shape[-2]
        scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
        mask = torch.ones(s, s, dtype=torch.bool, device=q.device).tril()
        return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (t.view(b, s, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        x = x + self.proj(self.attend(q, k, v).transpose(1, 2).reshape(b, s, d))
        return x + self.fc2(nnf.gelu(self.fc1(self.ln2(x))))


def block_step_flops(batch: int, seq: int, d: int) -> int:
    """Linears hold 12·d² weights (6 FLOPs each per token); attention 4·b·s²·d forward, ×3."""
    return 72 * batch * seq * d * d + 12 * batch * seq * seq * d


class TinyGPT(nn.Module):
    """Token and position embeddings, transformer blocks, a final norm, an untied head."""

    def __init__(self, vocab: int, seq: int, d: int, heads: int, layers: int) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(seq, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1], device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def gpt_step_flops(batch: int, seq: int, d: int, layers: int, vocab: int) -> int:
    """Every block as above, plus the head: 6·T·d·V. Embedding lookups cost no products."""
    return layers * block_step_flops(batch, seq, d) + 6 * batch * seq * d * vocab


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """One forward and backward pass with a cross-entropy loss."""
    logits = model(x)
    nnf.cross_entropy(logits.flatten(0, -2), y.flatten()).backward()


def regression_step(model: nn.Module, x: torch.Tensor) -> None:
    """One forward and backward pass with a sum-of-squares loss."""
    model(x).square().sum().backward()
