"""Task JSON files (LLaVA-style samples) as written by `build`: loading, checking, image tokens."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mc_core.errors import BadInputError

IMAGE_TOKEN = "<image>"


def load_task_json(path: str | Path) -> list[dict[str, Any]]:
    """The samples of a task JSON (a list of objects each with `image` and `conversations`)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise BadInputError(p, "task JSON not found") from None
    except IsADirectoryError:
        raise BadInputError(p, "is a folder, not a task JSON (e.g. t1_val_multi.json written by `build`)") from None
    except OSError as e:
        raise BadInputError(p, f"cannot be read ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInputError(p, f"malformed JSON: {e}") from None
    if not isinstance(data, list):
        raise BadInputError(p, "expected a JSON list of samples")
    return data


def sample_images(sample: dict[str, Any], image_folder: str | Path = "/") -> list[str]:
    """Image paths of a sample: a list stays a list, a string is one image; relative paths join `image_folder`."""
    img = sample.get("image")
    if isinstance(img, str):
        imgs = [img]
    elif isinstance(img, list) and img and all(isinstance(i, str) for i in img):
        imgs = img
    else:
        raise ValueError("sample has no `image` (a path or a list of paths)")
    return [i if os.path.isabs(i) else os.path.join(str(image_folder), i) for i in imgs]


def task_data_sha256(path: str | Path, samples: list[dict[str, Any]], image_folder: str | Path = "/") -> str:
    """The data hash of a training run on a task JSON: SHA-256 over the JSON and every image it uses.

    One line `<name>\\0<sha256 of the file>\\n` per file, sorted by name (the format of
    `mc_core.checkpoint.fingerprint_files`): the JSON is named by its file name, each distinct image
    by its path as the JSON writes it. So the hash follows the contents, not where the JSON lies.
    """
    import hashlib

    from mc_core.checkpoint import sha256_file

    p = Path(path)
    files = {p.name: p}
    for i, s in enumerate(samples):
        try:
            written, resolved = sample_images(s, ""), sample_images(s, image_folder)
        except ValueError as e:
            raise BadInputError(p, f"sample {i} ({s.get('id')}): {e}") from None
        for name, file in zip(written, resolved):
            files.setdefault(name, Path(file))
    h = hashlib.sha256()
    for name in sorted(files):
        try:
            digest = sha256_file(files[name])
        except OSError as e:
            raise BadInputError(p, f"cannot read image {files[name]} ({e.strerror or e})") from None
        h.update(name.encode() + b"\0" + digest.encode() + b"\n")
    return h.hexdigest()


def is_concat(sample: dict[str, Any]) -> bool:
    """A concat (side-by-side) sample: one image given as a string."""
    return isinstance(sample.get("image"), str)


def human_and_answer(sample: dict[str, Any]) -> tuple[str, str | None]:
    conv = sample.get("conversations")
    if not isinstance(conv, list) or not conv or not isinstance(conv[0], dict) or "value" not in conv[0]:
        raise ValueError("sample has no `conversations` list with a human turn")
    answer = conv[1].get("value") if len(conv) > 1 and isinstance(conv[1], dict) else None
    return str(conv[0]["value"]), answer


def with_image_tokens(prompt: str, num_images: int) -> str:
    """The prompt with `<image>\\n` * num_images in front (prompts in the JSON carry none)."""
    return (IMAGE_TOKEN + "\n") * num_images + prompt.replace(IMAGE_TOKEN, "").lstrip("\n")


def split_image_tokens(text: str) -> tuple[int, str]:
    """Inverse of `with_image_tokens`: (number of leading `<image>\\n`, the rest)."""
    n = 0
    while text.startswith(IMAGE_TOKEN + "\n"):
        text = text[len(IMAGE_TOKEN) + 1:]
        n += 1
    return n, text


def query_image(sample: dict[str, Any], image_folder: str | Path = "/") -> str | None:
    """The query image: `query_original`, else the last image of a list of two or more."""
    q = sample.get("query_original")
    if isinstance(q, str) and q:
        return q if os.path.isabs(q) else os.path.join(str(image_folder), q)
    img = sample.get("image")
    if isinstance(img, list) and len(img) >= 2:
        return sample_images(sample, image_folder)[-1]
    return None
