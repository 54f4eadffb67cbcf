"""Loci-Segmented (``loci-s``): slots with Gestalt, position and priority, cascaded decoders, a
hyper-network slot encoder, a learned background module, a slot predictor over frames, object
discovery and a proposal network, put together. See the package README for the stages that train
it; :meth:`LociSegmented.segment` makes it a :class:`mc_loci.interface.VideoSegmenter`.

Per frame: the background module gives the background colour, depth and a foreground logit; the
error of the current reconstruction (at the first frame: of the background alone) places new slots
where it is high (:meth:`LociSegmented.discover`); then ``passes`` times the encoder updates every
slot from the frame, the error and the masks, and the decoders render the slots again, composed
over the background (:mod:`.composition`). Between frames the predictor moves the slots on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mc_loci.models import resolve_config
from mc_loci.models.background import BackgroundModule, foreground_logit
from mc_loci.models.loci_segmented.composition import compose
from mc_loci.models.loci_segmented.config import MODEL_NAME, LociConfig
from mc_loci.models.loci_segmented.decoders import DepthDecoder, MaskDecoder, ObjectEncoder, RGBDecoder
from mc_loci.models.loci_segmented.encoder import SlotEncoder
from mc_loci.models.loci_segmented.predictor import SlotPredictor
from mc_loci.models.loci_segmented.proposal import ProposalNet
from mc_loci.models.loci_segmented.slots import SlotState, binarize, gaussian, split_gestalt

INIT_SIGMA = 0.12
DISCOVERY_CLEAR = float(np.exp(-0.5 * 3.0 ** 2))  # a new slot clears the error map within 3 sigma of it
# the parts each seed flag loads from a checkpoint (state-dict prefixes)
PARTS = {
    "mask": ("mask_decoder.", "mask_encoder."),
    "depth": ("depth_decoder.", "depth_encoder."),
    "rgb": ("rgb_decoder.", "rgb_encoder."),
    "stage1": ("mask_decoder.", "depth_decoder.", "rgb_decoder.", "encoder.", "bg_gate"),
    "bg": ("background.",),
    "proposal": ("proposal.",),
}


class LociSegmented(nn.Module):
    model_name = MODEL_NAME

    def __init__(self, config: LociConfig | dict | None = None, **kwargs: Any):
        super().__init__()
        self.config = c = resolve_config(LociConfig, config, kwargs)
        G, h = c.gestalt, c.hidden
        self.mask_decoder = MaskDecoder(G, h)
        self.depth_decoder = DepthDecoder(G, h)
        self.rgb_decoder = RGBDecoder(G, h)
        self.mask_encoder = ObjectEncoder(1, G, h)
        self.depth_encoder = ObjectEncoder(2, G, h)
        self.rgb_encoder = ObjectEncoder(4, G, h)
        self.encoder = SlotEncoder(G, h, c.depth_input)
        self.predictor = SlotPredictor(G)
        self.proposal = ProposalNet(h, c.depth_input)
        self.background = BackgroundModule({**c.bg_model, "depth_input": c.depth_input})
        # background mask logit = bg_gate[0] - bg_gate[1] * (the background module's foreground logit)
        self.bg_gate = nn.Parameter(torch.zeros(2))

    # -- mc_loci.VideoSegmenter ---------------------------------------------------------------------

    @property
    def needs_depth(self) -> bool:
        return bool(self.config.depth_input)

    @property
    def device(self) -> torch.device:
        return self.bg_gate.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def segment(self, video) -> np.ndarray:
        """Instance ids (T,H,W): 0 background, slot k -> k + 1 (kept over the video)."""
        was = self.training
        self.eval()
        try:
            rgb, depth = video_tensors(video, self.device, self.config.size)
            out = self.run_video(rgb, depth)
            ids = torch.stack([f["ids"] for f in out["frames"]], 1)[0]
        finally:
            self.train(was)
        h, w = np.asarray(video["rgb"]).shape[1:3]
        if ids.shape[-2:] != (h, w):
            ids = F.interpolate(ids[:, None].float(), size=(h, w), mode="nearest")[:, 0].long()
        return ids.cpu().numpy().astype(np.int64)

    # -- pieces -------------------------------------------------------------------------------------

    def gestalt_code(self, logits: torch.Tensor) -> torch.Tensor:
        return binarize(logits, self.training, float(self.config.gestalt_noise))

    def decode(self, state: SlotState, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """The cascade for every slot: mask_logits (B,K,H,W), slot_depth (B,K,1,H,W), slot_rgb (B,K,3,H,W)."""
        b, k = state.priority.shape
        code = self.gestalt_code(state.gestalt).reshape(b * k, -1)
        gm, gd, gr = split_gestalt(code, self.config.gestalt)
        pos = state.position.reshape(b * k, 4)
        mask_logit = self.mask_decoder(gm, pos, size)
        mask = torch.sigmoid(mask_logit)
        depth = self.depth_decoder(gd, pos, mask, size)
        rgb = self.rgb_decoder(gr, pos, mask, depth, size)
        return {"mask_logits": mask_logit.reshape(b, k, *size), "slot_depth": depth.reshape(b, k, 1, *size),
                "slot_rgb": rgb.reshape(b, k, 3, *size)}

    def backgrounds(self, rgb: torch.Tensor, depth: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """The background module over a clip (B,T,...): bg rgb (B,T,3,H,W), depth (B,T,1,H,W) (1.0, the
        far plane, for an RGB-only module) and foreground logit (B,T,1,H,W)."""
        d = depth if self.config.depth_input else None
        out = self.background(rgb, d)
        fg = foreground_logit(self.background, out, rgb, d)[:, :, None]
        bg_depth = out["bg"][:, :, 3:4] if self.config.depth_input else torch.ones_like(rgb[:, :, :1])
        return {"rgb": out["bg"][:, :, :3], "depth": bg_depth, "fg_logit": fg}

    def bg_logit(self, fg_logit: torch.Tensor) -> torch.Tensor:
        return self.bg_gate[0] - self.bg_gate[1] * fg_logit.clamp(-20, 20)

    def render(self, state: SlotState, bg_rgb, bg_depth, bg_logit) -> dict[str, torch.Tensor]:
        dec = self.decode(state, tuple(bg_rgb.shape[-2:]))
        comp = compose(dec["mask_logits"], state.priority, state.active, bg_logit, dec["slot_rgb"], dec["slot_depth"],
                       bg_rgb, bg_depth, float(self.config.suppression))
        return {**dec, **comp}

    def error_map(self, rgb, depth, recon) -> torch.Tensor:
        """(B,1,H,W) mean absolute error of the reconstruction (colour, and depth when read)."""
        err = (rgb - recon["rgb"]).abs().mean(1, keepdim=True)
        if self.config.depth_input and depth is not None:
            err = err + (depth - recon["depth"]).abs()
        return err.detach()

    def empty_state(self, b: int, device) -> SlotState:
        k, G = self.config.num_slots, 3 * self.config.gestalt
        pos = torch.zeros(b, k, 4, device=device)
        pos[..., 2], pos[..., 3] = 0.5, INIT_SIGMA
        return SlotState(torch.zeros(b, k, G, device=device), pos, torch.zeros(b, k, device=device),
                         torch.zeros(b, k, device=device))

    @torch.no_grad()
    def discovery_map(self, rgb, depth, error) -> torch.Tensor:
        """Where to look for new objects (B,H,W): the blurred error, weighted by the proposal network."""
        score = F.avg_pool2d(error, 5, stride=1, padding=2, count_include_pad=False)
        prop = torch.sigmoid(self.proposal(rgb, depth, error))
        return (score * (0.5 + prop))[:, 0]

    def discover(self, state: SlotState, rgb, depth, error, weights=None) -> SlotState:
        """Free the slots that cover fewer than ``min_area`` pixels, and place free slots, one by one, at
        the peak of the error no slot explains yet while it is above ``discovery_threshold``: zero
        Gestalt logits, size INIT_SIGMA, depth read from the frame, priority 0."""
        c = self.config
        b, k = state.priority.shape
        h, w = rgb.shape[-2:]
        active = state.active.clone()
        if weights is not None:
            area = (weights[:, 1:] * (weights.argmax(1, keepdim=True) == torch.arange(1, k + 1, device=rgb.device)
                                      [None, :, None, None])).sum((2, 3))
            active = active * (area >= c.min_area).float()
        score = self.discovery_map(rgb, depth, error)
        if weights is not None:
            score = score * weights[:, 0].detach()  # only where the background still claims the pixel
        gest, pos, prio = state.gestalt.clone(), state.position.clone(), state.priority.clone()
        ys = (torch.arange(h, device=rgb.device) + 0.5) / h * 2 - 1
        xs = (torch.arange(w, device=rgb.device) + 0.5) / w * 2 - 1
        with torch.no_grad():
            for bi in range(b):
                s = score[bi].clone()
                for slot in range(k):
                    if active[bi, slot] > 0:
                        continue
                    peak = int(torch.argmax(s))
                    if float(s.flatten()[peak]) < c.discovery_threshold:
                        break
                    y, x = divmod(peak, w)
                    z = float(depth[bi, 0, y, x]) if depth is not None and c.depth_input else 0.5
                    gest[bi, slot] = 0.0
                    pos[bi, slot] = torch.tensor([float(xs[x]), float(ys[y]), z, INIT_SIGMA], device=rgb.device)
                    prio[bi, slot] = 0.0  # as in the encoder-decoder pretraining; the encoder orders them
                    active[bi, slot] = 1.0
                    s = s * (gaussian(pos[bi, slot], h, w) < DISCOVERY_CLEAR)  # not twice on one object
        return SlotState(gest, pos, prio, active)

    def refine(self, state: SlotState, rgb, depth, bg: dict[str, torch.Tensor], passes: int, use_hyper: bool,
               recon: dict[str, torch.Tensor] | None = None) -> tuple[SlotState, dict[str, torch.Tensor], list]:
        """`passes` encoder updates, each followed by a render; returns the state, the last render
        and every pass's render."""
        renders = []
        if recon is None:
            recon = self.render(state, bg["rgb"], bg["depth"], bg["logit"])
        for _ in range(passes):
            w = recon["weights"]
            own = w[:, 1:]
            others = own.sum(1, keepdim=True) - own
            error = self.error_map(rgb, depth, recon)
            state = self.encoder(state, rgb, depth, error, own, others, w[:, :1], use_hyper)
            recon = self.render(state, bg["rgb"], bg["depth"], bg["logit"])
            renders.append(recon)
        return state, recon, renders

    def run_video(self, rgb: torch.Tensor, depth: torch.Tensor | None, passes: int | None = None,
                  use_hyper: bool | None = None) -> dict[str, Any]:
        """rgb (B,T,3,H,W), depth (B,T,1,H,W) in 0..1. Returns frames: per frame the final render and
        the state; predictions: per frame t >= 1 the render of the predicted slots (before the encoder
        saw frame t); gates: the predictor's gates."""
        passes = int(self.config.passes if passes is None else passes)
        use_hyper = bool(self.config.hyper if use_hyper is None else use_hyper)
        b, t = rgb.shape[:2]
        bgs = self.backgrounds(rgb, depth)
        state = self.empty_state(b, rgb.device)
        hidden = None
        frames, predictions, gates = [], [], []
        for i in range(t):
            x = rgb[:, i]
            d = depth[:, i] if depth is not None else None
            bg = {"rgb": bgs["rgb"][:, i], "depth": bgs["depth"][:, i], "logit": self.bg_logit(bgs["fg_logit"][:, i])}
            recon = None
            if i > 0:
                state, hidden, gate = self.predictor(state, hidden)
                gates.append(gate)
                recon = self.render(state, bg["rgb"], bg["depth"], bg["logit"])
                predictions.append(recon)
                error = self.error_map(x, d, recon)
                state = self.discover(state, x, d, error, recon["weights"])
            else:
                empty = {"rgb": bg["rgb"], "depth": bg["depth"]}
                state = self.discover(state, x, d, self.error_map(x, d, empty))
            recon = None if i == 0 else self.render(state, bg["rgb"], bg["depth"], bg["logit"])
            state, recon, _ = self.refine(state, x, d, bg, passes, use_hyper, recon)
            frames.append({**recon, "state": state})
        return {"frames": frames, "predictions": predictions, "gates": gates, "background": bgs}

    def load_parts(self, state_dict: dict[str, torch.Tensor], part: str, source: str = "") -> list[str]:
        """Copy the weights of `part` (a key of :data:`PARTS`) from a loci-s state dict; the keys copied.
        ValueError when the checkpoint has none of them or their shapes differ."""
        prefixes = PARTS[part]
        own = self.state_dict()
        keys = [k for k in state_dict if k.startswith(prefixes)]
        if not keys:
            raise ValueError(f"{source}: holds no {part} weights")
        bad = [k for k in keys if k not in own or own[k].shape != state_dict[k].shape]
        if bad:
            raise ValueError(f"{source}: {part} weights do not fit this model ({bad[0]}; other sizes?)")
        self.load_state_dict({**own, **{k: state_dict[k] for k in keys}})
        return keys


def video_tensors(video, device, size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A numpy video -> rgb (1,T,3,S,S) and depth (1,T,1,S,S) in 0..1 at the model's size."""
    rgb = torch.as_tensor(np.asarray(video["rgb"]), dtype=torch.float32, device=device).permute(0, 3, 1, 2) / 255.0
    depth = video.get("depth")
    d = None if depth is None else torch.as_tensor(np.asarray(depth), dtype=torch.float32, device=device)[:, None]
    if rgb.shape[-1] != size or rgb.shape[-2] != size:
        rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", align_corners=False)
        d = None if d is None else F.interpolate(d, size=(size, size), mode="nearest")
    return rgb[None], None if d is None else d[None]
