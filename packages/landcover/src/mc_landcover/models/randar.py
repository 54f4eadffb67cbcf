"""RandAR: a decoder-only transformer over land-cover classes in random order.

Every class token is preceded by a *position-instruction token* that says where the next class
goes (Pang et al., "RandAR", CVPR 2025), so the model can generate pixels in any order, fill any
region and score any pixel given any others. There is no tokenizer: one token per pixel class.

Sequence for a map with L pixels visited in order p_0, p_1, ...::

    [BOS] [P p_0] [X p_0] [P p_1] [X p_1] ... [P p_{L-1}]

The output at [P p_t] predicts the class of pixel p_t. A position-instruction token is a learned
query vector plus a learned embedding of its pixel; a class token is a class embedding. Both
tokens of pixel p carry p's row and column through 2D rotary embeddings (half of each head's
dimensions rotate with the row, half with the column); BOS sits at the origin (0, 0) and pixels at
(row + 1, col + 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mc_landcover.legend import NUM_CLASSES

MODEL_NAME = "randar"


# Documented limits of the model config (memory grows with size^4 in attention and n_embd^2 * n_layer).
LIMITS: dict[str, tuple[float, float]] = {
    "num_classes": (2, 256), "size": (2, 128), "n_layer": (1, 64), "n_embd": (4, 4096), "n_head": (1, 64),
    "mlp_ratio": (0.25, 16.0), "dropout": (0.0, 0.99), "rope_base": (1.0, 1e6),
}


@dataclass
class RandARConfig:
    num_classes: int = NUM_CLASSES
    size: int = 32
    n_layer: int = 16
    n_embd: int = 256
    n_head: int = 16
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    rope_base: float = 100.0
    order: str = "random"  # training order: "random" (per sample) or "raster" (ablation)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RandARConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known - {"name"})
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        cfg = cls(**{k: v for k, v in d.items() if k in known})
        for name, (lo, hi) in LIMITS.items():
            value = getattr(cfg, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
        if cfg.n_embd % cfg.n_head:
            raise ValueError(f"n_embd {cfg.n_embd} is not divisible by n_head {cfg.n_head}")
        if (cfg.n_embd // cfg.n_head) % 4:
            raise ValueError("head dimension (n_embd / n_head) must be a multiple of 4 for 2D RoPE")
        if cfg.order not in ("random", "raster"):
            raise ValueError(f"order must be 'random' or 'raster', got {cfg.order!r}")
        return cfg


# -- 2D rotary embeddings ---------------------------------------------------------------------

class Rope2D(nn.Module):
    def __init__(self, head_dim: int, size: int, base: float):
        super().__init__()
        quarter = head_dim // 4
        inv = 1.0 / (base ** (torch.arange(quarter, dtype=torch.float32) / quarter))
        coords = torch.arange(size + 1, dtype=torch.float32)
        ang = coords[:, None] * inv[None]  # (size+1, quarter)
        self.register_buffer("cos", torch.cos(ang), persistent=False)
        self.register_buffer("sin", torch.sin(ang), persistent=False)
        self.size = size

    def tables(self, rc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """rc (B, S, 2) rotary coordinates -> cos, sin (B, 1, S, head_dim/2)."""
        r, c = rc[..., 0], rc[..., 1]
        cos = torch.cat([self.cos[r], self.cos[c]], dim=-1)[:, None]
        sin = torch.cat([self.sin[r], self.sin[c]], dim=-1)[:, None]
        return cos, sin


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.flatten(-2)


# -- transformer ------------------------------------------------------------------------------

class Attention(nn.Module):
    def __init__(self, cfg: RandARConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.head_dim = cfg.n_embd // cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=False)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)
        self.dropout = cfg.dropout

    def forward(self, x, cos, sin, mask, cache: dict | None = None, commit: int = 0):
        """mask: bool (B, 1, Q, K) True = may attend, or None for plain causal.

        With `cache`, keys/values of earlier tokens are prepended; the first `commit` new tokens
        are appended to the cache afterwards.
        """
        b, s, _ = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            # preallocated buffers: new keys/values are written after the committed ones and
            # attention reads a view, so a step costs no copy of the whole cache
            n0 = cache.get("len", 0)
            cap = cache.get("cap", 0)
            if "k" not in cache or n0 + s > cache["k"].shape[2]:
                grow = max(cap, n0 + s)
                kb = k.new_empty(b, self.n_head, grow, self.head_dim)
                vb = v.new_empty(b, self.n_head, grow, self.head_dim)
                if n0:
                    kb[:, :, :n0] = cache["k"][:, :, :n0]
                    vb[:, :, :n0] = cache["v"][:, :, :n0]
                cache["k"], cache["v"] = kb, vb
            cache["k"][:, :, n0:n0 + s] = k
            cache["v"][:, :, n0:n0 + s] = v
            k, v = cache["k"][:, :, :n0 + s], cache["v"][:, :, :n0 + s]
            cache["len"] = n0 + commit
        drop = self.dropout if self.training else 0.0
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        return self.proj(y.transpose(1, 2).reshape(b, s, -1))


class Block(nn.Module):
    def __init__(self, cfg: RandARConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        hidden = int(cfg.n_embd * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, hidden), nn.GELU(), nn.Linear(hidden, cfg.n_embd),
                                 nn.Dropout(cfg.dropout))

    def forward(self, x, cos, sin, mask, cache=None, commit=0):
        x = x + self.attn(self.ln1(x), cos, sin, mask, cache, commit)
        return x + self.mlp(self.ln2(x))


class RandAR(nn.Module):
    """Random-order autoregressive transformer over (size x size) class maps."""

    def __init__(self, config: RandARConfig | dict | None = None, **kwargs: Any):
        super().__init__()
        if config is None:
            config = RandARConfig.from_dict(kwargs)
        elif isinstance(config, dict):
            config = RandARConfig.from_dict({**config, **kwargs})
        self.config = config
        self.num_classes = config.num_classes
        self.size = config.size
        d = config.n_embd
        self.class_emb = nn.Embedding(config.num_classes, d)
        self.pos_emb = nn.Embedding(config.size * config.size, d)
        self.query = nn.Parameter(torch.zeros(d))
        self.bos = nn.Parameter(torch.zeros(d))
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.num_classes, bias=False)
        self.rope = Rope2D(d // config.n_head, config.size, config.rope_base)
        self.apply(self._init)
        nn.init.normal_(self.query, std=0.02)
        nn.init.normal_(self.bos, std=0.02)
        for blk in self.blocks:  # scaled init of residual projections (GPT-2)
            nn.init.normal_(blk.attn.proj.weight, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RandAR:
        """The registry's way in: a model config dict (``RandARConfig`` fields)."""
        return cls(RandARConfig.from_dict(dict(config)))

    def model_config(self) -> dict[str, Any]:
        """The config dict that rebuilds this model (``config["model"]`` of its checkpoints)."""
        return asdict(self.config)

    def class_embeddings(self):
        """(C, D) class-token embedding matrix as a numpy array."""
        return self.class_emb.weight.detach().float().cpu().numpy()

    @property
    def num_pixels(self) -> int:
        return self.size * self.size

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- embeddings of the two token kinds ------------------------------------------------------
    def _rc(self, positions: torch.Tensor) -> torch.Tensor:
        return torch.stack([positions // self.size + 1, positions % self.size + 1], dim=-1)

    def _query_tokens(self, positions: torch.Tensor) -> torch.Tensor:
        return self.query + self.pos_emb(positions)

    def _class_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.class_emb(tokens)

    def _interleave(self, tokens: torch.Tensor, positions: torch.Tensor, with_bos: bool = True):
        """[BOS] [P p0] [X p0] ... [P p_{n-1}] [X p_{n-1}] embeddings and rotary coordinates."""
        b, n = positions.shape
        qe, ce = self._query_tokens(positions), self._class_tokens(tokens)
        x = torch.stack([qe, ce], dim=2).reshape(b, 2 * n, qe.shape[-1])
        rc = self._rc(positions).repeat_interleave(2, dim=1)
        if with_bos:
            x = torch.cat([self.bos.expand(b, 1, -1), x], dim=1)
            rc = torch.cat([torch.zeros(b, 1, 2, dtype=rc.dtype, device=rc.device), rc], dim=1)
        return x, rc

    def _trunk(self, x, rc, mask, caches=None, commit=0):
        """Final-layer hidden states, layer-normalised (B, L, d)."""
        cos, sin = self.rope.tables(rc)
        x = self.drop(x)
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, mask, None if caches is None else caches[i], commit)
        return self.ln_f(x)

    def _run(self, x, rc, mask, caches=None, commit=0):
        return self.head(self._trunk(x, rc, mask, caches, commit))

    @torch.no_grad()
    def map_features(self, x: torch.Tensor, order: torch.Tensor | None = None) -> torch.Tensor:
        """One vector per map (B, d): the mean final hidden state over the map's class tokens.

        The whole map is fed (raster order unless `order` is given), so each class token's state
        has seen the pixels before it; the mean summarises the map as the model represents it.
        """
        x = self._check_maps(x)
        if order is None:
            order = self.raster_order(x.shape[0])
        self._check_positions(order)
        h, rc = self._interleave(x.flatten(1).gather(1, order), order)
        return self._trunk(h, rc, None)[:, 2::2].float().mean(dim=1)

    def _check_positions(self, positions: torch.Tensor) -> None:
        if positions.numel() and (int(positions.min()) < 0 or int(positions.max()) >= self.num_pixels):
            raise ValueError(f"positions must lie in [0, {self.num_pixels})")

    # -- training / scoring ----------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """tokens, positions (B, L) long -> logits (B, L, C).

        logits[:, t] predict the class at positions[:, t] given tokens[:, :t] at positions[:, :t].
        """
        self._check_positions(positions)
        x, rc = self._interleave(tokens, positions)
        x, rc = x[:, :-1], rc[:, :-1]  # the last class token predicts nothing
        logits = self._run(x, rc, None)
        return logits[:, 1::2]

    def random_order(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        gen_device = generator.device if generator is not None else self.device
        keys = torch.rand(batch, self.num_pixels, generator=generator, device=gen_device)
        return keys.argsort(dim=1).to(self.device)

    def raster_order(self, batch: int) -> torch.Tensor:
        return torch.arange(self.num_pixels, device=self.device).expand(batch, -1)

    def training_order(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.config.order == "raster":
            return self.raster_order(batch)
        return self.random_order(batch, generator)

    def _check_maps(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.size or x.shape[2] != self.size:
            raise ValueError(f"maps must have shape (B, {self.size}, {self.size}), got {tuple(x.shape)}")
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.num_classes):
            raise ValueError(f"class indices must lie in [0, {self.num_classes})")
        return x.long().to(self.device)

    def loss(self, x: torch.Tensor, order: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean cross-entropy (nats per pixel) of maps x (B, H, W) under the training order."""
        x = self._check_maps(x)
        if order is None:
            order = self.training_order(x.shape[0], generator)
        tokens = x.flatten(1).gather(1, order)
        logits = self(tokens, order)
        return F.cross_entropy(logits.reshape(-1, self.num_classes).float(), tokens.reshape(-1))

    def log_likelihood(self, x: torch.Tensor, order: torch.Tensor | None = None,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """log p(x) in nats, (B,), summed over pixels in `order` (random order when None)."""
        x = self._check_maps(x)
        if order is None:
            order = self.random_order(x.shape[0], generator)
        order = order.to(self.device).long()
        tokens = x.flatten(1).gather(1, order)
        logp = torch.log_softmax(self(tokens, order).float(), dim=-1)
        return logp.gather(-1, tokens[..., None])[..., 0].sum(1)

    def predict_masked(self, x: torch.Tensor, known_mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, H, W, C): each pixel's distribution given ALL known pixels, in one pass.

        The known pixels come first (raster order); then a position-instruction token for every
        pixel attends to BOS, the known pixels and itself only, so each is scored as if it came next.
        """
        x = self._check_maps(x)
        known = known_mask.to(self.device).bool().flatten(1)
        if known.shape != x.flatten(1).shape:
            raise ValueError("known_mask must have the same shape as x")
        # the attention mask is (B, S, S) with S = 1 + 2*known + H*W: bound its memory by chunking
        s_max = 1 + 2 * (int(known.sum(1).max()) if known.shape[0] else 0) + known.shape[1]
        chunk = max(1, int(2**27 // max(s_max * s_max, 1)))
        if x.shape[0] > chunk:
            return torch.cat([self._predict_masked(x[i:i + chunk], known[i:i + chunk])
                              for i in range(0, x.shape[0], chunk)])
        return self._predict_masked(x, known)

    def _predict_masked(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        b, n = known.shape
        counts = known.sum(1)
        kmax = int(counts.max()) if b else 0
        # known pixel positions first (raster), padded with position 0 (masked out below)
        key = torch.where(known, torch.arange(n, device=self.device), n + torch.arange(n, device=self.device))
        order = key.argsort(dim=1)[:, :kmax]
        valid = torch.arange(kmax, device=self.device)[None] < counts[:, None]  # (B, kmax)
        tokens = x.flatten(1).gather(1, order)
        prefix, prc = self._interleave(tokens, order)  # 1 + 2*kmax
        all_pos = torch.arange(n, device=self.device).expand(b, -1)
        queries = self._query_tokens(all_pos)
        seq = torch.cat([prefix, queries], dim=1)
        rc = torch.cat([prc, self._rc(all_pos)], dim=1)
        p = prefix.shape[1]
        key_valid = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=self.device),
                               valid.repeat_interleave(2, dim=1)], dim=1)  # (B, p)
        s = p + n
        mask = torch.zeros(b, s, s, dtype=torch.bool, device=self.device)
        causal = torch.ones(p, p, dtype=torch.bool, device=self.device).tril()
        mask[:, :p, :p] = causal[None] & key_valid[:, None, :]
        mask[:, p:, :p] = key_valid[:, None, :]
        idx = torch.arange(n, device=self.device)
        mask[:, p + idx, p + idx] = True
        mask[:, :p, :p] |= torch.eye(p, dtype=torch.bool, device=self.device)[None]  # padded rows attend to self
        logits = self._run(seq, rc, mask[:, None])
        return logits[:, p:].reshape(b, self.size, self.size, self.num_classes)

    # -- generation ------------------------------------------------------------------------------
    @staticmethod
    def cosine_schedule(total: int, steps: int) -> list[int]:
        """How many tokens each of `steps` steps decodes: few at first, more later (cosine)."""
        steps = max(1, min(int(steps), total))
        if total == 0:
            return []
        cum = [total * (1 - math.cos(math.pi / 2 * (s + 1) / steps)) for s in range(steps)]
        out, done = [], 0
        for s, c in enumerate(cum):
            target = max(done + 1, int(round(c)))
            target = min(target, total - (steps - 1 - s))  # leave >= 1 for each later step
            out.append(target - done)
            done = target
        out[-1] += total - done
        return out

    @torch.no_grad()
    def sample(self, n: int, *, known: torch.Tensor | None = None, known_mask: torch.Tensor | None = None,
               steps: int | None = None, temperature: float = 1.0, top_k: int | None = None,
               generator: torch.Generator | None = None, return_frames: bool = False,
               progress: Callable[[list[int]], Iterable[int]] | None = None):
        """Generate n maps (n, H, W) long in random order with a KV cache.

        `steps=None` decodes one pixel per step; `steps=K` decodes the unknown pixels in K steps of
        growing size (cosine schedule), each step predicting its pixels in parallel. With
        `known`/`known_mask`, the known pixels are fed first (inpainting) and kept as given.
        With `return_frames`, also returns the partial maps after each step (unknown = -1).
        `progress` wraps the list of per-step pixel counts (e.g. in a progress bar).
        """
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        dev = self.device
        L = self.num_pixels
        if known_mask is None:
            known_mask = torch.zeros(n, self.size, self.size, dtype=torch.bool)
            known = torch.zeros(n, self.size, self.size, dtype=torch.long)
        elif known is None:
            raise ValueError("known_mask needs known")
        known = known.to(dev).long()
        km = known_mask.to(dev).bool()
        if known.shape != (n, self.size, self.size) or km.shape != known.shape:
            raise ValueError(f"known and known_mask must have shape ({n}, {self.size}, {self.size})")
        km_flat = km.flatten(1)
        if km_flat.any() and (int(known[km].min()) < 0 or int(known[km].max()) >= self.num_classes):
            raise ValueError(f"known class indices must lie in [0, {self.num_classes})")
        n_known = km_flat.sum(1)
        kmax = int(n_known.max()) if n else 0
        n_unknown = L - n_known
        umax = L - int(n_known.min()) if n else 0
        # order: known pixels first (raster), then the unknown ones in random order
        rnd = torch.rand(n, L, generator=generator, device=generator.device if generator is not None else dev)
        rnd = rnd.to(dev)
        key = torch.where(km_flat, -2.0 + torch.arange(L, device=dev) / L, rnd)
        order = key.argsort(dim=1)
        out = torch.where(km_flat, known.flatten(1), torch.full_like(known.flatten(1), -1))
        frames = [out.view(n, self.size, self.size).clone().cpu()] if return_frames else None

        caches = [{"cap": 2 * L + 2} for _ in self.blocks]
        # prefill: BOS + known pairs, padded to kmax (padding masked out of every later query)
        tok_known = out.gather(1, order[:, :kmax]).clamp_min(0)
        x, rc = self._interleave(tok_known, order[:, :kmax])
        kv_valid = torch.cat([torch.ones(n, 1, dtype=torch.bool, device=dev),
                              (torch.arange(kmax, device=dev)[None] < n_known[:, None]).repeat_interleave(2, 1)], 1)
        p = x.shape[1]
        m = torch.ones(p, p, dtype=torch.bool, device=dev).tril()[None] & kv_valid[:, None, :]
        m |= torch.eye(p, dtype=torch.bool, device=dev)[None]
        self._run(x, rc, m[:, None], caches, commit=p)

        counts = self.cosine_schedule(umax, steps) if steps is not None else [1] * umax
        # per-sample pointer into its order where the unknown pixels start
        start = n_known.clone()
        done = torch.zeros(n, dtype=torch.long, device=dev)
        pend_pos = pend_tok = None  # pairs decoded in the previous step, not yet in the cache
        pend_valid = None
        ar = torch.arange(n, device=dev)
        for cnt in progress(counts) if progress is not None else counts:
            # positions to decode now (per sample; samples with fewer unknowns get padding)
            offs = torch.arange(cnt, device=dev)[None] + done[:, None]  # (n, cnt)
            q_valid = offs < n_unknown[:, None]
            idx = (start[:, None] + offs).clamp_max(L - 1)
            q_pos = order.gather(1, idx)
            parts, rcs, commit = [], [], 0
            if pend_pos is not None:
                px, prc = self._interleave(pend_tok, pend_pos, with_bos=False)
                parts.append(px)
                rcs.append(prc)
                commit = px.shape[1]
            parts.append(self._query_tokens(q_pos))
            rcs.append(self._rc(q_pos))
            xs, rcs = torch.cat(parts, 1), torch.cat(rcs, 1)
            s_new = xs.shape[1]
            cache_len = caches[0]["len"]
            new_valid = (torch.cat([pend_valid.repeat_interleave(2, 1), q_valid], 1)
                         if pend_pos is not None else q_valid)
            key_valid = torch.cat([kv_valid, new_valid], 1)  # (n, cache_len + s_new)
            mask = torch.zeros(n, s_new, cache_len + s_new, dtype=torch.bool, device=dev)
            mask[:, :, :cache_len] = kv_valid[:, None, :]
            if commit:
                mask[:, :commit, cache_len:cache_len + commit] = torch.ones(
                    commit, commit, dtype=torch.bool, device=dev).tril()[None]
                mask[:, commit:, cache_len:cache_len + commit] = True
            mask[:, :, cache_len:] &= key_valid[:, None, cache_len:]
            diag = torch.arange(s_new, device=dev)
            mask[:, diag, cache_len + diag] = True
            logits = self._run(xs, rcs, mask[:, None], caches, commit=commit)[:, commit:].float()
            if commit:
                kv_valid = torch.cat([kv_valid, pend_valid.repeat_interleave(2, 1)], 1)
            tok = self._sample_logits(logits, temperature, top_k, generator)
            out[ar[:, None].expand_as(q_pos)[q_valid], q_pos[q_valid]] = tok[q_valid]
            pend_pos, pend_tok, pend_valid = q_pos, tok.clamp_min(0), q_valid
            done = done + cnt
            if return_frames:
                frames.append(out.view(n, self.size, self.size).clone().cpu())
        result = out.view(n, self.size, self.size)
        return (result, frames) if return_frames else result

    def _sample_logits(self, logits, temperature, top_k, generator):
        logits = logits / temperature
        if top_k is not None and 0 < top_k < logits.shape[-1]:
            kth = logits.topk(top_k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        flat = probs.reshape(-1, probs.shape[-1])
        if generator is not None and generator.device != flat.device:
            draws = torch.multinomial(flat.cpu(), 1, generator=generator).to(flat.device)
        else:
            draws = torch.multinomial(flat, 1, generator=generator)
        return draws.view(probs.shape[:-1])
