"""Licence-clean sample masks shipped with mc-codec.

`sample_root()` holds `masks/street/*.png` (generated street scenes, CamVid-style ids 0..11),
`masks/nlcd/*.png` (real NLCD 2011 land-cover tiles, public domain, ids 0..15 as listed in
`nlcd_legend.json`) and a fixed split in `splits/{train,val,test}.txt` (paths relative to
`masks/`). Regenerate with `packages/codec/scripts/make_samples.py`.
"""

from __future__ import annotations

from pathlib import Path

from mc_codec.samples.street import CLASS_NAMES as STREET_CLASS_NAMES
from mc_codec.samples.street import generate_street_like

__all__ = ["STREET_CLASS_NAMES", "generate_street_like", "sample_root"]


def sample_root() -> Path:
    """Folder of the shipped samples: `masks/` (data root) and `splits/` (splits dir)."""
    return Path(__file__).resolve().parent / "data"
