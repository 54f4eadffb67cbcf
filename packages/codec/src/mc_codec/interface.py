"""What `mc codec`'s commands need from a model: the :class:`CodecModel` Protocol.

Every codec model, built-in (`rle-lm`, `msdzip`) or registered by another plugin with
``task="codec"``, is built and loaded through :mod:`mc_core.factory` and checked against this
Protocol; a model that lacks a member is refused with a one-line error (exit 2).

A model sees a mask as row-RLE tokens (:mod:`mc_codec.tokens`): for every run of a row, first
its class (one of ``vocab_size`` ids), then, knowing the class, its length symbol (one of
``NUM_LEN_SYMBOLS``). A token's features (``tokens.FEATURES``, 9 int64 columns) hold the previous
run of the row and, with ``use_2d``, the row above.

* ``train`` and ``eval`` use :meth:`CodecModel.token_nats` (a torch ``nn.Module`` for ``train``:
  its parameters are trained by :func:`mc_core.training.fit` on the mean of these nats).
* The coder (``compress``/``decompress``/``matrix``, :mod:`mc_codec.coding.coder`) uses
  :meth:`CodecModel.coding_stepper`: an object that turns the features of the current token of
  K rows into **integer frequencies**. Encoder and decoder call it on identical inputs, so the
  file is bit-exact exactly when these integers are computed deterministically (integer or
  fixed-point arithmetic; the built-in models fold their weights into exact integer steppers,
  see :mod:`mc_codec.coding.stepper`). The coder checks every frequency table it is given:
  shape ``(K, n)``, integer values in ``1 .. 2**24 - 1``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["MAX_FREQ", "CodecModel", "CodecStepper"]

MAX_FREQ = (1 << 24) - 1   # the largest frequency a stepper may return (exact in float32)


@runtime_checkable
class CodecStepper(Protocol):
    """One coding step for K rows (bands) at once; see :mod:`mc_codec.interface`."""

    def init_state(self, k: int) -> Any:
        """The state of K rows at their start: an array (numpy or torch) whose first axis is the
        row; the coder assigns ``state[i] = new_state[i]`` and resets a row with ``state[i] = 0``."""

    def context(self, state: Any, feats: np.ndarray) -> tuple[Any, Any]:
        """``feats`` (K, 9) int64: the current token's features of every row -> ``(ctx,
        new_state)``; `ctx` is passed to the two methods below."""

    def class_freqs(self, ctx: Any) -> np.ndarray:
        """(K, vocab_size) integer frequencies (>= 1) of the run's class."""

    def length_freqs(self, ctx: Any, cls: np.ndarray) -> np.ndarray:
        """(K, NUM_LEN_SYMBOLS) integer frequencies (>= 1) of the length symbol, given the
        run's class `cls` (K,) (entries of finished rows are 0 and ignored)."""


@runtime_checkable
class CodecModel(Protocol):
    """The model interface of `mc codec train/eval/compress/decompress/matrix`."""

    vocab_size: int   # class ids 0 .. vocab_size-1
    use_2d: bool      # whether its tokens carry the row above (cache and coder build them so)

    def token_nats(self, feats: Any, classes: Any, len_syms: Any) -> tuple[Any, Any]:
        """Per-token negative log-likelihoods in nats of padded rows: ``feats`` (B, T, 9),
        ``classes`` and ``len_syms`` (B, T) int64 torch tensors, padding marked by -100 in
        ``classes``. Returns ``(class_nats, length_nats)``, each (B, T), 0 at padding;
        differentiable in training (the ideal code length is their sum plus mantissa bits)."""

    def coding_stepper(self) -> CodecStepper:
        """The deterministic integer-frequency stepper the coder runs (may be cached until the
        weights change)."""
