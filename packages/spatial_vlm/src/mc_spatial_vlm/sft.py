"""Supervised fine-tuning of a local HF vision-language model on task JSONs (transformers + accelerate).

Each sample becomes a chat: the user turn holds the images and the prompt, the assistant turn the
answer. The LLaVA-style first human turn gets `"<image>\\n" * num_images` in front (the JSONs carry
none); the dataset checks it and turns each `<image>` into an image item of the chat template. Labels
are the answer tokens only: every prompt token (images included) is -100 in the loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mc_core.errors import BadInputError, McError, UsageError
from mc_spatial_vlm.data.tasks import (
    human_and_answer,
    is_concat,
    load_task_json,
    sample_images,
    split_image_tokens,
    task_data_sha256,
    with_image_tokens,
)
from mc_spatial_vlm.models.hf_vlm import prepare_images, user_message

IGNORE_INDEX = -100
META_FILE = "mc_meta.json"  # written beside the HF files of a fine-tuned model folder
META_FORMAT = "mc-spatial-vlm-sft"


class SpatialSFTDataset:
    """Task samples -> processor tensors with prompt-masked labels."""

    def __init__(self, samples: list[dict[str, Any]], processor, *, image_folder: str = "/",
                 image_aspect_ratio: str = "resize", image_size: int = 448, model_max_length: int = 8192,
                 source: str = ""):
        self.samples, self.processor = samples, processor
        self.image_folder, self.aspect, self.size = image_folder, image_aspect_ratio, image_size
        self.max_length, self.source = model_max_length, source
        if not samples:
            raise BadInputError(source or None, "no samples to train on")

    def __len__(self) -> int:
        return len(self.samples)

    def conversation(self, i: int) -> dict[str, Any]:
        """The LLaVA-style sample with `<image>\\n` * num_images inserted in the first human turn."""
        s = self.samples[i]
        try:
            images = sample_images(s, self.image_folder)
            prompt, answer = human_and_answer(s)
        except ValueError as e:
            raise BadInputError(self.source or None, f"sample {i} ({s.get('id')}): {e}") from None
        if answer is None:
            raise BadInputError(self.source or None, f"sample {i} ({s.get('id')}): no gpt answer to train on")
        human = with_image_tokens(prompt, len(images))
        expected = 1 if is_concat(s) else len(images)
        if not human.startswith("<image>\n" * expected):
            raise AssertionError(f"sample {i}: first human turn must start with <image>\\n x {expected}")
        return {"images": images, "human": human, "answer": answer}

    def __getitem__(self, i: int) -> dict[str, Any]:
        conv = self.conversation(i)
        n, text = split_image_tokens(conv["human"])
        if n != len(conv["images"]):
            raise AssertionError(f"sample {i}: {n} <image> tokens for {len(conv['images'])} images")
        pil = prepare_images(conv["images"], self.aspect, self.size)
        user = [user_message(n, text)]
        prompt = self.processor.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
        full = self.processor.apply_chat_template(
            user + [{"role": "assistant", "content": [{"type": "text", "text": conv["answer"]}]}], tokenize=False)
        if not full.startswith(prompt):
            full = prompt + conv["answer"] + (self.processor.tokenizer.eos_token or "")
        enc = self.processor(text=[full], images=pil, return_tensors="pt")
        prompt_len = self.processor(text=[prompt], images=pil, return_tensors="pt")["input_ids"].shape[1]
        length = enc["input_ids"].shape[1]
        if length > self.max_length:
            raise BadInputError(self.source or None, f"sample {i} has {length} tokens, above model_max_length "
                                                     f"{self.max_length}")
        item = {k: v[0] if k in ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids") else v
                for k, v in enc.items()}
        labels = item["input_ids"].clone()
        labels[:prompt_len] = IGNORE_INDEX
        item["labels"] = labels
        return item


def make_collator(pad_id: int) -> Callable:
    import torch

    seq_pad = {"input_ids": pad_id, "attention_mask": 0, "labels": IGNORE_INDEX, "mm_token_type_ids": 0,
               "token_type_ids": 0}

    def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
        batch: dict[str, Any] = {}
        longest = max(it["input_ids"].shape[0] for it in items)
        for key in items[0]:
            vals = [it[key] for it in items]
            if key in seq_pad:
                out = torch.full((len(vals), longest), seq_pad[key], dtype=vals[0].dtype)
                for j, v in enumerate(vals):
                    out[j, : v.shape[0]] = v
                batch[key] = out
            else:  # per-image tensors (pixel_values, image_grid_thw): stacked along the first axis
                batch[key] = torch.cat(vals, dim=0)
        return batch

    return collate


def check_dataloader(data_json: str, model: str, *, image_folder: str = "/", batch_size: int = 1,
                     image_aspect_ratio: str = "resize", image_size: int = 448, model_max_length: int = 8192,
                     echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Build the dataset and dataloader, take one batch, check it; no model is loaded.

    A failed check (the seed's AssertionError: `<image>` tokens, image counts) is bad input naming
    `data_json` (exit 2).
    """
    try:
        return _check_dataloader(data_json, model, image_folder=image_folder, batch_size=batch_size,
                                 image_aspect_ratio=image_aspect_ratio, image_size=image_size,
                                 model_max_length=model_max_length, echo=echo)
    except AssertionError as e:
        raise BadInputError(data_json, f"dataloader check failed: {e}") from None


