"""`mc spatial-vlm check-dataloader` and `sft`: fine-tuning a local Hugging Face VLM on a task JSON."""

from __future__ import annotations

import click

from mc_core.options import FiniteFloat, quiet_option, seed_option, training_options


@click.command("check-dataloader")
@click.option("--data-json", "--data_json", "data_json", required=True, type=click.Path())
@click.option("--model", "--model-name-or-path", "--model_name_or_path", "model", required=True, type=click.Path(),
              help="Local HF model folder (only its processor is loaded).")
@click.option("--image-folder", "--image_folder", "image_folder", default="/", show_default=True)
@click.option("--batch-size", "--per_device_train_batch_size", "batch_size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--image-aspect-ratio", "--image_aspect_ratio", "image_aspect_ratio", type=click.Choice(["resize", "keep"]), default="resize", show_default=True)
@click.option("--image-size", type=click.IntRange(min=14, max=4096), default=448, show_default=True)
@click.option("--model-max-length", "--model_max_length", "model_max_length", type=click.IntRange(min=16), default=8192, show_default=True)
def check_dataloader_cmd(data_json, model, image_folder, batch_size, image_aspect_ratio, image_size,
                         model_max_length):
    """Build the SFT dataset and dataloader, take one batch and check it (no training).

    \b
    Example:
      mc spatial-vlm check-dataloader --data-json tasks/t1_train_multi.json --model ./my-qwen2-vl
    """
    from mc_spatial_vlm.sft import check_dataloader

    check_dataloader(data_json, model, image_folder=image_folder, batch_size=batch_size,
                     image_aspect_ratio=image_aspect_ratio, image_size=image_size,
                     model_max_length=model_max_length, echo=click.echo)


@click.command("sft")
@click.option("--model", "--model-name-or-path", "--model_name_or_path", "model", required=True, type=click.Path(),
              help="Local HF vision-language model folder to fine-tune.")
@click.option("--data-json", "--data_json", "data_json", required=True, type=click.Path())
@click.option("--out-dir", "--out_dir", "out_dir", required=True, type=click.Path(file_okay=False),
              help="The fine-tuned model folder (loadable by eval --model OUT_DIR).")
@click.option("--image-folder", "--image_folder", "image_folder", default="/", show_default=True)
@click.option("--freeze-vision", is_flag=True, envvar="FREEZE_VISION", show_envvar=True,
              help="Do not train the vision tower (FREEZE_VISION=1 as in the seed's run_sft_t1_x3.sh).")
@click.option("--image-aspect-ratio", "--image_aspect_ratio", "image_aspect_ratio", type=click.Choice(["resize", "keep"]), default="resize", show_default=True)
@click.option("--image-size", type=click.IntRange(min=14, max=4096), default=448, show_default=True)
@click.option("--model-max-length", "--model_max_length", "model_max_length", type=click.IntRange(min=16), default=8192, show_default=True)
@click.option("--max-steps", "--max_steps", "max_steps", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--batch-size", "--per_device_train_batch_size", "batch_size", type=click.IntRange(min=1), default=1, show_default=True, help="Per device.")
@click.option("--grad-accum", "--gradient_accumulation_steps", "grad_accum", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--lr", "--learning_rate", "lr", type=FiniteFloat(min=0, min_open=True), default=1e-5,
              show_default=True)
@click.option("--log-every", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--save-every", type=click.IntRange(min=0), default=100, show_default=True,
              help="Save a resume point (OUT_DIR.resume/) every N steps; 0: never.")
@training_options
@seed_option(0)
@quiet_option
def sft_cmd(model, data_json, out_dir, image_folder, freeze_vision, image_aspect_ratio, image_size,
            model_max_length, max_steps, batch_size, grad_accum, lr, log_every, save_every, resume, max_minutes,
            device, seed, quiet):
    """Supervised fine-tuning on a task JSON; only answer tokens count in the loss.

    Runs through Hugging Face accelerate, so `accelerate launch -m mc_core spatial-vlm sft ...`
    trains on several GPUs. Writes the model folder with train.log, train_log.json, loss.csv and
    mc_meta.json (base model, versions, training args, data hash). While it runs, one line per
    step goes to OUT_DIR.train.log: follow it with `tail -f runs/sft_t1.train.log`.
    --resume continues from OUT_DIR.resume/ (exit 2 when there is none); --max-minutes stops
    cleanly with a resume point and the model so far. FREEZE_VISION=1 is --freeze-vision.

    \b
    Example:
      mc spatial-vlm sft --model ./my-qwen2-vl --data-json tasks/t1_train_multi.json \\
        --out-dir runs/sft_t1 --freeze-vision --image-aspect-ratio resize \\
        --model-max-length 8192 --max-steps 300
    """
    from mc_core.progress import info, progress
    from mc_spatial_vlm.sft import train_sft

    log = train_sft(model, data_json, out_dir, image_folder=image_folder, freeze_vision_tower=freeze_vision,
                    image_aspect_ratio=image_aspect_ratio, image_size=image_size, model_max_length=model_max_length,
                    max_steps=max_steps, batch_size=batch_size, lr=lr, grad_accum=grad_accum, seed=seed,
                    device=device, log_every=log_every, save_every=save_every, resume=resume,
                    max_minutes=max_minutes, progress=progress, echo=info)
    if log["losses"]:
        click.echo(f"steps {log['steps']}  first loss {log['losses'][0]:.4f}  last loss {log['losses'][-1]:.4f}")
    info(f"wrote {out_dir}")


COMMANDS = [check_dataloader_cmd, sft_cmd]
