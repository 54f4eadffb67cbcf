"""The interface `mc spatial-vlm eval` and `zero-shot` need from a model: a `Predictor`."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Predictor(Protocol):
    """Answers one task sample with text, as a VLM would.

    `images` are the sample's image paths (absolute; one for a concat sample, two for the
    multi-image tasks: reference or original first, the query last), `prompt` is the human turn
    without `<image>` tokens, `sample` the whole task JSON object (its `id`, `task`,
    `query_original`; never its answer, which a predictor must not read). The answer is text such
    as `[(0.412, 0.655)]` (normalised to the query image, or to the whole concat image) or
    `NOT_VISIBLE`; it is parsed by the seed's rules (`mc_spatial_vlm.answers.parse_prediction`).

    A registered target (`registry.register(name, "pkg.mod:Class", ..., task="spatial-vlm")`) is
    built with the keyword arguments of its constructor that `eval` offers: `device`,
    `max_new_tokens`, `chat_template`, `image_aspect_ratio`, `image_size`, `threshold`,
    `model_path`; it takes those it names (or all, with `**kwargs`).
    """

    def predict(self, images: list[str], prompt: str, sample: dict[str, Any]) -> str: ...
