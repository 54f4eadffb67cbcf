"""`msdzip`: an MSDZip-style fixed-context predictor (after Ma et al., WWW 2025).

MSDZip predicts the next symbol of a stream from a fixed window of the previous `timesteps`
symbols with a stack of MLP blocks. Here the stream is a row's run tokens: the window holds the
embedded features (class, length symbol, 2D context) of the last `timesteps` tokens of the row
(padded at the row start), flattened and passed through `layers` residual feed-forward blocks.
No recurrence: every position is predicted independently, which trains fast and in parallel.
"""

from __future__ import annotations

import torch
from torch import nn

from mc_codec.models.common import FeatureEmbedding, Heads, RunTokenModel


class _Block(nn.Module):
    def __init__(self, hidden: int, ffn: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.fc1 = nn.Linear(hidden, ffn)
        self.fc2 = nn.Linear(ffn, hidden)

    def forward(self, x):
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.norm(x))))


class MSDZip(RunTokenModel):
    name = "msdzip"

    def __init__(self, vocab_size: int, use_2d: bool = True, timesteps: int = 16, vocab_dim: int = 16,
                 hidden_dim: int = 128, ffn_dim: int = 256, layers: int = 4):
        super().__init__()
        self.config = {"vocab_size": vocab_size, "use_2d": use_2d, "timesteps": timesteps,
                       "vocab_dim": vocab_dim, "hidden_dim": hidden_dim, "ffn_dim": ffn_dim,
                       "layers": layers}
        self.vocab_size = vocab_size
        self.use_2d = use_2d
        self.timesteps = timesteps
        self.vocab_dim = vocab_dim
        self.embed = FeatureEmbedding(vocab_size, vocab_dim)
        self.inp = nn.Linear(timesteps * vocab_dim, hidden_dim)
        self.blocks = nn.ModuleList(_Block(hidden_dim, ffn_dim) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden_dim)
        self.heads = Heads(vocab_size, hidden_dim)

    def _mlp(self, window: torch.Tensor) -> torch.Tensor:
        x = self.inp(window)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def context(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, T, hidden); position t sees tokens t-timesteps+1 .. t (its own features
        hold the previous token and the current 2D context)."""
        e = self.embed(feats)  # (B, T, D)
        b, t, d = e.shape
        pad = e.new_zeros(b, self.timesteps - 1, d)
        win = torch.cat([pad, e], dim=1).unfold(1, self.timesteps, 1)  # (B, T, D, timesteps)
        win = win.permute(0, 1, 3, 2).reshape(b, t, self.timesteps * d)
        return self._mlp(win)

    def init_state(self, k: int) -> torch.Tensor:
        return torch.zeros(k, self.timesteps, self.vocab_dim)

    def step_context(self, state: torch.Tensor, feats: torch.Tensor):
        e = self.embed(feats)
        win = torch.cat([state[:, 1:], e[:, None]], dim=1)
        return self._mlp(win.reshape(win.shape[0], -1)), win

    def _stepper_class(self):
        from mc_codec.coding.stepper import IntMsdzipStepper

        return IntMsdzipStepper
