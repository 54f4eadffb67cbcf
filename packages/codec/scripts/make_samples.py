"""Regenerate the sample masks shipped in `mc_codec/samples/data/` (reproducible, byte-for-byte ids).

Run from the repository root:

    uv run python packages/codec/scripts/make_samples.py --nlcd /path/to/zion_nlcd2011.tif

- street: 16 generated street-scene label maps (`generate_street_like(seed)`, seeds 0..15,
  480x360, CamVid-style ids 0..11).
- nlcd: the 20 tiles of 256x256 cut from the NLCD 2011 Zion crop (public domain; USGS/MRLC, crop
  from the spDataLarge R package, CC0): the raster is cut into a grid of 256x256 tiles in raster
  order and tiles holding nodata (255) are dropped. Every second remaining tile is `zion_NNNN`
  (10 tiles); the others are `zion_extra_NNNN` (10 tiles, training data only). NLCD class codes
  are mapped to contiguous ids 0..15 in legend order (see `nlcd_legend.json`).
- splits: a fixed split: street seeds 0-9 train, 10-11 val, 12-15 test; nlcd tiles 0-5 and all
  extra tiles train, 6 val, 7-9 test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from mc_codec.data.masks import write_mask  # noqa: E402
from mc_codec.samples.street import CLASS_NAMES, generate_street_like  # noqa: E402

# NLCD 2011 (CONUS) legend: code -> name, in the order that defines our contiguous ids.
NLCD_LEGEND = [
    (11, "Open Water"), (12, "Perennial Ice/Snow"), (21, "Developed, Open Space"),
    (22, "Developed, Low Intensity"), (23, "Developed, Medium Intensity"),
    (24, "Developed, High Intensity"), (31, "Barren Land"), (41, "Deciduous Forest"),
    (42, "Evergreen Forest"), (43, "Mixed Forest"), (52, "Shrub/Scrub"),
    (71, "Grassland/Herbaceous"), (81, "Pasture/Hay"), (82, "Cultivated Crops"),
    (90, "Woody Wetlands"), (95, "Emergent Herbaceous Wetlands"),
]
N_STREET, STREET_SPLIT = 16, {"train": range(0, 10), "val": range(10, 12), "test": range(12, 16)}
TILE, N_NLCD, NLCD_SPLIT = 256, 10, {"train": range(0, 6), "val": range(6, 7), "test": range(7, 10)}


def nlcd_tiles(tif: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(the tiles named zion_NNNN, the extra training tiles)."""
    import rasterio

    with rasterio.open(tif) as ds:
        codes = ds.read(1)
        nodata = ds.nodata if ds.nodata is not None else 255
    lut = np.full(256, 255, dtype=np.uint8)
    for i, (code, _) in enumerate(NLCD_LEGEND):
        lut[code] = i
    tiles = []
    for r in range(codes.shape[0] // TILE):
        for c in range(codes.shape[1] // TILE):
            t = codes[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE]
            if (t == nodata).any():
                continue
            ids = lut[t]
            if (ids == 255).any():
                raise SystemExit(f"{tif}: unknown NLCD code in tile ({r}, {c})")
            tiles.append(ids)
    kept = tiles[::2][:N_NLCD]
    if len(kept) < N_NLCD:
        raise SystemExit(f"{tif}: only {len(kept)} usable tiles, need {N_NLCD}")
    return kept, tiles[1::2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nlcd", type=Path, default=Path("/work/shared/data/nlcd/zion_nlcd2011.tif"))
    ap.add_argument("--out", type=Path, default=HERE.parent / "src" / "mc_codec" / "samples" / "data")
    args = ap.parse_args()

    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for seed in range(N_STREET):
        rel = f"street/street_{seed:04d}.png"
        write_mask(out / "masks" / rel, generate_street_like(seed))
        for name, rng in STREET_SPLIT.items():
            if seed in rng:
                splits[name].append(rel)
    kept, extra = nlcd_tiles(args.nlcd)
    for i, tile in enumerate(kept):
        rel = f"nlcd/zion_{i:04d}.png"
        write_mask(out / "masks" / rel, tile)
        for name, rng in NLCD_SPLIT.items():
            if i in rng:
                splits[name].append(rel)
    for i, tile in enumerate(extra):
        rel = f"nlcd/zion_extra_{i:04d}.png"
        write_mask(out / "masks" / rel, tile)
        splits["train"].append(rel)
    (out / "splits").mkdir(parents=True, exist_ok=True)
    for name, items in splits.items():
        (out / "splits" / f"{name}.txt").write_text("".join(f"{p}\n" for p in items))
    (out / "street_classes.json").write_text(json.dumps(
        {str(i): n for i, n in enumerate(CLASS_NAMES)}, indent=2) + "\n")
    (out / "nlcd_legend.json").write_text(json.dumps(
        {str(i): {"nlcd_code": code, "name": name} for i, (code, name) in enumerate(NLCD_LEGEND)},
        indent=2) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out}: {N_STREET} street + {N_NLCD} + {len(extra)} nlcd masks, {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
