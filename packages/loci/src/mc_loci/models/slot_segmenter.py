"""A small Slot-Attention video segmenter with a separate background component.

Per frame, a strided conv encoder turns [RGB, RGB minus background, depth] into a 1/4-resolution
feature grid with a positional embedding. K object slots attend to it with Slot Attention
(Locatello et al. 2020: softmax over slots, weighted mean, GRU update, residual MLP). The slots of
frame t start from the slots of frame t-1 passed through a small transition MLP (as in SAVi), so a
slot keeps following the same object and ids stay consistent over the video. Slots of the first
frame start from learned per-slot queries (deterministic).

Decoding (per slot): a mask logit at every pixel (dot product of the slot with full-resolution pixel
embeddings), a colour and a depth (one value each per slot; enough for the flat shapes of
moving-shapes), either decoded from the slot (``appearance="decoded"``) or estimated as the mean of
the input frame under the slot's soft mask (``appearance="mean"``). The background is a separate
component, after the background module of Loci-Segmented in spirit but much simpler: its colour is
a per-video background image estimated outside the network (``background``: temporal median, or
the colour of the farthest surface), its mask logit comes from a small head on the pixel
embeddings and its depth from that head or the same estimate (``bg_depth``); with the learned
background module (``background="learned"``), colour and depth come from the module per frame, and
its foreground logit can enter the background's mask logit (``fg_evidence``). Masks are a softmax
over [background, slot 1..K].

Training (see ``mc_loci.training``) uses reconstruction of RGB and depth plus, by default, a mask
loss after Hungarian matching of slots to the true objects of each clip; without it
(unsupervised), the mixture-likelihood reconstruction loss.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mc_loci.baselines import BACKGROUND_ESTIMATES
from mc_loci.models import config_from_dict, resolve_config

MODEL_NAME = "slot-segmenter"
APPEARANCES = ("decoded", "mean")
BG_DEPTHS = ("head", "estimate")
# estimated per video outside the network, or "learned": per frame by a frozen, pretrained
# loci-background module inside the model (mc_loci.models.background)
BACKGROUNDS = (*BACKGROUND_ESTIMATES, "learned")
# how the learned background module's per-pixel foreground logit enters the segmenter (see
# SlotSegmenterConfig.fg_evidence)
FG_EVIDENCE = ("none", "input", "prior")
# documented limits of the sizes (memory grows with them; far above what the model needs)
MAX_SIZES = {"num_slots": 64, "hidden": 1024, "slot_dim": 1024, "pixel_dim": 1024, "iters": 32}


@dataclass
class SlotSegmenterConfig:
    num_slots: int = 5      # object slots; the background has its own channel
    hidden: int = 32        # encoder channels
    slot_dim: int = 32
    pixel_dim: int = 16     # full-resolution pixel embedding size
    iters: int = 3          # slot-attention iterations per frame
    depth_input: bool = True
    # how a slot gets its colour and depth: "decoded" from the slot vector (the first slice), or
    # "mean": the mean of the input frame under the slot's soft mask (appearance by estimation, the
    # choice that makes reconstruction-only training separate objects; see mc_loci.training)
    appearance: str = "decoded"
    # the background's depth: "head" (predicted from pixel features) or "estimate": estimated from
    # the video like the background colour, passed as a 4th channel of bg
    bg_depth: str = "head"
    # how the background is estimated outside the network (mc_loci.baselines.estimate_background):
    # "median" (temporal median) or "farthest" (colour of the farthest surface; needs depth); or
    # "learned": per frame by a frozen loci-background module whose config is bg_model
    background: str = "median"
    bg_model: dict | None = None
    # with the learned background: what the segmenter does with the module's foreground logit l
    # (the log odds that a pixel is not background, mc_loci.models.background.foreground_logit):
    # "none" ignores it; "input" feeds the module's foreground posterior sigmoid(l) to the encoder
    # and the pixel embeddings as one more input channel (the network learns how far to trust it);
    # "prior" multiplies the background's mask by the module's posterior odds of background, i.e.
    # adds -l to the background's mask logit (a product of the two experts: where the module is
    # sure, it decides background vs object, and the slots only decide which object)
    fg_evidence: str = "none"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SlotSegmenterConfig:
        cfg = config_from_dict(cls, d, "model")
        for name, top in MAX_SIZES.items():
            value = getattr(cfg, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ValueError(f"{name} must be an integer in 1..{top}, got {value!r}")
        if cfg.appearance not in APPEARANCES:
            raise ValueError(f"appearance must be one of {', '.join(APPEARANCES)}, got {cfg.appearance!r}")
        if cfg.bg_depth not in BG_DEPTHS:
            raise ValueError(f"bg_depth must be one of {', '.join(BG_DEPTHS)}, got {cfg.bg_depth!r}")
        if cfg.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {', '.join(BACKGROUNDS)}, got {cfg.background!r}")
        if cfg.fg_evidence not in FG_EVIDENCE:
            raise ValueError(f"fg_evidence must be one of {', '.join(FG_EVIDENCE)}, got {cfg.fg_evidence!r}")
        if cfg.fg_evidence != "none" and cfg.background != "learned":
            raise ValueError("fg_evidence (the background module's foreground logit) needs background 'learned'")
        if (cfg.background == "learned") != (cfg.bg_model is not None):
            raise ValueError("bg_model (the background module's config) goes with background 'learned', only")
        if cfg.background == "learned":
            from mc_loci.models.background import BackgroundConfig

            bg = BackgroundConfig.from_dict(dict(cfg.bg_model))
            if cfg.bg_depth == "estimate" and not bg.depth_input:
                raise ValueError("bg_depth 'estimate' needs a background module that predicts depth")
        return cfg

    @property
    def needs_depth(self) -> bool:
        """Whether the model needs the video's depth (as input, or for its background)."""
        if self.depth_input or self.background == "farthest":
            return True
        return self.background == "learned" and bool(self.bg_model.get("depth_input", True))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _grid(h: int, w: int, device) -> torch.Tensor:
    ys = torch.linspace(0.0, 1.0, h, device=device)
    xs = torch.linspace(0.0, 1.0, w, device=device)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([yy, xx, 1 - yy, 1 - xx], 0)  # (4,H,W)


