"""The prior segmentation (proposal) network: from the frame, its depth and the error of the
background, a map of where objects' centres are; object discovery places new slots at its peaks
(weighted by the error no slot explains yet). It is trained in the final stage without labels, on
the model's own slots (their positions, weighted by how much of the frame each slot explains)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ProposalNet(nn.Module):
    def __init__(self, hidden: int, depth_input: bool):
        super().__init__()
        self.depth_input = depth_input
        cin = 3 + int(depth_input) + 1
        self.net = nn.Sequential(nn.Conv2d(cin, hidden, 3, padding=1), nn.SiLU(),
                                 nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.SiLU(),
                                 nn.Conv2d(hidden, hidden, 3, padding=2, dilation=2), nn.SiLU(),
                                 nn.Conv2d(hidden, 1, 1))

    def forward(self, rgb, depth, error) -> torch.Tensor:
        """Centre logit (B,1,H,W)."""
        x = torch.cat([rgb] + ([depth] if self.depth_input else []) + [error], 1)
        return F.interpolate(self.net(x), size=rgb.shape[-2:], mode="bilinear", align_corners=False)
