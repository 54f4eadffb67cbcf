"""The loss of each Loci-Segmented stage (what one training step minimises)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mc_loci.models.loci_segmented.slots import SlotState, coords


def _masked_mse(pred, target, mask):
    return ((pred - target) ** 2 * mask).sum() / (mask.sum() * pred.shape[1]).clamp_min(1.0)


def mask_iou(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean IoU of thresholded mask logits (N,1,H,W) against binary masks."""
    pred = logits > 0
    true = mask > 0.5
    inter = (pred & true).sum((1, 2, 3)).float()
    union = (pred | true).sum((1, 2, 3)).float().clamp_min(1.0)
    return (inter / union).mean()


def psnr(mse: torch.Tensor) -> torch.Tensor:
    return -10 * torch.log10(mse.clamp_min(1e-10))


def decoder_loss(model, part: str, batch) -> dict[str, torch.Tensor]:
    """Decoder pretraining on single objects: the part's object encoder reads the true object, the
    part's decoder reconstructs it at the object's true position (the true mask feeds the depth and
    RGB decoders, as the decoded mask does later)."""
    pos, mask, size = batch["position"], batch["mask"], tuple(batch["mask"].shape[-2:])
    if part == "mask":
        code = model.gestalt_code(model.mask_encoder(mask, pos))
        logit = model.mask_decoder(code, pos, size)
        bce = F.binary_cross_entropy_with_logits(logit, mask)
        return {"loss": bce, "mask_bce": bce, "mask_iou": mask_iou(logit.detach(), mask)}
    if part == "depth":
        code = model.gestalt_code(model.depth_encoder(torch.cat([mask, mask * batch["depth"]], 1), pos))
        depth = model.depth_decoder(code, pos, mask, size)
        mse = _masked_mse(depth, batch["depth"], mask)
        return {"loss": mse * 10, "depth_mse": mse, "depth_psnr": psnr(mse.detach())}
    code = model.gestalt_code(model.rgb_encoder(torch.cat([mask, mask * batch["rgb"]], 1), pos))
    rgb = model.rgb_decoder(code, pos, mask, batch["depth"], size)
    mse = _masked_mse(rgb, batch["rgb"], mask)
    return {"loss": mse * 10, "rgb_mse": mse, "rgb_psnr": psnr(mse.detach())}


def encoder_decoder_loss(model, batch, passes: int, use_hyper: bool) -> dict[str, torch.Tensor]:
    """Encoder-decoder pretraining on frames whose true objects seed the slots: after every pass,
    cross-entropy of the composed masks against the true objects (each object -> its slot) plus
    the reconstruction of the frame and its depth; the mean over passes."""
    b, k = batch["position"].shape[:2]
    dev = batch["rgb"].device
    g = torch.zeros(b, k, 3 * model.config.gestalt, device=dev)
    state = SlotState(g, batch["position"], torch.zeros(b, k, device=dev), batch["active"])
    logit = model.bg_logit(torch.zeros_like(batch["depth"]))
    bg = {"rgb": batch["bg"], "depth": batch["bg_depth"], "logit": logit}
    depth_in = batch["depth"] if model.config.depth_input else None
    _, _, renders = model.refine(state, batch["rgb"], depth_in, bg, passes, use_hyper)
    ce = rgb = dep = 0.0
    for r in renders:
        ce = ce + F.cross_entropy(r["logits"], batch["target"], ignore_index=-100)
        rgb = rgb + F.mse_loss(r["rgb"], batch["rgb"])
        dep = dep + F.mse_loss(r["depth"], batch["depth"])
    n = len(renders)
    ce, rgb, dep = ce / n, rgb / n, dep / n
    last = renders[-1]
    with torch.no_grad():
        fg = batch["target"] > 0
        acc = (last["ids"] == batch["target"])[batch["target"] >= 0].float().mean()
        iou = ((last["ids"] > 0) & fg).sum() / ((last["ids"] > 0) | fg).sum().clamp_min(1)
        final_rgb = F.mse_loss(last["rgb"], batch["rgb"])
        final_depth = F.mse_loss(last["depth"], batch["depth"])
    return {"loss": ce + 10 * (rgb + dep), "mask_ce": ce, "rgb_mse": rgb, "depth_mse": dep, "pixel_acc": acc,
            "fg_iou": iou, "rgb_psnr": psnr(final_rgb), "depth_psnr": psnr(final_depth)}


