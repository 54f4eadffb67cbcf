"""Device choice: `--device auto|cpu|cuda[:N]|mps`."""

from __future__ import annotations

from mc_core.errors import UsageError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(spec: str | None = "auto"):
    """Return a ``torch.device``. `auto` picks CUDA, then MPS, then the CPU.

    Asking for a device that is not available is a usage error (exit 2), not a silent fallback.
    """
    import torch

    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {spec}: CUDA is not available on this machine (use cpu or auto)")
        device = torch.device(spec)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
        return device
    if spec == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UsageError("--device mps: MPS is not available on this machine")
        return torch.device("mps")
    raise UsageError(f"--device {spec!r}: expected one of auto, cpu, cuda, cuda:N, mps")
