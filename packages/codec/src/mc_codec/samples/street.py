"""Generated street-scene label maps with CamVid-style class ids (0..11).

The scenes are drawn in perspective from a random vanishing point: sky, a skyline of building
facades on both sides, a road that widens towards the camera with dashed lane marks, sidewalks,
a fence, trees (canopies made of overlapping ellipses), poles with signs, cars on the road and
parked by the kerb, pedestrians and cyclists, and void (unlabelled) outlines and an ego-vehicle
bonnet as in hand-labelled data. Boundaries are jittered a little so that they are not perfectly
straight. Everything is deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np

# CamVid 11-class ids (SegNet release); 11 is void / unlabelled.
SKY, BUILDING, POLE, ROAD, SIDEWALK, TREE, SIGN, FENCE, CAR, PEDESTRIAN, BICYCLIST, VOID = range(12)
CLASS_NAMES = ["sky", "building", "pole", "road", "sidewalk", "tree", "sign-symbol",
               "fence", "car", "pedestrian", "bicyclist", "void"]


def _jitter(rng: np.random.Generator, n: int, amp: float, smooth: int) -> np.ndarray:
    """A smooth random 1-D offset of length n (for ragged, hand-drawn looking edges)."""
    if amp <= 0:
        return np.zeros(n)
    noise = rng.normal(0, 1, n + 2 * smooth)
    kernel = np.ones(2 * smooth + 1) / (2 * smooth + 1)
    sm = np.convolve(noise, kernel, mode="same")[smooth:smooth + n]
    sm /= max(np.abs(sm).max(), 1e-9)
    return sm * amp


def _ellipse(yy, xx, cy, cx, ry, rx):
    return ((yy - cy) / max(ry, 0.5)) ** 2 + ((xx - cx) / max(rx, 0.5)) ** 2 <= 1.0


def _box(m, y0, y1, x0, x1, value, region=None):
    h, w = m.shape
    y0, y1 = max(int(round(y0)), 0), min(int(round(y1)), h)
    x0, x1 = max(int(round(x0)), 0), min(int(round(x1)), w)
    if y1 <= y0 or x1 <= x0:
        return
    if region is None:
        m[y0:y1, x0:x1] = value
    else:
        sub = m[y0:y1, x0:x1]
        sub[region[y0:y1, x0:x1]] = value


def generate_street_like(seed: int, height: int = 360, width: int = 480) -> np.ndarray:
    """A (height, width) uint8 street-scene label map with CamVid-style ids 0..11."""
    rng = np.random.default_rng(seed)
    H, W = int(height), int(width)
    if H < 8 or W < 8:
        raise ValueError("height and width must be at least 8")
    m = np.full((H, W), SKY, dtype=np.uint8)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)

    hz = H * rng.uniform(0.36, 0.5)           # horizon row
    vx = W * rng.uniform(0.38, 0.62)          # vanishing point column
    road_slope = rng.uniform(0.9, 1.6)        # road half-width grows by this per row below horizon
    walk_slope = road_slope * rng.uniform(1.35, 1.8)
    depth = np.clip(yy - hz, 0, None)         # rows below the horizon (0 above it)

    # --- buildings: facades on both sides, tops rising towards the image edges ------------------
    cols = np.arange(W)
    top = np.full(W, hz, dtype=np.float64)
    for side in (-1, 1):
        x = vx + side * rng.uniform(4, 20)
        while (side < 0 and x > 0) or (side > 0 and x < W):
            fw = rng.uniform(0.04, 0.16) * W
            x_next = x + side * fw
            dist = abs((x + x_next) / 2 - vx) / (W / 2)
            t = hz - dist * hz * rng.uniform(0.6, 1.5) - rng.uniform(0, 0.12) * hz
            if rng.random() < 0.12:           # a gap in the skyline
                t = hz - rng.uniform(0, 0.05) * hz
            lo, hi = sorted((x, x_next))
            top[(cols >= lo) & (cols < hi)] = t
            x = x_next
    top += _jitter(rng, W, 1.5, 2)
    m[yy >= top[None, :]] = BUILDING

    # ground: sidewalk wedge, road wedge (edges jittered per row)
    rows_j = _jitter(rng, H, 2.0, 6)[:, None]
    below = yy >= hz
    walk = below & (np.abs(xx - vx) <= walk_slope * depth + 1 + rows_j)
    road = below & (np.abs(xx - vx) <= road_slope * depth + rows_j)
    m[walk] = SIDEWALK
    m[road] = ROAD

    # dashed lane marks along the centre and, sometimes, lane edges (painted symbols: id 6)
    phase = rng.uniform(0, 1)
    for frac in ([0.0] if rng.random() < 0.5 else [-0.5, 0.5]):
        lx = vx + frac * road_slope * depth
        half = 0.02 * road_slope * depth + 0.4
        dash = ((np.log1p(depth) * 3.0 + phase) % 1.0) < 0.5
        m[road & (np.abs(xx - lx) <= half) & dash & (depth > 6)] = SIGN

    # fence along one side, on the outer edge of the sidewalk (about 1.2 m high)
    if rng.random() < 0.5:
        side = rng.choice([-1, 1])
        d_x = np.abs(xx - vx) / walk_slope            # depth of the kerb line under each column
        u_x = road_slope * d_x / 4.0                   # pixels per metre there
        base = hz + d_x
        band = ((xx - vx) * side > 0) & (yy <= base) & (yy >= base - 1.2 * u_x) & ~walk
        m[band] = FENCE

    # --- trees: canopies of overlapping ellipses with a trunk, standing on the sidewalk --------
    for _ in range(rng.integers(0, 5)):
        side = rng.choice([-1, 1])
        d = rng.uniform(0.1, 0.9) * (H - hz)
        base_y = hz + d
        base_x = vx + side * (road_slope + walk_slope) / 2 * d
        u = road_slope * d / 4.0                        # pixels per metre at this depth
        size = u * rng.uniform(2.0, 3.5) + 2
        trunk_w = max(1.0, u * 0.2)
        _box(m, base_y - u * 3.5, base_y, base_x - trunk_w, base_x + trunk_w, TREE)
        cy, cx = base_y - u * 3.5 - size * 0.6, base_x
        canopy = np.zeros((H, W), bool)
        for _ in range(rng.integers(3, 8)):
            canopy |= _ellipse(yy, xx, cy + rng.normal(0, size * 0.25), cx + rng.normal(0, size * 0.35),
                               size * rng.uniform(0.3, 0.6), size * rng.uniform(0.35, 0.7))
        m[canopy] = TREE

    # --- poles (with a sign on some) at the kerb ----------------------------------------------
    for _ in range(rng.integers(1, 6)):
        side = rng.choice([-1, 1])
        d = rng.uniform(0.05, 1.0) * (H - hz)
        base_y = hz + d
        px = vx + side * (road_slope * 1.08) * d + side * 2
        u = road_slope * d / 4.0
        ph = u * rng.uniform(5.0, 9.0) + 4
        pw = max(1.0, u * 0.2)
        _box(m, base_y - ph, base_y, px - pw / 2, px + pw / 2 + 0.5, POLE)
        if rng.random() < 0.5:
            s = max(2.0, u * rng.uniform(0.6, 1.0))
            _box(m, base_y - ph, base_y - ph + s, px - s / 2, px + s / 2, SIGN)

    # --- cars: on the road (far ones first so near ones occlude them) and parked at the kerb ---
    cars = []
    for _ in range(rng.integers(0, 6)):
        cars.append((rng.uniform(0.04, 0.8) * (H - hz), rng.choice([-0.5, 0.5]) + rng.normal(0, 0.05)))
    for _ in range(rng.integers(0, 4)):
        cars.append((rng.uniform(0.05, 0.9) * (H - hz), rng.choice([-1, 1]) * rng.uniform(0.85, 0.95)))
    outline = rng.random() < 0.5
    for d, lane in sorted(cars):
        base_y = hz + d
        cx = vx + lane * road_slope * d
        u = road_slope * d / 4.0
        cw = u * rng.uniform(1.7, 2.1) + 2
        ch = u * rng.uniform(1.4, 1.9) + 1
        body = ((yy <= base_y) & (yy >= base_y - ch * 0.55) & (np.abs(xx - cx) <= cw / 2))
        cabin = ((yy < base_y - ch * 0.5) & (yy >= base_y - ch) &
                 (np.abs(xx - cx) <= cw / 2 * (0.55 + 0.35 * (yy - (base_y - ch)) / max(ch * 0.5, 1))))
        shape = body | cabin
        if outline and d > 20:
            ring = np.zeros_like(shape)
            ring[1:, :] |= shape[:-1, :]
            ring[:, 1:] |= shape[:, :-1]
            ring[:, :-1] |= shape[:, 1:]
            m[ring & ~shape] = VOID
        m[shape] = CAR

    # --- pedestrians and cyclists on the sidewalk / road edge ----------------------------------
    for _ in range(rng.integers(0, 5)):
        side = rng.choice([-1, 1])
        d = rng.uniform(0.05, 0.9) * (H - hz)
        base_y = hz + d
        is_bike = rng.random() < 0.25
        x = vx + side * (road_slope * (0.9 if is_bike else rng.uniform(1.1, 1.5))) * d
        ph = road_slope * d / 4.0 * rng.uniform(1.6, 1.9) + 3
        body = _ellipse(yy, xx, base_y - ph * 0.55, x, ph * 0.45, max(ph * 0.13, 0.8))
        head = _ellipse(yy, xx, base_y - ph * 0.93, x, ph * 0.08, max(ph * 0.07, 0.6))
        shape = body | head
        if is_bike:
            shape |= _ellipse(yy, xx, base_y - ph * 0.15, x, ph * 0.15, ph * 0.35)
        m[shape] = BICYCLIST if is_bike else PEDESTRIAN

    # --- void: an ego-vehicle bonnet at the bottom on some frames ------------------------------
    if rng.random() < 0.35:
        bonnet = H - rng.uniform(0.03, 0.09) * H + 0.02 * H * ((xx - W / 2) / (W / 2)) ** 2
        m[yy >= bonnet] = VOID
    return m
