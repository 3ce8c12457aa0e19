"""A tiny GPT-style language model and its data, for the governed-training example and bench.

`TinyGPT` is a decoder: token and position embeddings, pre-norm blocks (causal
``F.scaled_dot_product_attention`` and a GELU MLP), a final norm and an untied head. It
trains, character by character, on `TEXT`, a paragraph shipped here, in batches that
depend only on (seed, step), so a run resumed from a checkpoint sees exactly the batches
an uninterrupted run would. `analytic_step_flops` is the hand count of one training
step: 6·N·D for the weight matrices plus the attention products.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch's convention)
from torch import nn

TEXT = (
    "A compute pause button lets the parties to a treaty stop the largest training runs "
    "by governing the chips they run on. Every chip carries a governor that meters the "
    "work it does, debits each step from a licence before the step runs, and halts when "
    "the licence is spent, when a pause is in force, or when it has lost contact with "
    "the authority for too long. The governor signs receipts for what it did, the "
    "receipts go into a public log, and anyone holding the log can check that no chip "
    "computed more than it was licensed for. A run that is halted saves its checkpoint "
    "and resumes, losing nothing, once its licence is renewed or the pause is lifted.\n"
)
"""The training text (written for this example; ASCII)."""

VOCAB = 128
"""Tokens are ASCII code points."""


@dataclass(frozen=True)
class GPTConfig:
    """The model's shape and the batch: vocabulary, context, width, heads, layers, batch."""

    vocab: int = VOCAB
    seq: int = 32
    d: int = 64
    heads: int = 4
    layers: int = 2
    batch: int = 8

    @property
    def tokens(self) -> int:
        """Tokens per step (D of one step)."""
        return self.batch * self.seq


class Block(nn.Module):
    """A pre-norm causal transformer block: attention by sdpa, then a GELU MLP."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend causally, then transform each position."""
        b, s, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (t.view(b, s, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(b, s, d))
        out: torch.Tensor = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return out


class TinyGPT(nn.Module):
    """Token and position embeddings, `layers` blocks, a final norm and an untied head."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.tok, self.pos = nn.Embedding(c.vocab, c.d), nn.Embedding(c.seq, c.d)
        self.blocks = nn.ModuleList(Block(c.d, c.heads) for _ in range(c.layers))
        self.ln = nn.LayerNorm(c.d)
        self.head = nn.Linear(c.d, c.vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits for the next token at every position."""
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1], device=ids.device))
        for block in self.blocks:
            x = block(x)
        logits: torch.Tensor = self.head(self.ln(x))
        return logits


def make_model(config: GPTConfig, seed: int = 0) -> TinyGPT:
    """A freshly initialised model, the same for the same config and seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyGPT(config)


def lm_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """One forward and backward pass with a cross-entropy loss (the metered work)."""
    logits = model(x)
    loss = F.cross_entropy(logits.flatten(0, -2), y.flatten())
    torch.autograd.backward(loss)


def lm_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The loss on one batch, without gradients (for progress reports)."""
    with torch.no_grad():
        return float(F.cross_entropy(model(x).flatten(0, -2), y.flatten()))


def matmul_params(config: GPTConfig) -> int:
    """N of 6·N·D: the weight-matrix elements, 12·d² per layer plus the head's d·V."""
    c = config
    return 12 * c.layers * c.d * c.d + c.d * c.vocab


def attention_step_flops(config: GPTConfig) -> int:
    """The attention products of one step: 4·b·s²·d per layer forward, three times that in all."""
    c = config
    return 12 * c.layers * c.batch * c.seq * c.seq * c.d


def analytic_step_flops(config: GPTConfig) -> int:
    """FLOPs of one training step by hand: 6·N·D for the weight matrices plus attention."""
    return 6 * matmul_params(config) * config.tokens + attention_step_flops(config)


def encode(text: str) -> torch.Tensor:
    """ASCII text as a 1-D tensor of token ids."""
    return torch.tensor(list(text.encode("ascii")), dtype=torch.long)


class TextBatches(Sequence[tuple[torch.Tensor, torch.Tensor]]):
    """`steps` batches of (input, next-token) windows of `text`, each fixed by (seed, step)."""

    def __init__(self, config: GPTConfig, steps: int, *, seed: int = 0, text: str = TEXT) -> None:
        self.config, self.steps, self.seed = config, steps, seed
        self.data = encode(text)
        if len(self.data) <= config.seq + 1:
            raise ValueError(f"the text needs more than {config.seq + 1} characters")

    def __len__(self) -> int:
        return self.steps

    @overload
    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]: ...

    @overload
    def __getitem__(self, step: slice) -> list[tuple[torch.Tensor, torch.Tensor]]: ...

    def __getitem__(
        self, step: int | slice
    ) -> tuple[torch.Tensor, torch.Tensor] | list[tuple[torch.Tensor, torch.Tensor]]:
        if isinstance(step, slice):
            return [self[i] for i in range(*step.indices(self.steps))]
        if not -self.steps <= step < self.steps:
            raise IndexError(f"step {step} of {self.steps}")
        step %= self.steps
        c = self.config
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        starts = torch.randint(0, len(self.data) - c.seq - 1, (c.batch,), generator=generator)
        rows = torch.stack([self.data[int(i) : int(i) + c.seq + 1] for i in starts])
        return rows[:, :-1], rows[:, 1:]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return (self[i] for i in range(self.steps))
