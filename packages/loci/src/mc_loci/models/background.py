"""A learned, dynamic background module (after the background module of Loci-Segmented).

Per frame, a conv encoder (with dilated convs, so its view is wider than an object) and a robust
pooling route (each pixel gets a weight from its own colour and depth, and each bottleneck cell the
weighted mean) squeeze [RGB, depth] into a small latent grid, the bottleneck: by default 4 channels
at 1/4 resolution, 1024 numbers for a 64x64 frame of 16384 values. A conv decoder with a coordinate
grid turns it back into a full-resolution background colour and depth (a coarse image upsampled
bilinearly plus detail from an upsampling conv path). The latent of
frame t is a gated mix of the frame's own code and a transition of frame t-1's latent (the
"dynamic" part: the module carries what it has seen of the background from frame to frame, and a
pixel hidden in this frame may have been visible in the last).

It is trained without masks (``mc_loci.background_train``) by the per-pixel mixture likelihood of
:func:`background_nll`: a pixel is either background, a Gaussian around the predicted background
colour and depth, or an outlier (anything else, an object), uniform over the value range. The
bottleneck is too small to describe the objects on top of the background, and the robust mixture
makes an unexplained object pixel cost a bounded amount, so the net spends its capacity on the
background and fills it in under the objects. The foreground logit of a pixel is the log odds of
the outlier component given the frame (:func:`foreground_logit`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mc_loci.models import config_from_dict, resolve_config

MODEL_NAME = "loci-background"
LOG_2PI = math.log(2 * math.pi)


@dataclass
class BackgroundConfig:
    hidden: int = 32            # conv channels
    latent_channels: int = 4    # channels of the bottleneck grid
    downsample: int = 2         # number of stride-2 stages: the bottleneck is at 1/2**downsample resolution
    depth_input: bool = True    # read and predict depth too
    temporal: bool = True       # carry the latent from frame to frame (dynamic background)
    # mixture parameters (0..1 colour and depth units): the std of the background Gaussian and the
    # outlier prior are not learned by gradient but re-estimated in closed form from the posteriors
    # of each training batch (the M-step of EM), smoothed by an exponential moving average; they
    # start broad, so early training fits everything (like an MSE) and becomes robust as the fit
    # improves
    init_sigma: float = 0.3
    init_fg_prior: float = 0.1
    min_sigma: float = 0.01
    ema: float = 0.9

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BackgroundConfig:
        cfg = config_from_dict(cls, d, "background model")
        for name, top in (("hidden", 1024), ("latent_channels", 256), ("downsample", 5)):
            value = getattr(cfg, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ValueError(f"{name} must be an integer in 1..{top}, got {value!r}")
        if not 0 < cfg.min_sigma <= cfg.init_sigma < 1 or not 0 < cfg.init_fg_prior < 1:
            raise ValueError("need 0 < min_sigma <= init_sigma < 1 and 0 < init_fg_prior < 1")
        if not 0 <= cfg.ema < 1:
            raise ValueError("ema must be in [0, 1)")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coords(h: int, w: int, device) -> torch.Tensor:
    ys = torch.linspace(-1.0, 1.0, h, device=device)
    xs = torch.linspace(-1.0, 1.0, w, device=device)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([yy, xx], 0)[None]  # (1,2,H,W)


class BackgroundModule(nn.Module):
    """Learned background: see the module docstring."""

    model_name = MODEL_NAME

    def __init__(self, config: BackgroundConfig | dict | None = None, **kwargs: Any):
        super().__init__()
        self.config = c = resolve_config(BackgroundConfig, config, kwargs)
        self.channels = 4 if c.depth_input else 3
        h = c.hidden
        enc: list[nn.Module] = []
        cin = self.channels + 2
        for _ in range(c.downsample):
            enc += [nn.Conv2d(cin, h, 3, stride=2, padding=1), nn.ReLU()]
            cin = h
        # dilated convs at the bottleneck resolution: a receptive field wider than an object, so
        # the code under an object can be filled in from the background around it
        for dilation in (1, 2, 4):
            enc += [nn.Conv2d(h, h, 3, padding=dilation, dilation=dilation), nn.ReLU()]
        self.encoder = nn.Sequential(*enc)
        # robust pooling: a per-pixel weight from the pixel's own values (learns to drop object-like
        # pixels), and the weighted mean of each bottleneck cell; gives the latent a direct, fast
        # to learn route for the coarse background colour and depth
        self.pool_weight = nn.Sequential(nn.Conv2d(self.channels, h, 1), nn.ReLU(), nn.Conv2d(h, 1, 1))
        self.to_latent = nn.Conv2d(h + self.channels + 1, c.latent_channels, 1)
        if c.temporal:
            self.transition = nn.Conv2d(c.latent_channels, c.latent_channels, 3, padding=1)
            self.gate = nn.Conv2d(2 * c.latent_channels, c.latent_channels, 1)
        self.dec_in = nn.Sequential(nn.Conv2d(c.latent_channels + 2, h, 3, padding=1), nn.ReLU(),
                                    nn.Conv2d(h, h, 3, padding=1), nn.ReLU())
        # a coarse background at the bottleneck resolution, upsampled bilinearly, plus detail from
        # an upsampling conv path
        self.dec_coarse = nn.Conv2d(h, self.channels, 1)
        self.dec_up = nn.ModuleList(nn.Conv2d(h + 2, h, 3, padding=1) for _ in range(c.downsample))
        self.dec_out = nn.Conv2d(h, self.channels, 1)
        # mixture parameters (buffers, see BackgroundConfig): std of the background Gaussian
        # (colour, depth) and prior of the outlier (foreground) component
        self.register_buffer("sigma", torch.full((2,), float(c.init_sigma)))
        self.register_buffer("fg_prior", torch.tensor(float(c.init_fg_prior)))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- mc_loci.VideoSegmenter: the learned-cc segmentation of a video -----------------------------

    @property
    def needs_depth(self) -> bool:
        return bool(self.config.depth_input)

    @property
    def device(self) -> torch.device:
        return self.sigma.device

    def segment(self, video) -> np.ndarray:
        """Instance ids (T,H,W): connected components of the foreground map (:func:`learned_cc`)."""
        return learned_cc(self, video, self.device)

    def _frames(self, rgb: torch.Tensor, depth: torch.Tensor | None) -> torch.Tensor:
        if self.config.depth_input:
            if depth is None:
                raise ValueError("this background model needs depth input")
            return torch.cat([rgb, depth], 2)
        return rgb

    def decode(self, z: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Latent grid (N,C,h,w) -> background (N,3|4,H,W) in 0..1."""
        x = self.dec_in(torch.cat([z, _coords(*z.shape[-2:], z.device).expand(len(z), -1, -1, -1)], 1))
        coarse = F.interpolate(self.dec_coarse(x), size=size, mode="bilinear", align_corners=False)
        for i, conv in enumerate(self.dec_up):
            last = i == len(self.dec_up) - 1
            shape = size if last else (x.shape[-2] * 2, x.shape[-1] * 2)
            x = F.interpolate(x, size=shape, mode="bilinear", align_corners=False)
            x = F.relu(conv(torch.cat([x, _coords(*shape, x.device).expand(len(x), -1, -1, -1)], 1)))
        return torch.sigmoid(coarse + self.dec_out(x))

    def forward(self, rgb: torch.Tensor, depth: torch.Tensor | None = None,
                state: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """rgb (B,T,3,H,W) in 0..1, depth (B,T,1,H,W) (when the model reads depth).

        Returns bg (B,T,3|4,H,W) (background colour, then depth when the model reads depth), latent
        (B,T,C,h,w) and state (B,C,h,w), the last latent, to continue a video with (``state``).
        """
        b, t, _, hh, ww = rgb.shape
        x = (self._frames(rgb, depth).flatten(0, 1) - 0.5) * 4.0
        feats = self.encoder(torch.cat([x, _coords(hh, ww, x.device).expand(len(x), -1, -1, -1)], 1))
        a = torch.sigmoid(self.pool_weight(x))
        f = 2 ** self.config.downsample
        mass = F.avg_pool2d(a, f, ceil_mode=True)
        pooled = F.avg_pool2d(a * x, f, ceil_mode=True) / (mass + 1e-3)
        codes = self.to_latent(torch.cat([feats, pooled, mass], 1))
        codes = codes.reshape(b, t, *codes.shape[1:])
        latents = []
        z = state
        for i in range(t):
            own = codes[:, i]
            if self.config.temporal and z is not None:
                carried = z + self.transition(z)
                g = torch.sigmoid(self.gate(torch.cat([own, carried], 1)))
                own = g * own + (1 - g) * carried
            z = own
            latents.append(z)
        lat = torch.stack(latents, 1)
        bg = self.decode(lat.flatten(0, 1), (hh, ww)).reshape(b, t, self.channels, hh, ww)
        return {"bg": bg, "latent": lat, "state": z}

    # -- the mixture ------------------------------------------------------------------------------

    def log_likelihoods(self, bg: torch.Tensor, rgb: torch.Tensor, depth: torch.Tensor | None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pixel log joint of the background and the outlier component, each (B,T,H,W).

        Background: log(1 - prior) + log N(colour | bg colour, s_c^2 I) [+ log N(depth | bg depth,
        s_d^2)]. Outlier: log prior + log of the uniform density over [0,1]^3 [x [0,1]], i.e. 0.
        """
        s = self.sigma
        ll = (-0.5 * ((rgb - bg[:, :, :3]) / s[0]) ** 2 - s[0].log() - 0.5 * LOG_2PI).sum(2)
        if self.config.depth_input and depth is not None:
            ll = ll + (-0.5 * ((depth - bg[:, :, 3:4]) / s[1]) ** 2 - s[1].log() - 0.5 * LOG_2PI).sum(2)
        log_bg = torch.log1p(-self.fg_prior) + ll
        log_fg = self.fg_prior.log().expand_as(log_bg)
        return log_bg, log_fg

    @torch.no_grad()
    def update_mixture(self, out: dict[str, torch.Tensor], rgb: torch.Tensor, depth: torch.Tensor | None) -> None:
        """M-step for the mixture parameters from one batch: the posterior-weighted RMS residual of
        the background (per colour channel, and of depth) and the mean outlier posterior, blended
        into the running values with weight 1 - ema."""
        log_bg, log_fg = self.log_likelihoods(out["bg"], rgb, depth)
        w = torch.sigmoid(log_bg - log_fg)[:, :, None]  # posterior of the background
        total = w.sum().clamp_min(1e-6)
        new_sigma = self.sigma.clone()
        new_sigma[0] = (((rgb - out["bg"][:, :, :3]) ** 2 * w).sum() / (3 * total)).sqrt()
        if self.config.depth_input and depth is not None:
            new_sigma[1] = (((depth - out["bg"][:, :, 3:4]) ** 2 * w).sum() / total).sqrt()
        new_sigma = new_sigma.clamp(self.config.min_sigma, 0.5)
        new_prior = (1 - w.mean()).clamp(1e-3, 0.5)
        a = self.config.ema
        self.sigma.mul_(a).add_((1 - a) * new_sigma)
        self.fg_prior.mul_(a).add_((1 - a) * new_prior)


def background_nll(model: BackgroundModule, out: dict[str, torch.Tensor], rgb: torch.Tensor,
                   depth: torch.Tensor | None) -> torch.Tensor:
    """Mean per-pixel negative log-likelihood of the frames under the background/outlier mixture."""
    log_bg, log_fg = model.log_likelihoods(out["bg"], rgb, depth)
    return -torch.logaddexp(log_bg, log_fg).mean()


def background_fit_loss(model: BackgroundModule, out: dict[str, torch.Tensor], rgb: torch.Tensor,
                        depth: torch.Tensor | None) -> torch.Tensor:
    """The training loss of the network: the squared error of the background prediction, weighted
    per pixel by the posterior that the pixel is background (fixed within the step: an EM step).

    The exact M-step of the Gaussian would weight colour and depth by 1/sigma^2; depth is far
    sharper than colour (sigma ~0.02 vs ~0.1), so that weighting drowns the colour gradient in
    the shared layers and colour was not learned at all in our runs. Here colour (mean over the
    three channels) and depth count equally."""
    with torch.no_grad():
        log_bg, log_fg = model.log_likelihoods(out["bg"], rgb, depth)
        w = torch.sigmoid(log_bg - log_fg)
    err = ((out["bg"][:, :, :3] - rgb) ** 2).mean(2)
    if model.config.depth_input and depth is not None:
        err = err + ((out["bg"][:, :, 3:4] - depth) ** 2)[:, :, 0]
    return (w * err).sum() / w.sum().clamp_min(1.0)


def foreground_logit(model: BackgroundModule, out: dict[str, torch.Tensor], rgb: torch.Tensor,
                     depth: torch.Tensor | None) -> torch.Tensor:
    """Log odds (B,T,H,W) that a pixel is an outlier (foreground) rather than background."""
    log_bg, log_fg = model.log_likelihoods(out["bg"], rgb, depth)
    return log_fg - log_bg


def video_inputs(video: dict, device="cpu", need_depth: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """numpy video (rgb (T,H,W,3) uint8, depth (T,H,W)) -> (rgb (1,T,3,H,W) 0..1, depth (1,T,1,H,W))."""
    rgb = torch.as_tensor(video["rgb"], dtype=torch.float32, device=device).permute(0, 3, 1, 2)[None] / 255.0
    depth = None
    if need_depth:
        if video.get("depth") is None:
            raise ValueError("this background model needs depth but the video has no 'depth' array")
        depth = torch.as_tensor(np.asarray(video["depth"]), dtype=torch.float32, device=device)[None, :, None]
    return rgb, depth


@torch.no_grad()
def estimate_video(model: BackgroundModule, video: dict, device="cpu") -> dict[str, np.ndarray]:
    """Run the module over a whole video (frame by frame, carrying the latent).

    Returns colour (T,H,W,3) float32 in 0..255, depth (T,H,W) float32 (None for an RGB-only model)
    and fg_logit (T,H,W) float32."""
    model.eval()
    rgb, depth = video_inputs(video, device, model.config.depth_input)
    out = model(rgb, depth)
    logit = foreground_logit(model, out, rgb, depth)[0]
    bg = out["bg"][0]
    return {"colour": (bg[:, :3].permute(0, 2, 3, 1) * 255.0).cpu().numpy(),
            "depth": bg[:, 3].cpu().numpy() if model.config.depth_input else None,
            "fg_logit": logit.cpu().numpy()}


def load_background_and_checkpoint(path, device="cpu") -> tuple[BackgroundModule, Any]:
    """A ready-to-use background module (eval mode, on `device`) and its checkpoint, rebuilt through
    the model registry; BadInputError (one line, naming the path) when the checkpoint holds
    another model or its weights do not fit."""
    from mc_core.errors import BadInputError
    from mc_core.factory import load_model_and_checkpoint
    from mc_loci.interface import TASK, VideoSegmenter

    model, ck = load_model_and_checkpoint(path, task=TASK, protocol=VideoSegmenter, device=device)
    if ck.model != MODEL_NAME or not isinstance(model, BackgroundModule):
        raise BadInputError(ck.path, f"checkpoint holds a {ck.model!r} model, expected {MODEL_NAME!r}")
    return model, ck


def load_background(path, device="cpu") -> BackgroundModule:
    """A ready-to-use background module (eval mode, on `device`) from a checkpoint."""
    return load_background_and_checkpoint(path, device)[0]


@torch.no_grad()
def learned_cc(model: BackgroundModule, video: dict, device="cpu", *, min_area: int = 6) -> np.ndarray:
    """The learned-cc baseline: instance ids (T,H,W) from the module's foreground map (logit > 0),
    as connected components linked over time (``mc_loci.baselines.linked_components``)."""
    from mc_loci.baselines import linked_components

    return linked_components(estimate_video(model, video, device)["fg_logit"] > 0, min_area=min_area)
