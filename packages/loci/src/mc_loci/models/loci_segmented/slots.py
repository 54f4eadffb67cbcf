"""The Loci slot: a Gestalt code (what), a position (where: x, y, depth z, size sigma) and a
priority (which slot occludes which).

The Gestalt is binarised as in Loci: the encoder's logits go through a sigmoid; in training a
little Gaussian noise is added (so only codes near 0 or 1 carry information reliably and the code
saturates), at evaluation the sigmoid is rounded to 0/1. It is split into three equal parts, read
by the mask, depth and RGB decoders.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

POSITION = ("x", "y", "z", "sigma")   # x, y in -1..1 (left/top = -1), z depth 0..1, sigma size (in x/y units)
MIN_SIGMA, MAX_SIGMA = 0.03, 1.0


def binarize(logits: torch.Tensor, training: bool, noise: float) -> torch.Tensor:
    """Gestalt code from logits: sigmoid (+ N(0, noise^2) in training); rounded at evaluation."""
    g = torch.sigmoid(logits)
    if training:
        return g + noise * torch.randn_like(g) if noise > 0 else g
    return torch.round(g)


def split_gestalt(code: torch.Tensor, part: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mask, depth, rgb) parts of a Gestalt code (..., 3 * part)."""
    return code[..., :part], code[..., part:2 * part], code[..., 2 * part:3 * part]


@dataclass
class SlotState:
    """The slots of a batch: gestalt logits (B,K,3G), position (B,K,4), priority (B,K), active (B,K)."""

    gestalt: torch.Tensor
    position: torch.Tensor
    priority: torch.Tensor
    active: torch.Tensor

    def vector(self) -> torch.Tensor:
        """(B,K,3G+5): what the hyper-networks and the predictor read."""
        return torch.cat([torch.tanh(self.gestalt / 4), self.position, self.priority[..., None] / 4], -1)

    def detach(self) -> SlotState:
        return SlotState(self.gestalt.detach(), self.position.detach(), self.priority.detach(), self.active.detach())


def clamp_position(pos: torch.Tensor) -> torch.Tensor:
    """x, y into -1.2..1.2, z into 0..1, sigma into [MIN_SIGMA, MAX_SIGMA] (differentiable inside)."""
    xy = pos[..., :2].clamp(-1.2, 1.2)
    z = pos[..., 2:3].clamp(0.0, 1.0)
    s = pos[..., 3:4].clamp(MIN_SIGMA, MAX_SIGMA)
    return torch.cat([xy, z, s], -1)


def coords(h: int, w: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates (H,W) each, in -1..1."""
    ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h * 2 - 1
    xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w * 2 - 1
    return torch.meshgrid(ys, xs, indexing="ij")


def relative_coords(position: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Coordinates relative to each slot, in units of its sigma, and its Gaussian: each (..., H, W)."""
    yy, xx = coords(h, w, position.device)
    px, py, sig = (position[..., i, None, None] for i in (0, 1, 3))
    rx, ry = (xx - px) / sig, (yy - py) / sig
    return rx, ry, torch.exp(-0.5 * (rx * rx + ry * ry))


def gaussian(position: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The Gaussian of each slot (..., H, W) at its x, y with std sigma."""
    return relative_coords(position, h, w)[2]


def positions_of_masks(masks: torch.Tensor, depth: torch.Tensor | None = None) -> torch.Tensor:
    """Position (x, y, z, sigma) (N,4) of binary masks (N,H,W): the centroid, the mean depth under the
    mask (0.5 without depth) and the root mean square distance from the centroid per axis."""
    n, h, w = masks.shape
    yy, xx = coords(h, w, masks.device)
    m = masks.float()
    area = m.sum((1, 2)).clamp_min(1.0)
    cx = (m * xx).sum((1, 2)) / area
    cy = (m * yy).sum((1, 2)) / area
    var = (m * ((xx - cx[:, None, None]) ** 2 + (yy - cy[:, None, None]) ** 2)).sum((1, 2)) / (2 * area)
    z = (m * depth).sum((1, 2)) / area if depth is not None else torch.full_like(cx, 0.5)
    return clamp_position(torch.stack([cx, cy, z, var.sqrt()], -1))
