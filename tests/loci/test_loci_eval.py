"""`evaluate`: Loci-Segmented's keys beside ours, per frame and per video, empty frames reported."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mc_loci.evaluation import SUMMARY_KEYS, evaluate, score_video


class Frames:
    """A tiny in-memory data set of given videos."""

    def __init__(self, videos):
        self.videos = videos
        self.paths = [f"v{i}" for i in range(len(videos))]

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, i):
        return self.videos[i]


def video(masks):
    masks = np.asarray(masks, np.int64)
    return {"rgb": np.zeros((*masks.shape, 3), np.uint8), "depth": np.zeros(masks.shape, np.float32),
            "masks": masks}


def test_empty_frames_are_reported_and_iou_pools_objects_over_videos():
    a = np.zeros((2, 4, 4), np.int64)
    a[0, :2, :2] = 1          # frame 0: one object; frame 1: no foreground
    b = np.zeros((1, 4, 4), np.int64)
    b[0, :2, :2], b[0, 2:, :2], b[0, :2, 2:] = 1, 2, 3
    ds = Frames([video(a), video(b)])
    found = iter([a, np.where(b == 1, 1, 0)])   # video 0 exactly, video 1: one of its three objects
    result = evaluate(ds, lambda v: next(found), method="oracle-ish")
    assert set(SUMMARY_KEYS) <= set(result)
    assert result["frames"] == 3 and result["empty_frames"] == 1
    assert result["iou"] == pytest.approx((1 + 1) / (1 + 3))   # over all true objects of all frames
    rows = result["per_video"]
    assert rows[0]["empty_frames"] == 1 and rows[0]["frames"][1]["empty"] is True
    assert math.isnan(rows[0]["frames"][1]["fg_ari"])           # standard: undefined, left out of the mean
    assert rows[0]["frames"][1]["loci_fg_ari"] == 1.0            # Loci-Segmented's code scores it 1
    assert rows[0]["fg_ari"] == 1.0 and rows[0]["iou"] == 1.0
    assert rows[1]["iou"] == pytest.approx(1 / 3) and rows[1]["frames"][0]["objects"] == 3
    assert result["fg_ari"] == pytest.approx(np.mean([1.0, rows[1]["fg_ari"]]))
    assert "iou" in result["definitions"] and "loci_fg_ari" in result["definitions"]


def test_video_scores_ask_ids_to_persist():
    masks = np.zeros((2, 4, 4), np.int64)
    masks[:, :2, :2], masks[:, 2:, 2:] = 1, 2
    swapped = masks.copy()
    swapped[1] = np.where(masks[1] == 1, 2, np.where(masks[1] == 2, 1, 0))
    s = score_video(swapped, masks)
    assert s["iou"] == 1.0 and s["fg_ari"] == 1.0 and s["loci_fg_ari"] == 1.0     # per frame: perfect
    assert s["fg_ari_video"] < 1 and s["loci_fg_ari_video"] < 1 and s["matched_iou_video"] < 1
