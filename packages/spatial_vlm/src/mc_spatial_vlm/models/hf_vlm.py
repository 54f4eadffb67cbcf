"""`hf-vlm`: any local Hugging Face vision-language model folder (processor + image-text-to-text model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mc_core.errors import BadInputError, UsageError

ASPECT_RATIOS = ("resize", "keep")
PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")


def builtin_chat_template(name: str) -> str:
    if name in ("qwen2", "qwen2-vl", "chatml"):
        from mc_spatial_vlm.models.tiny_qwen2vl import CHAT_TEMPLATE

        return CHAT_TEMPLATE
    raise UsageError(f"chat_template must be 'qwen2' or a path to a Jinja file, got {name!r}")


def check_model_folder(folder: str | Path) -> Path:
    """Cheap checks (nothing imported) that `folder` holds a model with its processor."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(folder, "model folder not found")
    if not any((folder / f).is_file() for f in PROCESSOR_FILES):
        raise BadInputError(folder, "model folder has no processor (processor_config.json or "
                                    "preprocessor_config.json); save the processor next to the model")
    return folder


def load_processor(folder: str | Path, chat_template: str | None = None):
    """The folder's processor, with `chat_template` (a name or a .jinja path) applied if given."""
    folder = check_model_folder(folder)
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise BadInputError(folder, f"cannot load processor: {e}") from None
    if not hasattr(processor, "image_processor") or not hasattr(processor, "tokenizer"):
        raise BadInputError(folder, "the processor is not an image+text processor")
    if chat_template:
        p = Path(chat_template)
        processor.chat_template = p.read_text() if p.is_file() else builtin_chat_template(chat_template)
    if not getattr(processor, "chat_template", None):
        raise BadInputError(folder, "the processor has no chat template; give one (chat_template, --chat-template)")
    return processor


def quiet_transformers() -> None:
    """Silence transformers' own progress bars when `--quiet` is on."""
    from mc_core.progress import is_quiet

    if is_quiet():
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def load_model(folder: str | Path, device: str = "cpu", dtype: str = "auto"):
    import torch
    from transformers import AutoModelForImageTextToText

    quiet_transformers()

    try:
        model = AutoModelForImageTextToText.from_pretrained(
            folder, local_files_only=True,
            dtype=(torch.float32 if device == "cpu" else "auto") if dtype == "auto" else getattr(torch, dtype))
    except (OSError, ValueError, KeyError) as e:
        raise BadInputError(folder, f"cannot load an image-text-to-text model: {e}") from None
    return model.to(device)


def prepare_images(paths: list[str], aspect: str, size: int) -> list:
    """Open images as RGB; `resize` scales each to size x size (normalised coordinates are unchanged)."""
    from PIL import Image

    from mc_spatial_vlm.data.x3 import read_rgb

    if aspect not in ASPECT_RATIOS:
        raise UsageError(f"image_aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}, got {aspect!r}")
    out = []
    for p in paths:
        im = Image.fromarray(read_rgb(p))
        if aspect == "resize":
            im = im.resize((size, size), Image.BICUBIC)
        out.append(im)
    return out


def user_message(num_images: int, text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "image"} for _ in range(num_images)] + [{"type": "text", "text": text}]}


class HFVLMPredictor:
    """Greedy decoding with a local HF vision-language model; the model's chat template is applied."""

    name = "hf-vlm"

    def __init__(self, model_path: str, *, device: str = "auto", max_new_tokens: int = 64,
                 chat_template: str | None = None, image_aspect_ratio: str = "resize", image_size: int = 448,
                 **_: Any):
        from mc_core.device import resolve_device

        check_model_folder(model_path)
        self.model_path = str(Path(model_path).resolve())
        prepare_images([], image_aspect_ratio, image_size)  # validates the aspect mode early
        self.device = str(resolve_device(device))
        self.processor = load_processor(model_path, chat_template)
        self.model = load_model(model_path, self.device).eval()
        self.max_new_tokens = max_new_tokens
        self.aspect, self.size = image_aspect_ratio, image_size

    def predict(self, images: list[str], prompt: str, sample: dict[str, Any]) -> str:
        import torch

        pil = prepare_images(images, self.aspect, self.size)
        text = self.processor.apply_chat_template([user_message(len(pil), prompt)], add_generation_prompt=True,
                                                  tokenize=False)
        inputs = self.processor(text=[text], images=pil, return_tensors="pt").to(self.device)
        tok = self.processor.tokenizer
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        return tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
