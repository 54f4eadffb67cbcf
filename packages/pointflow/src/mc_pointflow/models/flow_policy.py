"""`pointflow-policy`: a flow-matching policy over action chunks with supervised 3D spatial attention.

Observation encoder (PointNet-style): every point gets a per-point MLP over its position and its
offset from the gripper; a global max-pooled feature and the robot-state history are added back to
each point (PointNet's segmentation trick), and a second per-point MLP gives the point feature and
one attention logit per point. The observation feature is the softmax(logits)-weighted sum of the
point features, so which points the policy looks at is exactly what the logits say. With supervised
attention the same logits get an auxiliary binary cross-entropy against the precomputed masks
(`attention_weight` > 0); without it they are free and learnt only through the flow loss.

Policy: conditional flow matching on the normalised action chunk (horizon x 10: xyz relative to
the current gripper position, the 6D rotation of the sim, gripper). Linear path x_t = (1 - t) x0 + t x1 from Gaussian noise x0 to the
data x1; the network regresses the velocity x1 - x0 (MSE). Sampling integrates dx/dt = v(x, t)
from noise with `steps` Euler steps; the rotation part is then projected to a valid rotation
(Gram-Schmidt).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

MODEL_NAME = "pointflow-policy"


@dataclass
class PolicyConfig:
    horizon: int = 16       # actions per chunk
    n_obs_steps: int = 2    # robot states of history
    action_dim: int = 10    # xyz, rot6d, gripper
    state_dim: int = 10
    point_width: int = 64   # first per-point MLP
    feat_dim: int = 128     # point feature (and pooled observation feature) size
    hidden: int = 256       # velocity network width
    n_blocks: int = 3       # residual blocks of the velocity network
    time_dim: int = 64      # sinusoidal time embedding
    relative_xyz: bool = True  # action positions relative to the current gripper position

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PolicyConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model option(s): {', '.join(sorted(unknown))}")
        cfg = cls(**d)
        if min(cfg.horizon, cfg.n_obs_steps, cfg.action_dim, cfg.state_dim, cfg.point_width, cfg.feat_dim,
               cfg.hidden, cfg.time_dim) < 1 or cfg.n_blocks < 0:
            raise ValueError("model sizes must be positive")
        from mc_pointflow.limits import MAX_BLOCKS, MAX_HORIZON, MAX_OBS_STEPS, MAX_WIDTH

        for name, limit in (("horizon", MAX_HORIZON), ("n_obs_steps", MAX_OBS_STEPS), ("point_width", MAX_WIDTH),
                            ("feat_dim", MAX_WIDTH), ("hidden", MAX_WIDTH), ("time_dim", MAX_WIDTH),
                            ("n_blocks", MAX_BLOCKS), ("state_dim", MAX_WIDTH)):
            if getattr(cfg, name) > limit:
                raise ValueError(f"{name} {getattr(cfg, name)} exceeds the limit of {limit}")
        if cfg.action_dim != 10 or cfg.state_dim < 3:
            raise ValueError("actions must be 10-D (xyz, rot6d, gripper) and states start with xyz")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mlp(*dims: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of flow times t in [0, 1] (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device, dtype=t.dtype) / max(half - 1, 1))
    ang = (t[:, None] * 100.0) * freqs[None]
    emb = torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)
    return F.pad(emb, (0, dim - 2 * half))


class PointAttentionEncoder(nn.Module):
    """Point cloud + state history -> (observation feature (B, 2F), attention logits (B, N))."""

    def __init__(self, cfg: PolicyConfig):
        super().__init__()
        w, f = cfg.point_width, cfg.feat_dim
        self.local = _mlp(6, w, f)
        self.state = _mlp(cfg.n_obs_steps * cfg.state_dim, f, f)
        # second per-point stage on [local, global, state]; the global and state parts are the same
        # for every point, so their share of the first layer is computed once per cloud
        self.mix_local = nn.Linear(f, f)
        self.mix_global = nn.Linear(f, f, bias=False)
        self.mix_state = nn.Linear(f, f, bias=False)
        self.point_feat = nn.Sequential(nn.GELU(), nn.Linear(f, f))
        self.logit = nn.Sequential(nn.GELU(), nn.Linear(f, 1))

    def forward(self, pts: torch.Tensor, rel: torch.Tensor, state: torch.Tensor):
        local = self.local(torch.cat([pts, rel], dim=-1))            # (B,N,F)
        glob = local.max(dim=1).values                               # (B,F)
        s = self.state(state.flatten(1))                             # (B,F)
        h = self.mix_local(local) + (self.mix_global(glob) + self.mix_state(s))[:, None]
        logits = self.logit(h).squeeze(-1)                           # (B,N)
        feats = self.point_feat(h)                                   # (B,N,F)
        weights = torch.softmax(logits, dim=1)
        pooled = torch.einsum("bn,bnf->bf", weights, feats)
        return torch.cat([pooled, s], dim=1), logits


class VelocityNet(nn.Module):
    """v(x_t, t | observation): residual MLP over the flattened chunk with FiLM conditioning."""

    def __init__(self, cfg: PolicyConfig):
        super().__init__()
        d, h = cfg.horizon * cfg.action_dim, cfg.hidden
        self.time_dim = cfg.time_dim
        self.cond = _mlp(2 * cfg.feat_dim + cfg.time_dim, h, h)
        self.inp = nn.Linear(d, h)
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"norm": nn.LayerNorm(h, elementwise_affine=False), "film": nn.Linear(h, 2 * h),
                           "mlp": _mlp(h, h, h)}) for _ in range(cfg.n_blocks))
        self.out = nn.Linear(h, d)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        c = self.cond(torch.cat([obs, time_embedding(t, self.time_dim)], dim=1))
        h = self.inp(x.flatten(1))
        for blk in self.blocks:
            scale, shift = blk["film"](F.gelu(c)).chunk(2, dim=1)
            h = h + blk["mlp"](blk["norm"](h) * (1 + scale) + shift)
        return self.out(F.gelu(h)).view_as(x)


class PointFlowPolicy(nn.Module):
    """Flow-matching policy over action chunks conditioned on an attention-pooled point cloud.

    Normalisation statistics (action and state mean/std, point centre and scale) are buffers, so
    they travel in the safetensors weights; set them from the training data with
    :meth:`set_normalization`.
    """

    name = MODEL_NAME
    needs_checkpoint = True  # `rollout --policy pointflow-policy` without --checkpoint is refused

    def __init__(self, config: PolicyConfig | dict | None = None, **kwargs: Any):
        super().__init__()
        if config is None or isinstance(config, dict):
            config = PolicyConfig.from_dict({**(config or {}), **kwargs})
        self.config = config
        # rollout settings (the Policy interface): points per observation (from the training data,
        # recorded in the checkpoint), Euler steps and the seed of the sampling noise
        self.n_points = 0
        self.euler_steps = 10
        self.seed = 0
        self.encoder = PointAttentionEncoder(config)
        self.velocity = VelocityNet(config)
        a, s = config.action_dim, config.state_dim
        self.register_buffer("action_mean", torch.zeros(a))
        self.register_buffer("action_std", torch.ones(a))
        self.register_buffer("state_mean", torch.zeros(s))
        self.register_buffer("state_std", torch.ones(s))
        self.register_buffer("point_center", torch.zeros(3))
        self.register_buffer("point_scale", torch.ones(()))

    @classmethod
    def from_checkpoint(cls, ck: Any) -> PointFlowPolicy:
        """The trained policy of an mc checkpoint (config["model"], weights, meta n_points)."""
        model = cls(PolicyConfig.from_dict(dict(ck.config.get("model") or {})))
        try:
            model.load_state_dict(ck.state_dict)
        except RuntimeError as exc:
            lines = str(exc).strip().splitlines()
            detail = lines[1].strip() if len(lines) > 1 else (lines[0] if lines else "")
            raise ValueError(f"weights do not fit the model config ({detail})") from None
        meta = ck.meta or {}
        model.n_points = int(meta.get("n_points") or (meta.get("mask_config") or {}).get("n_points") or 0)
        return model

    @property
    def horizon(self) -> int:
        return self.config.horizon

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- normalisation ------------------------------------------------------------------------
    @torch.no_grad()
    def set_normalization(self, stats: dict[str, Any]) -> None:
        for k in ("action_mean", "action_std", "state_mean", "state_std", "point_center", "point_scale"):
            getattr(self, k).copy_(torch.as_tensor(stats[k], dtype=torch.float32))

    def normalize_action(self, a: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        if self.config.relative_xyz:
            a = torch.cat([a[..., :3] - state[:, -1:, :3], a[..., 3:]], dim=-1)
        return (a - self.action_mean) / self.action_std

    def denormalize_action(self, a: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        a = a * self.action_std + self.action_mean
        if self.config.relative_xyz:
            a = torch.cat([a[..., :3] + state[:, -1:, :3], a[..., 3:]], dim=-1)
        return a

    def encode(self, pcd: torch.Tensor, state: torch.Tensor):
        """(observation feature, attention logits (B, N)) of clouds (B,N,3) and states (B,n_obs,S)."""
        pts = (pcd - self.point_center) / self.point_scale
        gripper = (state[:, -1, :3] - self.point_center) / self.point_scale
        rel = pts - gripper[:, None]
        return self.encoder(pts, rel, (state - self.state_mean) / self.state_std)

    # -- training -----------------------------------------------------------------------------
    def forward(self, pcd: torch.Tensor, state: torch.Tensor, action: torch.Tensor, mask: torch.Tensor,
                noise: torch.Tensor, t: torch.Tensor, attention_weight: float = 0.0,
                attention_pos_weight: float = 1.0) -> dict[str, torch.Tensor]:
        """Loss terms for a batch: `flow` (velocity MSE), `attention_bce` and `loss` (the sum used
        for training: flow + attention_weight * attention_bce). `noise` (like `action`) and `t` (B,)
        are given by the caller so that training is reproducible step by step.
        `attention_pos_weight` weighs the BCE terms of attended points (torch's `pos_weight`; the
        attended points are few, about 3% in the benchmark)."""
        flow, logits = self.flow_loss_per_item(pcd, state, action, noise, t)
        flow = flow.mean()
        pw = None if attention_pos_weight == 1.0 else torch.tensor(float(attention_pos_weight), device=logits.device)
        bce = F.binary_cross_entropy_with_logits(logits, mask.clamp(0, 1), pos_weight=pw)
        loss = flow + attention_weight * bce if attention_weight > 0 else flow
        return {"loss": loss, "flow": flow.detach(), "attention_bce": bce.detach(), "logits": logits.detach()}

    def flow_loss_per_item(self, pcd: torch.Tensor, state: torch.Tensor, action: torch.Tensor,
                           noise: torch.Tensor, t: torch.Tensor):
        """(velocity MSE per item (B,), attention logits (B, N)) on the linear path at times t."""
        obs, logits = self.encode(pcd, state)
        x1 = self.normalize_action(action, state)
        tt = t.view(-1, 1, 1)
        xt = (1 - tt) * noise + tt * x1
        err = (self.velocity(xt, t, obs) - (x1 - noise)) ** 2
        return err.flatten(1).mean(1), logits

    # -- inference ----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, pcd: torch.Tensor, state: torch.Tensor, *, steps: int = 10,
               generator: torch.Generator | None = None, noise: torch.Tensor | None = None):
        """(action chunks (B, horizon, 10) in world units with valid 6D rotations, attention logits).

        Starts from `noise` or from N(0, I) drawn with `generator` (on the CPU, so a seed gives the
        same chunks on every device) and takes `steps` Euler steps of the learnt velocity field."""
        if steps < 1:
            raise ValueError("steps must be >= 1")
        obs, logits = self.encode(pcd, state)
        B, cfg = pcd.shape[0], self.config
        if noise is None:
            noise = torch.randn(B, cfg.horizon, cfg.action_dim, generator=generator)
        x = noise.to(pcd.device, torch.float32)
        dt = 1.0 / steps
        for k in range(steps):
            t = torch.full((B,), k * dt, device=x.device)
            x = x + dt * self.velocity(x, t, obs)
        a = self.denormalize_action(x, state)
        return torch.cat([a[..., :3], project_rot6d_torch(a[..., 3:9]), a[..., 9:]], dim=-1), logits


    # -- acting in the sim (the Policy interface) ------------------------------------------------
    def observation(self, frame: Any, states: list, episode: int, n_points: int | None = None):
        """(points (n_points, 3), robot-state history (n_obs_steps, 10)) of the current step, built
        as training items are: the dataset's point indices of (episode, t), the state history rule."""
        import numpy as np

        from mc_pointflow.data.attention_dataset import history_steps
        from mc_pointflow.masks import sample_point_indices

        n = int(n_points or self.n_points)
        if n < 1:
            raise ValueError("n_points is not set (a checkpoint records it in meta n_points)")
        t = len(states) - 1
        idx = sample_point_indices(frame.pcd.shape[0], n, episode, t)
        hist = np.stack([states[h] for h in history_steps(t, self.config.n_obs_steps)])
        return frame.pcd[idx].astype(np.float32), hist.astype(np.float32)

    def act(self, env: Any, frame: Any, states: list, episode: int):
        """One action chunk (horizon, 10) sampled from noise fixed by (seed, episode, t)."""
        from mc_pointflow.evaluate import mix_seed

        pcd, hist = self.observation(frame, states, episode)
        cfg = self.config
        g = torch.Generator().manual_seed(mix_seed(self.seed, episode, len(states) - 1, 13))
        noise = torch.randn(1, cfg.horizon, cfg.action_dim, generator=g)
        dev = self.point_center.device
        chunk, _ = self.sample(torch.from_numpy(pcd)[None].to(dev), torch.from_numpy(hist)[None].to(dev),
                               steps=self.euler_steps, noise=noise)
        return chunk[0].cpu().numpy()


def project_rot6d_torch(r6: torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt on the two columns of a 6D rotation (..., 6)."""
    x = F.normalize(r6[..., :3], dim=-1, eps=1e-9)
    b = r6[..., 3:6]
    y = F.normalize(b - (x * b).sum(-1, keepdim=True) * x, dim=-1, eps=1e-9)
    return torch.cat([x, y], dim=-1)


def build_policy(config: dict[str, Any] | None = None, **kwargs: Any) -> PointFlowPolicy:
    """``PointFlowPolicy({**config, **kwargs})`` (kept for callers of the old factory function)."""
    return PointFlowPolicy({**(config or {}), **kwargs})


def load_policy(path, device: Any = "cpu"):
    """(policy in eval mode, mc_core Checkpoint) from a checkpoint directory, rebuilt through the
    model registry (any model registered for the pointflow commands; never unpickles)."""
    from mc_core.factory import load_model_and_checkpoint
    from mc_pointflow.interface import Policy

    return load_model_and_checkpoint(path, task="pointflow", protocol=Policy, device=device)
