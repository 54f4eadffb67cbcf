"""Composition of the slots over the background: each slot's mask logit, suppressed where slots of
higher priority have mask, competes by a softmax against the background's logit; the frame, the
depth map and the instance map follow."""

from __future__ import annotations

import torch

INACTIVE = -30.0  # the mask logit of a freed slot


def suppressed_logits(mask_logits: torch.Tensor, priority: torch.Tensor, active: torch.Tensor,
                      strength: float, temperature: float = 0.5) -> torch.Tensor:
    """(B,K,H,W): each slot's logit minus `strength` x the masks of the slots above it (a soft order
    sigmoid((p_j - p_k) / temperature) of the priorities); freed slots get :data:`INACTIVE`."""
    act = active.float()[..., None, None]
    p = torch.sigmoid(mask_logits) * act
    above = torch.sigmoid((priority[:, :, None] - priority[:, None, :]) / temperature)  # [b, j, k]: j over k
    above = above * (1 - torch.eye(priority.shape[1], device=priority.device))
    supp = torch.einsum("bjk,bjhw->bkhw", above, p)
    out = mask_logits - strength * supp
    return out * act + INACTIVE * (1 - act)


def compose(mask_logits, priority, active, bg_logit, rgb, depth, bg_rgb, bg_depth, strength: float):
    """mask_logits (B,K,H,W), priority/active (B,K), bg_logit (B,1,H,W), rgb (B,K,3,H,W), depth
    (B,K,1,H,W), bg_rgb (B,3,H,W), bg_depth (B,1,H,W) -> dict of weights (B,1+K,H,W; 0 = background),
    rgb (B,3,H,W), depth (B,1,H,W), ids (B,H,W) (0 = background, slot k -> k + 1)."""
    logits = torch.cat([bg_logit, suppressed_logits(mask_logits, priority, active, strength)], 1)
    w = torch.softmax(logits, 1)
    frame = w[:, :1] * bg_rgb + (w[:, 1:, None] * rgb).sum(1)
    dmap = w[:, :1] * bg_depth + (w[:, 1:, None] * depth).sum(1)
    return {"weights": w, "logits": logits, "rgb": frame, "depth": dmap, "ids": logits.argmax(1)}
