"""Slot dynamics over frames: a gated, sparsely updated predictor (after Loci's).

The slots first exchange information by one self-attention layer (which object is where), then a
GRU cell per slot proposes its next state; a gate per slot decides how much of the proposal to
take. The mean gate is returned so training can keep updates sparse (most slots keep their state
from frame to frame; the ``gate`` term of the loss)."""

from __future__ import annotations

import torch
from torch import nn

from mc_loci.models.loci_segmented.slots import SlotState, clamp_position


class SlotPredictor(nn.Module):
    def __init__(self, gestalt: int, hidden: int = 64):
        super().__init__()
        dim = 3 * gestalt + 5
        self.inp = nn.Linear(dim, hidden)
        self.attn = nn.MultiheadAttention(hidden, 4, batch_first=True)
        self.norm = nn.LayerNorm(hidden)
        self.gru = nn.GRUCell(hidden, hidden)
        self.out = nn.Linear(hidden, dim)
        self.gate = nn.Linear(hidden, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.gestalt = gestalt

    def forward(self, state: SlotState, hidden: torch.Tensor | None = None
                ) -> tuple[SlotState, torch.Tensor, torch.Tensor]:
        """Next state, the recurrent hidden state (B,K,D) and the gates (B,K)."""
        b, k = state.priority.shape
        x = self.inp(state.vector())
        mask = ~state.active.bool()
        if mask.all(1).any():  # a batch entry without active slots: let it attend to all
            mask = mask & ~mask.all(1, keepdim=True)
        a, _ = self.attn(x, x, x, key_padding_mask=mask, need_weights=False)
        x = self.norm(x + a)
        h = self.gru(x.reshape(b * k, -1), None if hidden is None else hidden.reshape(b * k, -1)).reshape(b, k, -1)
        gate = torch.sigmoid(self.gate(h) - 1.0)[..., 0]
        d = self.out(h) * gate[..., None]
        G = 3 * self.gestalt
        pos = clamp_position(state.position + 0.3 * torch.tanh(d[..., G:G + 4]))
        return SlotState(state.gestalt + d[..., :G], pos, state.priority + d[..., G + 4], state.active), h, gate