def _centroids(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centroid (B,K,2) and area (B,K) of each slot's composed mask (B,1+K,H,W)."""
    h, w = weights.shape[-2:]
    yy, xx = coords(h, w, weights.device)
    m = weights[:, 1:]
    area = m.sum((2, 3))
    c = torch.stack([(m * xx).sum((2, 3)), (m * yy).sum((2, 3))], -1) / area[..., None].clamp_min(1e-3)
    return c, area


def loci_loss(model, rgb, depth, passes: int, use_hyper: bool, weights: dict[str, float]) -> dict[str, torch.Tensor]:
    """Final Loci training on clips, no labels: reconstruction of every frame after the encoder
    passes, prediction of frames t >= 1 from the slots of frame t - 1, the slot-location-entity
    regularisation (a slot's position stays on the centre of its own mask), sparse predictor gates,
    a small Gestalt-saturation term, and the proposal network trained on the model's own slots."""
    out = model.run_video(rgb, depth if model.config.depth_input else depth, passes, use_hyper)
    use_depth = model.config.depth_input
    rec = pred = loc = prop = 0.0
    t = rgb.shape[1]
    h, w = rgb.shape[-2:]
    for i, f in enumerate(out["frames"]):
        rec = rec + F.mse_loss(f["rgb"], rgb[:, i]) + (F.mse_loss(f["depth"], depth[:, i]) if use_depth else 0.0)
        st: SlotState = f["state"]
        cen, area = _centroids(f["weights"])
        alive = (area > model.config.min_area).float() * st.active
        loc = loc + (((st.position[..., :2] - cen.detach()) ** 2).sum(-1) * alive).sum() / alive.sum().clamp_min(1.0)
        # proposal target: a small Gaussian at each slot that explains part of the frame
        with torch.no_grad():
            yy, xx = coords(h, w, rgb.device)
            px, py = st.position[..., 0, None, None], st.position[..., 1, None, None]
            heat = (torch.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * 0.08 ** 2)) * alive[..., None, None]).amax(1)
            err = model.error_map(rgb[:, i], depth[:, i] if use_depth else None,
                                  {"rgb": out["background"]["rgb"][:, i], "depth": out["background"]["depth"][:, i]})
        logit = model.proposal(rgb[:, i], depth[:, i] if use_depth else None, err)
        prop = prop + F.binary_cross_entropy_with_logits(logit, heat[:, None])
    for i, p in enumerate(out["predictions"]):
        pred = pred + F.mse_loss(p["rgb"], rgb[:, i + 1]) + (F.mse_loss(p["depth"], depth[:, i + 1]) if use_depth else 0.0)
    gate = torch.stack(out["gates"]).mean() if out["gates"] else torch.zeros((), device=rgb.device)
    codes = torch.sigmoid(out["frames"][-1]["state"].gestalt)
    saturation = (codes * (1 - codes)).mean()
    rec, loc, prop = rec / t, loc / t, prop / t
    pred = pred / max(1, t - 1)
    total = (weights["recon"] * rec + weights["prediction"] * pred + weights["location"] * loc
             + weights["gate"] * gate + weights["saturation"] * saturation + weights["proposal"] * prop)
    with torch.no_grad():
        last = out["frames"][-1]
        rgb_mse = F.mse_loss(last["rgb"], rgb[:, -1])
    return {"loss": total, "recon": rec, "prediction": pred, "location": loc, "gate": gate,
            "saturation": saturation, "proposal": prop, "rgb_psnr": psnr(rgb_mse),
            "slots": last["state"].active.sum(1).mean()}


__all__ = ["decoder_loss", "encoder_decoder_loss", "loci_loss", "mask_iou", "psnr"]
