"""`rle-lm`: a causal GRU over the run tokens of a row, each token seeing its 2D context.

Predicts, for every run, P(class | earlier runs of the row, row above) and then
P(length symbol | class, same context). The hidden state starts fresh on each row; what it needs
from earlier rows comes through the features of the row above (tokens.FEATURES).
"""

from __future__ import annotations

import torch
from torch import nn

from mc_codec.models.common import FeatureEmbedding, Heads, RunTokenModel


class RleLM(RunTokenModel):
    name = "rle-lm"

    def __init__(self, vocab_size: int, use_2d: bool = True, embed_dim: int = 32,
                 hidden_dim: int = 64):
        super().__init__()
        self.config = {"vocab_size": vocab_size, "use_2d": use_2d, "embed_dim": embed_dim,
                       "hidden_dim": hidden_dim}
        self.vocab_size = vocab_size
        self.use_2d = use_2d
        self.embed = FeatureEmbedding(vocab_size, embed_dim)
        self.inp = nn.Linear(embed_dim, hidden_dim)
        self.gru = nn.GRU(hidden_dim, hidden_dim, batch_first=True)
        self.skip = nn.Linear(hidden_dim, hidden_dim)
        self.heads = Heads(vocab_size, hidden_dim)

    def context(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, F) features of padded rows -> (B, T, hidden) context vectors (teacher forcing)."""
        x = torch.relu(self.inp(self.embed(feats)))
        h, _ = self.gru(x)
        return torch.relu(h + self.skip(x))

    # -- step interface used by the entropy coder (one token of K rows at a time) --------------
    def init_state(self, k: int) -> torch.Tensor:
        return torch.zeros(k, self.config["hidden_dim"])

    def step_context(self, state: torch.Tensor, feats: torch.Tensor):
        """feats (K, F) for the current token of each row -> (ctx, new_state)."""
        x = torch.relu(self.inp(self.embed(feats)))
        _, h = self.gru(x[:, None, :], state[None])
        h = h[0]
        return torch.relu(h + self.skip(x)), h

    def _stepper_class(self):
        from mc_codec.coding.stepper import IntRleStepper

        return IntRleStepper
