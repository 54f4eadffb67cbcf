"""The interface (typed Protocols) a model must offer to work with the `mc landcover` commands.

A model registered for the landcover task (``registry.register(name, target, summary,
task="landcover")``) and saved as an mc checkpoint whose ``config.json`` names that entry runs
through the built-in commands. Each command asks only for what it uses:

- :class:`LandcoverLikelihood` (``eval-perplexity``): the number of classes, the map size and
  ``log_likelihood`` of maps in a given visiting order. A count-based model can offer this.
- :class:`LandcoverSampler` (``generate``, ``generate-wide``, ``prob-dev``, ``sample-chain
  --block-size b``): sampling with known pixels kept.
- :class:`LandcoverModel` (``eval-inpaint``/``inpaint-sweep --method randar``, ``sample-chain``):
  the likelihood, the sampler, the random and raster orders and ``predict_masked`` (each pixel's
  class distribution given all known pixels).
- :class:`TrainableLandcoverModel` (``train``): a torch module with ``loss`` and the order it
  trains on, plus ``forward(tokens, positions)`` for the teacher-forced pictures.
- :class:`EmbeddingModel` (``viz-embed``): class-token embeddings and per-map feature vectors.

Maps are ``(B, H, W)`` integer tensors of class indices ``0..num_classes-1`` with ``H = W = size``;
an order is a ``(B, H*W)`` long tensor of flat pixel positions (row-major), a permutation per map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

__all__ = ["EmbeddingModel", "LandcoverLikelihood", "LandcoverModel", "LandcoverSampler",
           "TrainableLandcoverModel"]


@runtime_checkable
class LandcoverLikelihood(Protocol):
    """What ``eval-perplexity`` needs: a proper likelihood of a map in any visiting order."""

    num_classes: int   # classes 0..num_classes-1
    size: int          # maps are size x size

    def log_likelihood(self, x: Any, order: Any = None, generator: Any = None) -> Any:
        """log p(x) in nats, shape (B,), of maps x (B, size, size) factorised in `order`
        ((B, size*size) flat positions; a random order per map drawn from `generator` when None)."""
        ...


@runtime_checkable
class LandcoverSampler(Protocol):
    """What the generating commands need."""

    num_classes: int
    size: int

    def sample(self, n: int, *, known: Any = None, known_mask: Any = None, steps: int | None = None,
               temperature: float = 1.0, top_k: int | None = None, generator: Any = None,
               return_frames: bool = False, progress: Callable[[list[int]], Iterable[int]] | None = None) -> Any:
        """n maps (n, size, size); pixels where `known_mask` is True keep `known`. With
        `return_frames`, ``(maps, frames)``: the partial maps (unknown = -1) after each step."""
        ...


@runtime_checkable
class LandcoverModel(LandcoverLikelihood, LandcoverSampler, Protocol):
    """The full interface of the model-based analysis commands (RandAR offers it)."""

    def predict_masked(self, x: Any, known_mask: Any) -> Any:
        """Logits (B, H, W, C): each pixel's class distribution given ALL known pixels."""
        ...

    def random_order(self, batch: int, generator: Any = None) -> Any:
        """(batch, size*size) random permutations of the flat positions."""
        ...

    def raster_order(self, batch: int) -> Any:
        """(batch, size*size) row-major positions."""
        ...


@runtime_checkable
class TrainableLandcoverModel(LandcoverModel, Protocol):
    """What ``train`` needs on top of :class:`LandcoverModel` (a torch module)."""

    def loss(self, x: Any, order: Any = None, generator: Any = None) -> Any:
        """Mean cross-entropy (nats per pixel), a scalar tensor, of maps x in the training order."""
        ...

    def training_order(self, batch: int, generator: Any = None) -> Any:
        ...

    def forward(self, tokens: Any, positions: Any) -> Any:
        """Logits (B, L, C): entry t predicts the class at positions[:, t] given the tokens before t."""
        ...

    def parameters(self) -> Any:
        ...


@runtime_checkable
class EmbeddingModel(Protocol):
    """What ``viz-embed`` needs."""

    num_classes: int
    size: int

    def class_embeddings(self) -> Any:
        """(C, D) array: one vector per class."""
        ...

    def map_features(self, x: Any, order: Any = None) -> Any:
        """(B, d) one vector per map."""
        ...