def _check_dataloader(data_json: str, model: str, *, image_folder: str, batch_size: int, image_aspect_ratio: str,
                      image_size: int, model_max_length: int, echo: Callable[[str], None]) -> dict[str, Any]:
    import torch

    from mc_spatial_vlm.models.hf_vlm import load_processor

    processor = load_processor(model)
    samples = load_task_json(data_json)
    ds = SpatialSFTDataset(samples, processor, image_folder=image_folder, image_aspect_ratio=image_aspect_ratio,
                           image_size=image_size, model_max_length=model_max_length, source=data_json)
    conv = ds.conversation(0)
    n_img = len(conv["images"])
    assert conv["human"].startswith("<image>\n" * n_img), "first human turn lacks the <image> tokens"
    dl = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False,
                                     collate_fn=make_collator(processor.tokenizer.pad_token_id or 0))
    batch = next(iter(dl))
    per_sample = [len(ds.conversation(i)["images"]) for i in range(min(batch_size, len(ds)))]
    echo(f"samples: {len(ds)}  batch size: {batch['input_ids'].shape[0]}")
    echo(f"media['image']: len = {n_img} (first sample; <image> tokens in its first human turn: "
         f"{conv['human'].count('<image>')})")
    info: dict[str, Any] = {"num_images": n_img, "shapes": {}}
    for k, v in batch.items():
        if hasattr(v, "shape"):
            echo(f"{k}: {tuple(v.shape)} {str(v.dtype).replace('torch.', '')}")
            info["shapes"][k] = list(v.shape)
    if "image_grid_thw" in batch:
        grids = batch["image_grid_thw"]
        if grids.shape[0] != sum(per_sample):
            raise McError(f"batch has {grids.shape[0]} images, samples have {sum(per_sample)}")
        echo(f"first image shape: {tuple(grids[0].tolist())} (grid t, h, w)")
        merge = getattr(processor.image_processor, "merge_size", 1)
        image_token_id = getattr(processor, "image_token_id", None)
        if image_token_id is not None:
            expected = int((grids.prod(dim=-1) // (merge * merge)).sum())
            got = int((batch["input_ids"] == image_token_id).sum())
            if got != expected:
                raise McError(f"{got} image tokens in input_ids but the images need {expected}")
            echo(f"image tokens: {got} (matches the image grids)")
    labels = batch["labels"]
    supervised = int((labels != IGNORE_INDEX).sum())
    if supervised == 0:
        raise McError("no supervised (answer) tokens in the batch")
    echo(f"supervised tokens: {supervised} of {labels.numel()}")
    echo("OK: one-batch dataloader check passed")
    info["supervised_tokens"] = supervised
    return info


def freeze_vision(model) -> int:
    """Turn off gradients of the vision tower; returns how many parameters were frozen."""
    n = 0
    for name, p in model.named_parameters():
        if any(key in name for key in ("visual", "vision_tower", "vision_model", "vision_encoder")):
            p.requires_grad_(False)
            n += p.numel()
    return n


def plot_losses(path: Path, losses: list[float]) -> None:
    """The training loss per step (and a running mean when there are many steps) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    steps = np.arange(1, len(losses) + 1)
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    ax.plot(steps, losses, lw=1, alpha=0.5 if len(losses) > 20 else 1.0, label="loss")
    if len(losses) > 20:
        k = max(2, len(losses) // 20)
        ax.plot(steps[k - 1:], np.convolve(losses, np.ones(k) / k, mode="valid"), lw=2,
                label=f"mean of {k} steps")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def sft_metadata(model: str, model_type: str | None, data_json: str, data_sha256: str, num_samples: int,
                 steps: int, args: dict[str, Any]) -> dict[str, Any]:
    """The contents of `mc_meta.json`: what was trained from what, with which code and settings."""
    import datetime as dt
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for dist in ("mc-spatial-vlm", "mc-core", "torch", "transformers", "accelerate"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return {"format": META_FORMAT, "model": str(model), "model_type": model_type,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "mc_spatial_vlm_version": versions.get("mc-spatial-vlm"), "versions": versions,
            "data_json": str(data_json), "data_sha256": data_sha256, "num_samples": num_samples,
            "steps": steps, "args": args}


def train_sft(model: str, data_json: str, out_dir: str, *, image_folder: str = "/", freeze_vision_tower: bool = False,
              image_aspect_ratio: str = "resize", image_size: int = 448, model_max_length: int = 8192,
              max_steps: int = 100, batch_size: int = 1, lr: float = 1e-5, grad_accum: int = 1, seed: int = 0,
              device: str = "auto", log_every: int = 1, save_every: int = 0, resume: bool = False,
              max_minutes: float | None = None, progress: Callable | None = None,
              echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Fine-tune and save an HF model folder (safetensors + processor) that `eval` loads like any other.

    While training runs, `OUT_DIR.train.log` gets one flushed line per step (step, epoch, loss, lr,
    elapsed time) for `tail -f`; a resumed run appends to it, and at the end it becomes
    `OUT_DIR/train.log`. Every `save_every` steps the model, optimizer state and position in the data go to
    `<out_dir>.resume/` (atomically); `resume=True` continues from there. That folder is removed
    once the final model is written, with `mc_meta.json` (base model, versions, training args and
    the data hash of :func:`task_data_sha256`) beside the HF files.

    As every `train` command (mc_core.training): `resume=True` with nothing to resume, or a new run
    into an `out_dir` that holds a run (a resume point or a model), is bad input (exit 2); `device`
    "cuda" without CUDA is exit 2; `max_minutes` ends the run cleanly after that many minutes with
    a resume point and the model folder so far (`log["stopped"]` is "time-budget"; continue with
    `resume=True`); a non-finite loss stops it (exit 1) with the last resume point kept.
    """
    import json
    import shutil
    import time

    import torch
    from accelerate import Accelerator

    from mc_core.atomic import atomic_dir, write_json, write_text
    from mc_core.checkpoint import load_state, save_state
    from mc_core.device import resolve_device
    from mc_core.seeding import seed_everything
    from mc_spatial_vlm.models.hf_vlm import load_model, load_processor
    from mc_spatial_vlm.trainlog import TrainLog, live_log_path

    if max_minutes is not None and not (math.isfinite(max_minutes) and max_minutes > 0):
        raise UsageError(f"max_minutes must be a positive finite number, got {max_minutes}")
    if not (math.isfinite(lr) and lr > 0):
        raise UsageError(f"lr must be a positive finite number, got {lr}")
    resume_dir = Path(str(out_dir).rstrip("/") + ".resume")
    if resume and not (resume_dir / "train_state.json").is_file():
        raise BadInputError(resume_dir, "nothing to resume: no resume point here (one is saved every save_every "
                                        "steps and at a time budget)")
    if not resume and (resume_dir / "train_state.json").is_file():
        raise BadInputError(resume_dir, "an interrupted run is here: resume it (--resume) or choose another "
                                        "out_dir")
    if not resume and Path(out_dir).exists():
        raise BadInputError(out_dir, "already holds a run: choose another out_dir")
    seed_everything(seed)
    dev = resolve_device(device)
    accelerator = Accelerator(cpu=dev.type == "cpu", gradient_accumulation_steps=grad_accum)
    processor = load_processor(model)
    samples = load_task_json(data_json)
    ds = SpatialSFTDataset(samples, processor, image_folder=image_folder, image_aspect_ratio=image_aspect_ratio,
                           image_size=image_size, model_max_length=model_max_length, source=data_json)
    data_sha256 = task_data_sha256(data_json, samples, image_folder)  # before training: a missing image fails now
    state = None
    if resume:
        state = json.loads((resume_dir / "train_state.json").read_text())
        trained_on = state.get("data_sha256")
        if trained_on is not None and trained_on != data_sha256:
            raise BadInputError(data_json, f"is not the data the interrupted run in {resume_dir} trained on "
                                           f"(data hash {data_sha256[:12]} != {trained_on[:12]}); "
                                           "start over without resuming")
        net = load_model(resume_dir, "cpu")
        echo(f"resuming from {resume_dir} at step {state['step']}")
    else:
        net = load_model(model, "cpu")
    frozen = freeze_vision(net) if freeze_vision_tower else 0
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, generator=gen,
                                     collate_fn=make_collator(processor.tokenizer.pad_token_id or 0))
    net, optimizer, dl = accelerator.prepare(net, optimizer, dl)
    net.train()
    losses: list[float] = []
    step, epoch, skip = 0, 0, 0
    if state is not None:
        optimizer.load_state_dict(load_state(resume_dir / "optimizer.safetensors"))
        step, epoch, skip, losses = state["step"], state["epoch"], state["batch_in_epoch"], state["losses"]
    args = {"image_aspect_ratio": image_aspect_ratio, "image_size": image_size, "model_max_length": model_max_length,
            "batch_size": batch_size, "lr": lr, "grad_accum": grad_accum, "seed": seed,
            "freeze_vision": freeze_vision_tower, "max_steps": max_steps, "image_folder": str(image_folder),
            "num_processes": accelerator.num_processes}
    log_path = live_log_path(out_dir)
    # the live log (tail -f): appended to by a resumed run, moved into OUT_DIR as train.log at the end
    train_log = TrainLog(log_path if accelerator.is_main_process else None, append=state is not None)
    if accelerator.is_main_process:
        echo(f"live log: {log_path} (follow it with tail -f)")
    if state is not None:
        train_log.write(f"resume from step {step} ({resume_dir})")
    else:
        train_log.write(f"start model={model} data={data_json} samples={len(ds)} data_sha256={data_sha256[:12]} "
                        + " ".join(f"{k}={v}" for k, v in args.items()))

    def save_resume(position: int) -> None:
        if not accelerator.is_main_process:
            return
        with atomic_dir(resume_dir) as tmp:
            accelerator.unwrap_model(net).save_pretrained(tmp)
            save_state(Path(tmp) / "optimizer.safetensors", optimizer.state_dict())
            write_json(Path(tmp) / "train_state.json", {"step": step, "epoch": epoch, "batch_in_epoch": position,
                                                        "losses": losses, "data_sha256": data_sha256})
        train_log.write(f"saved resume point at step {step} ({resume_dir})")

    stopped = "steps"
    t0 = time.perf_counter()
    try:
        bar = progress(total=max_steps, initial=step, desc="sft") if progress else None
        while step < max_steps and stopped == "steps":
            gen.manual_seed(seed + epoch)  # the order of each epoch depends on (seed, epoch) only
            batches = accelerator.skip_first_batches(dl, skip) if skip else dl
            for position, batch in enumerate(batches, start=skip + 1):
                with accelerator.accumulate(net):
                    out = net(**batch)
                    loss = out.loss
                    if not math.isfinite(loss.item()):
                        raise McError(f"loss became {loss.item()} at step {step}")
                    accelerator.backward(loss)
                    if accelerator.sync_gradients:
                        accelerator.clip_grad_norm_(params, 1.0)
                    optimizer.step()
                    optimizer.zero_grad()
                if accelerator.sync_gradients:
                    step += 1
                    losses.append(float(accelerator.gather(loss.detach()).mean()))
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{losses[-1]:.4f}")
                    train_log.step(step, max_steps, epoch, losses[-1], optimizer.param_groups[0]["lr"])
                    if log_every and step % log_every == 0 and accelerator.is_main_process:
                        echo(f"step {step} loss {losses[-1]:.4f}")
                    if save_every and step % save_every == 0 and step < max_steps:
                        save_resume(position)
                    if (max_minutes is not None and step < max_steps
                            and time.perf_counter() - t0 >= 60 * max_minutes):
                        stopped = "time-budget"
                        save_resume(position)
                        echo(f"time budget of {max_minutes:g} min reached at step {step}/{max_steps}; "
                             "continue with --resume")
                        break
                    if step >= max_steps:
                        break
            else:
                epoch, skip = epoch + 1, 0
        if bar is not None:
            bar.close()
    except BaseException as e:  # the live log says how the run ended; it stays for --resume
        train_log.write(f"stopped at step {step}: {type(e).__name__}: {e}".rstrip(": "))
        train_log.close()
        raise
    accelerator.wait_for_everyone()
    log = {"model": str(model), "data_json": str(data_json), "steps": step, "losses": losses,
           "frozen_vision_parameters": frozen, "trainable_parameters": sum(p.numel() for p in params),
           "args": args, "stopped": stopped}
    if accelerator.is_main_process:
        if Path(out_dir).exists():  # a model folder an earlier time-budget stop wrote: replaced
            shutil.rmtree(out_dir)
        with atomic_dir(out_dir) as tmp:
            accelerator.unwrap_model(net).save_pretrained(tmp)
            processor.save_pretrained(tmp)
            write_json(Path(tmp) / "train_log.json", log)
            model_type = getattr(accelerator.unwrap_model(net).config, "model_type", None)
            write_json(Path(tmp) / META_FILE, sft_metadata(model, model_type, data_json, data_sha256, len(ds),
                                                           step, args))
            write_text(Path(tmp) / "loss.csv", "step,loss\n" + "".join(f"{i + 1},{v}\n" for i, v in enumerate(losses)))
            if losses:
                plot_losses(Path(tmp) / "loss.png", losses)
            ending = "done" if stopped == "steps" else "stopped (time budget) at"
            train_log.write(f"{ending} steps {step}" + (f" last_loss {losses[-1]:.6f}" if losses else "")
                            + f" -> {out_dir}")
            train_log.close()
            shutil.copyfile(log_path, Path(tmp) / "train.log")
        if stopped == "steps":
            log_path.unlink(missing_ok=True)
            shutil.rmtree(resume_dir, ignore_errors=True)
    return log


