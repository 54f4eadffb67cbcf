"""Worker processes that end when their parent dies (a `kill -9` of `mc ... --jobs N` leaves none)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


def die_with_parent(poll_seconds: float = 1.0, parent: int | None = None) -> None:
    """Make this (worker) process end when the process that started it dies.

    On Linux the kernel sends SIGKILL at the parent's death (``PR_SET_PDEATHSIG``); elsewhere a
    daemon thread polls the parent's pid. Use it as the ``initializer`` of a process pool, or
    call it first thing in a worker. `parent` defaults to the multiprocessing parent's pid (known
    from the start, so a parent that dies before this call is noticed too), else ``getppid()``.
    """
    if parent is None:
        import multiprocessing

        mp_parent = multiprocessing.parent_process()
        parent = mp_parent.pid if mp_parent is not None and mp_parent.pid else os.getppid()
    if os.getppid() != parent:  # the parent died before this call
        os._exit(1)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            pr_set_pdeathsig = 1
            if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died before the call
                    os._exit(1)
                return
        except OSError:
            pass

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="mc-die-with-parent", daemon=True).start()
