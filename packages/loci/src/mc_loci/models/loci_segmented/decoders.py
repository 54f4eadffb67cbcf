"""Loci-Segmented's cascaded decoders, and the small object encoders they are pretrained with.

Each decoder works at a quarter of the frame's resolution on the slot's Gaussian at its position
times a projection of its Gestalt part, plus the pixel coordinates relative to the slot (in units of
its size), so one code means the same shape wherever the object is; one upsampling conv brings it
to half resolution, and the maps are upsampled bilinearly to the frame (cheap enough for a CPU):

- mask decoder:  Gaussian x mask-Gestalt                       -> object mask logit
- depth decoder: mask + Gaussian x depth-Gestalt                -> object depth (around the slot's z)
- RGB decoder:   mask + depth + Gaussian x RGB-Gestalt          -> object colour

In the decoder pretraining stages (``pretrain-*-decoder``) each decoder is an autoencoder's back half:
an :class:`ObjectEncoder` reads one true object (its mask, masked depth or masked colour) and gives
that decoder's Gestalt part.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mc_loci.models.loci_segmented.slots import relative_coords


def _down(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False) if x.shape[-2:] != size else x


class SlotDecoder(nn.Module):
    """Gestalt part (N,G) + position (N,4) [+ extra maps (N,E,H,W)] -> out_channels maps (N,C,H,W)."""

    def __init__(self, gestalt: int, hidden: int, extra: int, out_channels: int):
        super().__init__()
        self.project = nn.Linear(gestalt, hidden)
        self.body = nn.Sequential(nn.Conv2d(hidden + 3 + extra, hidden, 3, padding=1), nn.SiLU(),
                                  nn.Conv2d(hidden, hidden, 3, padding=1), nn.SiLU())
        self.up = nn.Sequential(nn.Conv2d(hidden + 2 + extra, hidden, 3, padding=1), nn.SiLU(),
                                nn.Conv2d(hidden, out_channels, 1))

    def _stage(self, x, position, extra, size, first: bool = False):
        rx, ry, g = relative_coords(position, *size)
        parts = [x, rx[:, None] / 3, ry[:, None] / 3] + ([g[:, None]] if first else [])
        if extra is not None:
            parts.append(_down(extra, size))
        return torch.cat(parts, 1)

    def forward(self, code: torch.Tensor, position: torch.Tensor, size: tuple[int, int],
                extra: torch.Tensor | None = None) -> torch.Tensor:
        h, w = size
        low = (h // 4, w // 4)
        g = relative_coords(position, *low)[2][:, None]
        x = self.project(code)[:, :, None, None] * g
        x = self.body(self._stage(x, position, extra, low, first=True))
        mid = (h // 2, w // 2)
        x = F.interpolate(x, size=mid, mode="bilinear", align_corners=False)
        x = self.up(self._stage(x, position, extra, mid))
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class MaskDecoder(SlotDecoder):
    def __init__(self, gestalt: int, hidden: int):
        super().__init__(gestalt, hidden, 0, 1)

    def forward(self, code, position, size):  # -> mask logit (N,1,H,W)
        return super().forward(code, position, size)


class DepthDecoder(SlotDecoder):
    def __init__(self, gestalt: int, hidden: int):
        super().__init__(gestalt, hidden, 1, 1)

    def forward(self, code, position, mask, size):  # -> depth (N,1,H,W) in 0..1 around the slot's z
        out = super().forward(code, position, size, extra=mask)
        return (position[:, 2, None, None, None] + 0.3 * torch.tanh(out)).clamp(0.0, 1.0)


class RGBDecoder(SlotDecoder):
    def __init__(self, gestalt: int, hidden: int):
        super().__init__(gestalt, hidden, 2, 3)

    def forward(self, code, position, mask, depth, size):  # -> colour (N,3,H,W) in 0..1
        rel_depth = (depth - position[:, 2, None, None, None]) * 4
        return torch.sigmoid(super().forward(code, position, size, extra=torch.cat([mask, rel_depth], 1)))


class ObjectEncoder(nn.Module):
    """One object's maps (N,C,H,W) and its position -> Gestalt logits (N,G) (decoder pretraining)."""

    def __init__(self, in_channels: int, gestalt: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(in_channels + 3, hidden, 3, stride=2, padding=1), nn.SiLU(),
                                 nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.SiLU(),
                                 nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.SiLU())
        self.head = nn.Linear(2 * hidden, gestalt)

    def forward(self, maps: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        rx, ry, g = relative_coords(position, *maps.shape[-2:])
        f = self.net(torch.cat([maps, rx[:, None] / 3, ry[:, None] / 3, g[:, None]], 1))
        return self.head(torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1))
