"""Click types and option groups shared by the spatial-vlm commands (click is imported here only)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from mc_core.options import FiniteFloat, RegistryChoice

F = Callable[..., Any]


class PredictorChoice(RegistryChoice):
    """A predictor registered for `mc spatial-vlm` (read from the registry at run time), or a local
    Hugging Face model folder (built as `hf-vlm`)."""

    def __init__(self) -> None:
        super().__init__("models", task="spatial-vlm")

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return super().get_metavar(param, ctx)[:-1] + "|DIR]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value not in self.choices and os.path.isdir(value):
            return value
        return super().convert(value, param, ctx)


MODEL_HELP = ("A predictor registered for spatial-vlm (baselines: center, not-visible, pixel-diff; any "
              "installed plugin's), or a local Hugging Face vision-language model folder (hf-vlm).")


def model_options(f: F) -> F:
    """Options that configure a predictor (each goes to the predictors whose constructor names it)."""
    f = click.option("--image-size", type=click.IntRange(min=14, max=4096), default=448, show_default=True,
                     help="Side of the square images with --image-aspect-ratio resize.")(f)
    f = click.option("--image-aspect-ratio", "--image_aspect_ratio", "image_aspect_ratio",
                     type=click.Choice(["resize", "keep"]), default="resize", show_default=True,
                     help="resize: every image to --image-size squared; keep: as is.")(f)
    f = click.option("--diff-threshold", type=FiniteFloat(min=0), default=30.0, show_default=True,
                     help="pixel-diff only: a pixel has changed when its summed absolute RGB difference "
                          "(0-765) is above this.")(f)
    f = click.option("--chat-template", "--chat_template", "chat_template", default=None,
                     help="Override the model's chat template: 'qwen2' or a path to a Jinja file.")(f)
    return click.option("--max-new-tokens", "--max_new_tokens", "max_new_tokens", type=click.IntRange(min=1, max=8192),
                        default=64, show_default=True)(f)


def predictor_options(device: str, max_new_tokens: int, chat_template: str | None, image_aspect_ratio: str,
                      image_size: int, diff_threshold: float) -> dict[str, Any]:
    return {"device": device, "max_new_tokens": max_new_tokens, "chat_template": chat_template,
            "image_aspect_ratio": image_aspect_ratio, "image_size": image_size, "threshold": diff_threshold}


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)
