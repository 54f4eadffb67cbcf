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


def _model_config(ck) -> dict:
    """A checkpoint's model config: ``config["model"]``; checkpoints of the first release kept
    the model's arguments at the top of ``config`` (no "model" key), which still load."""
    cfg = ck.config.get("model", ck.config)
    if not isinstance(cfg, dict):
        raise ValueError(f"config.model must be a mapping, got {type(cfg).__name__}")
    return dict(cfg)


class RunTokenModel(nn.Module):
    """Shared by the built-in models: `token_nats` from ``context`` + :class:`Heads`, loading
    from a checkpoint (either config layout), and the cached integer stepper for the coder."""

    vocab_size: int
    use_2d: bool
    heads: Heads
    config: dict

    def context(self, feats: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def token_nats(self, feats: torch.Tensor, classes: torch.Tensor, len_syms: torch.Tensor):
        """See :meth:`mc_codec.interface.CodecModel.token_nats`."""
        import torch.nn.functional as F

        ctx = self.context(feats)
        cls = classes.clamp(min=0)
        cl = self.heads.class_logits(ctx)
        ll = self.heads.length_logits(ctx, cls, feats)
        valid = classes >= 0
        c = F.cross_entropy(cl.flatten(0, -2), cls.flatten(), reduction="none").view(classes.shape)
        ln = F.cross_entropy(ll.flatten(0, -2), len_syms.clamp(min=0).flatten(),
                             reduction="none").view(classes.shape)
        zero = torch.zeros((), dtype=c.dtype, device=c.device)
        return torch.where(valid, c, zero), torch.where(valid, ln, zero)

    @classmethod
    def from_checkpoint(cls, ck):
        model = cls(**_model_config(ck))
        try:
            model.load_state_dict(ck.state_dict)
        except RuntimeError as exc:
            raise ValueError(f"weights do not fit ({str(exc).strip().splitlines()[0]})") from None
        return model

    def _stepper_class(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def coding_stepper(self):
        """The exact integer stepper (:mod:`mc_codec.coding.stepper`), rebuilt when the weights
        change."""
        version = tuple(p._version for p in self.parameters())  # bumps when weights are updated
        cached = self.__dict__.get("_mc_stepper")
        if cached is None or cached[0] != version:
            cached = (version, self._stepper_class()(self))
            self.__dict__["_mc_stepper"] = cached
        return cached[1]
