"""Gibbs sampling with a RandAR model as the energy.

Each step picks one pixel (or a b x b block) per chain and resamples it from the model's
conditional given all other pixels, with the chosen pixels placed LAST in the order:
p(x_i | x_-i) via `predict_masked` (one pixel) or `sample` with everything else known (a block).

Caveat, stated plainly: a random-order model gives a different factorisation for every order, and
its conditionals from different orders are learned separately; they need not be the conditionals
of any single joint distribution. Plain Gibbs with them therefore need not converge to one
well-defined joint. `mh=True` makes the chain exact for ONE joint: the model's likelihood under a
fixed order o (raster by default), pi(x) = p(x; o). The conditional above is used as a proposal
q(x'_i | x_-i), accepted with probability

    min(1, pi(x') q(x_i | x_-i) / (pi(x) q(x'_i | x_-i)))

(x' equals x except at i, so x'_-i = x_-i). The acceptance rate says how far the conditionals are
from those of pi.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ChainResult:
    frames: np.ndarray        # (n_frames, n_chains, H, W) uint8 states
    steps: np.ndarray         # (n_frames,) step index of each frame
    acceptance_rate: float | None
    changed_rate: float       # fraction of steps that changed the state


def run_chains(model, init: np.ndarray, t: int, *, frame_interval: int = 100, block: int = 1,
               mh: bool = False, mh_order: str = "raster", temperature: float = 1.0, seed: int = 0,
               device="cpu") -> ChainResult:
    import torch

    from mc_core.progress import progress

    if mh and block != 1:
        raise ValueError("mh works with single-pixel updates (block=1)")
    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(np.asarray(init, dtype=np.int64)).to(device)
    n, h, w = x.shape
    L = h * w
    ar = torch.arange(n, device=device)
    fixed_order = (torch.arange(L) if mh_order == "raster" else torch.randperm(L, generator=gen))
    fixed_order = fixed_order.expand(n, -1).to(device)

    def joint(state):
        return model.log_likelihood(state, order=fixed_order).float()

    cur_ll = joint(x) if mh else None
    frames, steps = [x.cpu().numpy().astype(np.uint8)], [0]
    accepted = changed = 0
    for step in progress(range(1, t + 1), desc="gibbs", total=t):
        with torch.no_grad():
            if block == 1:
                pos = torch.randint(0, L, (n,), generator=gen).to(device)
                r, c = pos // w, pos % w
                known = torch.ones(n, h, w, dtype=torch.bool, device=device)
                known[ar, r, c] = False
                logits = model.predict_masked(x, known)[ar, r, c].float() / temperature
                logp = torch.log_softmax(logits, dim=-1)
                new = torch.multinomial(logp.exp().cpu(), 1, generator=gen)[:, 0].to(device)
                old = x[ar, r, c]
                prop = x.clone()
                prop[ar, r, c] = new
                if mh:
                    prop_ll = joint(prop)
                    log_a = prop_ll - cur_ll + logp[ar, old] - logp[ar, new]
                    u = torch.rand(n, generator=gen).to(device)
                    acc = torch.log(u) < log_a
                    accepted += int(acc.sum())
                    x = torch.where(acc[:, None, None], prop, x)
                    cur_ll = torch.where(acc, prop_ll, cur_ll)
                    changed += int((acc & (new != old)).sum())
                else:
                    changed += int((new != old).sum())
                    x = prop
            else:
                r0 = torch.randint(0, h - block + 1, (n,), generator=gen)
                c0 = torch.randint(0, w - block + 1, (n,), generator=gen)
                known = torch.ones(n, h, w, dtype=torch.bool)
                for i in range(n):
                    known[i, r0[i]:r0[i] + block, c0[i]:c0[i] + block] = False
                new = model.sample(n, known=x, known_mask=known.to(device), temperature=temperature,
                                   generator=gen).to(device)
                changed += int((new != x).flatten(1).any(1).sum())
                x = new
        if step % frame_interval == 0 or step == t:
            frames.append(x.cpu().numpy().astype(np.uint8))
            steps.append(step)
    return ChainResult(np.stack(frames), np.array(steps), accepted / (n * t) if mh else None,
                       changed / (n * t) if t else 0.0)


def save_chain_gif(path, frames: np.ndarray, steps: np.ndarray, scale: int = 4, duration_ms: int = 80) -> None:
    """Chains side by side, one GIF frame per saved frame, in NLCD colours."""
    from PIL import Image

    from mc_core.atomic import atomic_path
    from mc_landcover.legend import colorize

    imgs = []
    for fr in frames:
        n, h, w = fr.shape
        strip = np.zeros((h, n * (w + 2) - 2, 3), np.uint8) + 255
        for i in range(n):
            strip[:, i * (w + 2):i * (w + 2) + w] = colorize(fr[i])
        im = Image.fromarray(strip).resize((strip.shape[1] * scale, h * scale), Image.NEAREST)
        imgs.append(im.convert("P", palette=Image.ADAPTIVE, colors=64))
    with atomic_path(path) as tmp:
        imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=duration_ms, loop=0)


INITS = ("uniform", "sample", "data")


def chain_start_state(model, init: str, n_chains: int, rng: np.random.Generator, *, data=None,
                      seed: int = 0) -> np.ndarray:
    """(n_chains, size, size) start maps: uniform noise, a model sample, or test maps of `data`
    (chosen at random; repeated when there are fewer maps than chains)."""
    from mc_core.errors import BadInputError, UsageError

    size = int(model.size)
    if init == "uniform":
        return rng.integers(0, model.num_classes, size=(n_chains, size, size))
    if init == "sample":
        import torch

        return model.sample(n_chains, generator=torch.Generator().manual_seed(seed)).cpu().numpy()
    if init != "data":
        raise UsageError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    if data is None:
        raise UsageError("init 'data' needs data (a patches npz)")
    from mc_landcover.inpaint.data import load_maps, select_maps

    maps = load_maps(data, "test")
    if maps.shape[1] < size:
        raise BadInputError(data, f"maps are {maps.shape[1]}x{maps.shape[2]}, smaller than the model's {size}")
    x0 = select_maps(maps, n_chains, size, rng, data)
    if x0.shape[0] < n_chains:
        x0 = x0[rng.integers(0, x0.shape[0], n_chains)]
    return x0


MAX_CHAIN_WORK = 10**9  # n_chains x t x pixels one call may do


def sample_chain(checkpoint, *, config=None, t: int = 1000, n_chains: int = 5, block_size: int = 1,
                 mh: bool = False, mh_order: str = "raster", init: str = "uniform", data=None,
                 temperature: float = 1.0, frame_interval: int = 100, save_array="chains.npz",
                 output_file=None, seed: int = 0, device: str = "auto") -> ChainResult:
    """Gibbs chains with the model in `checkpoint` as energy (see the module docstring); saves the
    frames to the npz `save_array` and, with `output_file`, a GIF."""
    import math

    from mc_core.atomic import atomic_write
    from mc_core.device import resolve_device
    from mc_core.errors import UsageError
    from mc_core.paths import check_outputs
    from mc_core.seeding import seed_everything
    from mc_landcover.interface import LandcoverModel
    from mc_landcover.loading import load_landcover_model

    if mh and block_size != 1:
        raise UsageError("mh needs block_size 1")
    if not (math.isfinite(temperature) and temperature > 0):
        raise UsageError(f"temperature must be a positive finite number, got {temperature}")
    check_outputs([checkpoint, data], [save_array, output_file], not_inside_inputs=True)
    dev = resolve_device(device)
    model = load_landcover_model(checkpoint, config=config, device=dev, protocol=LandcoverModel)
    if block_size > model.size:
        raise UsageError(f"block_size {block_size} is larger than the {model.size}x{model.size} maps")
    if n_chains * t * model.size * model.size > MAX_CHAIN_WORK:
        raise UsageError(f"n_chains x t x pixels = {n_chains * t * model.size ** 2} is above the limit of "
                         f"{MAX_CHAIN_WORK}")
    rng = seed_everything(seed)
    x0 = chain_start_state(model, init, n_chains, rng, data=data, seed=seed)
    res = run_chains(model, x0, t, frame_interval=frame_interval, block=block_size, mh=mh, mh_order=mh_order,
                     temperature=temperature, seed=seed, device=dev)
    with atomic_write(save_array, "wb") as f:
        np.savez_compressed(f, frames=res.frames, steps=res.steps,
                            acceptance_rate=np.float64(np.nan if res.acceptance_rate is None else res.acceptance_rate),
                            changed_rate=np.float64(res.changed_rate), mh=np.bool_(mh),
                            block_size=np.int64(block_size))
    if output_file:
        save_chain_gif(output_file, res.frames, res.steps)
    return res
