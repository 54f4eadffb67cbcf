"""Pieces shared by the codec models: token-feature embedding and the class/length heads.

Every model predicts, for each run of a row, first the run's class (over `vocab_size` ids) and
then, knowing that class, its length symbol (see :mod:`mc_codec.tokens`).
"""

from __future__ import annotations

import torch
from torch import nn

from mc_codec.tokens import NUM_DIST_BUCKETS, NUM_LEN_SYMBOLS


class FeatureEmbedding(nn.Module):
    """Embeds a token's features (see tokens.FEATURES) into one vector of size `dim`."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        v = vocab_size + 1  # index vocab_size = "none"
        self.vocab_size = vocab_size
        self.prev_cls = nn.Embedding(v, dim)
        self.prev_len = nn.Embedding(NUM_LEN_SYMBOLS + 1, dim)
        self.above_cls = nn.Embedding(v, dim)
        self.after_cls = nn.Embedding(v, dim)
        self.d_bucket = nn.Embedding(NUM_DIST_BUCKETS, dim)
        self.rem_bucket = nn.Embedding(NUM_DIST_BUCKETS, dim)
        self.flags = nn.Linear(3, dim)

    def cls_index(self, c: torch.Tensor) -> torch.Tensor:
        return torch.where(c < 0, torch.full_like(c, self.vocab_size), c)

    def forward(self, f: torch.Tensor) -> torch.Tensor:  # (..., 9) int64
        prev_len = torch.where(f[..., 1] < 0, torch.full_like(f[..., 1], NUM_LEN_SYMBOLS), f[..., 1])
        return (self.prev_cls(self.cls_index(f[..., 0])) + self.prev_len(prev_len)
                + self.above_cls(self.cls_index(f[..., 2])) + self.after_cls(self.cls_index(f[..., 3]))
                + self.d_bucket(f[..., 4]) + self.rem_bucket(f[..., 8])
                + self.flags(f[..., 5:8].to(self.flags.weight.dtype)))


class Heads(nn.Module):
    """Class logits from the context vector; length logits from the context and the class."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.cls_head = nn.Linear(dim, vocab_size)
        self.cur_cls = nn.Embedding(vocab_size, dim)
        self.cur_flags = nn.Linear(2, dim)
        self.len_hidden = nn.Linear(dim, dim)
        self.len_head = nn.Linear(dim, NUM_LEN_SYMBOLS)

    def class_logits(self, ctx: torch.Tensor) -> torch.Tensor:
        return self.cls_head(ctx)

    def length_logits(self, ctx: torch.Tensor, cls: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """`cls`: the run's class; `f`: the token features (for the above classes)."""
        eq = torch.stack([(cls == f[..., 2]), (cls == f[..., 3])], dim=-1).to(ctx.dtype)
        h = torch.relu(self.len_hidden(ctx + self.cur_cls(cls.clamp(0, self.vocab_size - 1))
                                       + self.cur_flags(eq)))
        return self.len_head(h)


def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