def _masked_mean(weights: torch.Tensor, image: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean of image (N,C,H,W) under each soft mask of weights (N,K,H,W) -> (N,K,C); an empty mask
    gives ~0.5 (mid-grey) instead of a division by zero."""
    num = torch.einsum("nkhw,nchw->nkc", weights, image)
    return (num + 0.5 * eps) / (weights.sum((2, 3))[..., None] + eps)


class SlotAttention(nn.Module):
    def __init__(self, dim: int, iters: int, hidden: int):
        super().__init__()
        self.iters, self.scale = iters, dim ** -0.5
        self.norm_in, self.norm_slots, self.norm_mlp = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q, self.k, self.v = nn.Linear(dim, dim, bias=False), nn.Linear(dim, dim, bias=False), nn.Linear(dim, dim, bias=False)
        self.gru = nn.GRUCell(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, inputs: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        b, k, d = slots.shape
        inputs = self.norm_in(inputs)
        keys, values = self.k(inputs), self.v(inputs)
        for _ in range(self.iters):
            prev = slots
            q = self.q(self.norm_slots(slots))
            attn = torch.softmax(torch.einsum("bnd,bkd->bnk", keys, q) * self.scale, dim=-1) + 1e-8
            attn = attn / attn.sum(dim=1, keepdim=True)
            updates = torch.einsum("bnk,bnd->bkd", attn, values)
            slots = self.gru(updates.reshape(-1, d), prev.reshape(-1, d)).reshape(b, k, d)
            slots = slots + self.mlp(self.norm_mlp(slots))
        return slots


class SlotSegmenter(nn.Module):
    """Slot-Attention segmenter of videos; see the module docstring."""

    model_name = MODEL_NAME

    def __init__(self, config: SlotSegmenterConfig | dict | None = None, **kwargs: Any):
        super().__init__()
        self.config = c = resolve_config(SlotSegmenterConfig, config, kwargs)
        cin = 3 + 3 + (1 if c.depth_input else 0) + (1 if c.fg_evidence == "input" else 0)
        h = c.hidden
        self.encoder = nn.Sequential(
            nn.Conv2d(cin, h, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(h, h, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(h, h, 3, padding=1), nn.ReLU(),
        )
        self.pos = nn.Conv2d(4, h, 1)
        self.to_tokens = nn.Sequential(nn.LayerNorm(h), nn.Linear(h, c.slot_dim), nn.ReLU(),
                                       nn.Linear(c.slot_dim, c.slot_dim))
        self.queries = nn.Parameter(torch.randn(c.num_slots, c.slot_dim) * 0.5)
        self.slot_attention = SlotAttention(c.slot_dim, c.iters, 2 * c.slot_dim)
        self.transition = nn.Sequential(nn.LayerNorm(c.slot_dim), nn.Linear(c.slot_dim, 2 * c.slot_dim),
                                        nn.ReLU(), nn.Linear(2 * c.slot_dim, c.slot_dim))
        p = c.pixel_dim
        self.pixel_in = nn.Conv2d(cin, p, 3, padding=1)
        self.pixel_up = nn.Conv2d(h, p, 1)
        self.pixel_pos = nn.Conv2d(4, p, 1)
        self.pixel_out = nn.Sequential(nn.ReLU(), nn.Conv2d(p, p, 1), nn.ReLU(), nn.Conv2d(p, p, 1))
        self.slot_to_mask = nn.Linear(c.slot_dim, p)
        self.slot_to_rgb_depth = nn.Linear(c.slot_dim, 4)
        self.bg_head = nn.Conv2d(p, 2, 1)  # background mask logit, background depth
        if c.background == "learned":
            from mc_loci.models.background import BackgroundModule

            self.background_module = BackgroundModule(c.bg_model).requires_grad_(False).eval()

    def train(self, mode: bool = True) -> SlotSegmenter:
        super().train(mode)
        if self.config.background == "learned":
            self.background_module.eval()  # pretrained and frozen
        return self

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- mc_loci.VideoSegmenter -------------------------------------------------------------------

    @property
    def needs_depth(self) -> bool:
        """Whether the model reads the video's depth (as input, or for its background)."""
        return self.config.needs_depth

    @property
    def device(self) -> torch.device:
        return self.queries.device

    def segment(self, video) -> np.ndarray:
        """Instance ids (T,H,W) of a numpy video (see :func:`segment_video`)."""
        return segment_video(self, video, self.device)

    def _inputs(self, rgb: torch.Tensor, depth: torch.Tensor | None, bg: torch.Tensor,
                fg_logit: torch.Tensor | None) -> torch.Tensor:
        parts = [rgb, rgb - bg]
        if self.config.depth_input:
            if depth is None:
                raise ValueError("this model needs depth input")
            parts.append(depth)
        if self.config.fg_evidence == "input":
            parts.append(torch.sigmoid(fg_logit)[:, None])
        return torch.cat(parts, 1)

    def background_frames(self, rgb: torch.Tensor, depth: torch.Tensor | None,
                          bg: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The background colour (and depth) of every frame, (B,T,3|4,H,W): the given per-video
        estimate repeated over time, or the learned module's prediction per frame; and, for the
        learned background, the module's foreground logit (B,T,H,W) (None otherwise)."""
        b, t, _, hh, ww = rgb.shape
        if self.config.background == "learned":
            from mc_loci.models.background import foreground_logit

            module = self.background_module
            module_depth = depth if module.config.depth_input else None
            with torch.no_grad():
                out = module(rgb, module_depth)
                return out["bg"], foreground_logit(module, out, rgb, module_depth)
        if bg is None:
            raise ValueError("this model needs a background estimate (bg)")
        return (bg if bg.ndim == 5 else bg[:, None].expand(b, t, *bg.shape[1:])), None

    def forward(self, rgb: torch.Tensor, depth: torch.Tensor | None, bg: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """rgb (B,T,3,H,W) in 0..1, depth (B,T,1,H,W) or None, bg (B,3,H,W) in 0..1 (the background
        colour) or (B,4,H,W) with the background depth as 4th channel (needed for bg_depth "estimate"),
        or per frame (B,T,3|4,H,W); None for the learned background. depth is read only by a model
        with depth input (and by a learned background module that reads depth).

        Returns logits (B,T,1+K,H,W) (channel 0 = background), rgb (B,T,3,H,W), depth (B,T,1,H,W)
        reconstructions and slots (B,T,K,D).
        """
        b, t, _, hh, ww = rgb.shape
        k = self.config.num_slots
        bg_all, fg_logit = self.background_frames(rgb, depth, bg)
        fg_flat = None if fg_logit is None else fg_logit.flatten(0, 1)
        if self.config.bg_depth == "estimate" and bg_all.shape[2] < 4:
            raise ValueError("this model needs the background depth (bg with 4 channels)")
        if not self.config.depth_input:
            depth = None
        bg_t = bg_all[:, :, :3]
        x = self._inputs(rgb.flatten(0, 1), None if depth is None else depth.flatten(0, 1), bg_t.flatten(0, 1),
                         fg_flat)
        feats = self.encoder(x)
        fh, fw = feats.shape[-2:]
        feats = feats + self.pos(_grid(fh, fw, x.device)[None])
        tokens = self.to_tokens(feats.flatten(2).transpose(1, 2)).reshape(b, t, fh * fw, -1)
        pix = self.pixel_in(x) + F.interpolate(self.pixel_up(feats), size=(hh, ww), mode="bilinear",
                                               align_corners=False) + self.pixel_pos(_grid(hh, ww, x.device)[None])
        pix = self.pixel_out(pix)  # (BT,P,H,W)
        slots = self.queries[None].expand(b, k, -1)
        all_slots = []
        for i in range(t):
            if i > 0:
                slots = slots + self.transition(slots)
            slots = self.slot_attention(tokens[:, i], slots)
            all_slots.append(slots)
        slots_bt = torch.stack(all_slots, 1)  # (B,T,K,D)
        mask_emb = self.slot_to_mask(slots_bt).flatten(0, 1)  # (BT,K,P)
        obj_logits = torch.einsum("bkp,bphw->bkhw", mask_emb, pix) / math.sqrt(pix.shape[1])
        bg_out = self.bg_head(pix)
        bg_logit = bg_out[:, :1]
        if self.config.fg_evidence == "prior":
            bg_logit = bg_logit - fg_flat[:, None]
        logits = torch.cat([bg_logit, obj_logits], 1)  # (BT,1+K,H,W)
        attrs = torch.sigmoid(self.slot_to_rgb_depth(slots_bt).flatten(0, 1))  # (BT,K,4)
        probs = torch.softmax(logits, 1)
        rgb_in = rgb.flatten(0, 1)
        depth_in = None if depth is None else depth.flatten(0, 1)
        if self.config.appearance == "mean":
            obj_rgb = _masked_mean(probs[:, 1:], rgb_in)  # (BT,K,3)
            obj_depth = attrs[..., 3:] if depth_in is None else _masked_mean(probs[:, 1:], depth_in)
        else:
            obj_rgb, obj_depth = attrs[..., :3], attrs[..., 3:]
        colours = torch.cat([bg_t.flatten(0, 1)[:, None], obj_rgb[..., None, None].expand(-1, -1, 3, hh, ww)], 1)
        rgb_rec = (probs[:, :, None] * colours).sum(1)
        if self.config.bg_depth == "estimate":
            bg_depth = bg_all[:, :, 3:4].flatten(0, 1)
        else:
            bg_depth = torch.sigmoid(bg_out[:, 1:2])
        depths = torch.cat([bg_depth, obj_depth[..., 0, None, None].expand(-1, -1, hh, ww)], 1)
        depth_rec = (probs * depths).sum(1, keepdim=True)
        return {
            "logits": logits.reshape(b, t, 1 + k, hh, ww),
            "rgb": rgb_rec.reshape(b, t, 3, hh, ww),
            "depth": depth_rec.reshape(b, t, 1, hh, ww),
            "slots": slots_bt,
            # per component (background, slot 1..K) appearance, for mixture-likelihood losses
            "comp_rgb": colours.reshape(b, t, 1 + k, 3, hh, ww),
            "comp_depth": depths.reshape(b, t, 1 + k, 1, hh, ww),
            # the learned background module's foreground logit (B,T,H,W); None for an estimate
            "fg_logit": fg_logit,
        }


def video_tensors(video: dict, device="cpu", background: str = "median"
                  ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """numpy video (rgb (T,H,W,3) uint8, depth (T,H,W), optional bg (H,W,3)) -> model inputs with B=1.

    bg is the estimated background colour (1,3,H,W) (``background``: see
    ``mc_loci.baselines.estimate_background``), plus its depth as a 4th channel when the video has
    depth; None for the "learned" background (the model computes it)."""
    from mc_loci.baselines import estimate_background

    rgb = torch.as_tensor(video["rgb"], dtype=torch.float32, device=device).permute(0, 3, 1, 2)[None] / 255.0
    depth = None
    depth_np = video.get("depth")
    if depth_np is not None:
        depth = torch.as_tensor(np.asarray(depth_np), dtype=torch.float32, device=device)[None, :, None]
    if background == "learned":
        return rgb, depth, None
    if background == "farthest" and depth_np is None:
        raise ValueError("the 'farthest' background estimate needs depth")
    bg_np, bg_depth = estimate_background(video["rgb"], depth_np, background)
    if video.get("bg") is not None:
        bg_np = video["bg"]
    bg = torch.as_tensor(bg_np, dtype=torch.float32, device=device).permute(2, 0, 1)[None] / 255.0
    if bg_depth is not None:
        bg = torch.cat([bg, torch.as_tensor(bg_depth, dtype=torch.float32, device=device)[None, None]], 1)
    return rgb, depth, bg


@torch.no_grad()
def segment_video(model: SlotSegmenter, video: dict, device="cpu") -> np.ndarray:
    """Instance ids (T,H,W) int64 for one video: 0 = background, k = slot k (consistent over time)."""
    model.eval()
    rgb, depth, bg = video_tensors(video, device, model.config.background)
    out = model(rgb, depth, bg)
    return out["logits"][0].argmax(1).cpu().numpy().astype("int64")
