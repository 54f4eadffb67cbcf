"""The live training log of `sft`: one flushed line per event, so `tail -f` shows loss and step as they come.

It lives beside the output folder (`OUT_DIR.train.log`) while training runs, because the output
folder itself appears only when training ends (atomically). A resumed run appends to it; when
training ends it is moved into the output folder as `train.log`.

Lines:
    2025-01-01T12:00:00+00:00 start model=... data=... samples=40 max_steps=300 ...
    2025-01-01T12:00:01+00:00 step 1/300 epoch 0 loss 2.345678 lr 1e-05 elapsed 0.8s
    2025-01-01T12:05:00+00:00 resume from step 100 (...)
    2025-01-01T12:09:00+00:00 done steps 300 last_loss 0.123456
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import IO


def live_log_path(out_dir: str | os.PathLike) -> Path:
    """Where the live log of a run writing `out_dir` goes: `OUT_DIR.train.log`."""
    return Path(str(out_dir).rstrip("/") + ".train.log")


class TrainLog:
    """Appends timestamped lines to a text file, flushing each; a no-op when `path` is None."""

    def __init__(self, path: str | os.PathLike | None, *, append: bool = False):
        self.path = None if path is None else Path(path)
        self._fh: IO[str] | None = None
        self._t0 = time.monotonic()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a" if append else "w", encoding="utf-8")

    def write(self, message: str) -> None:
        if self._fh is None:
            return
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._fh.write(f"{stamp} {message}\n")
        self._fh.flush()

    def step(self, step: int, max_steps: int, epoch: int, loss: float, lr: float) -> None:
        self.write(f"step {step}/{max_steps} epoch {epoch} loss {loss:.6f} lr {lr:.6g} "
                   f"elapsed {time.monotonic() - self._t0:.1f}s")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> TrainLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
