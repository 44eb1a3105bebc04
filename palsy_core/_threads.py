"""How many intra-op threads torch uses while our models run.

One setting for the whole process (torch's thread count is global), counted so that
overlapping analyses restore it only when the last one leaves, and re-entrant so a
predictor that asks for it inside an analysis costs nothing. Torch is never imported here.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

#: Threads torch may use while an analysis runs its models (restored after). The models
#: are small (a few hundred thousand weights, one face per call): on 2 shared cores a
#: second intra-op thread only spins against the mirror view's landmarker, the other
#: analyzer and other processes. Measured on this CPU with the cores busy, the
#: face-parsing network took 930 ms with 2 threads and 9 ms with 1; with them free,
#: 10.6 and 10.8 ms (benchmarks/bench_analyze.py prints both).
MODEL_THREADS = 1


_threads_lock = threading.Lock()
_threads_users = 0
_threads_before: int | None = None


@contextmanager
def model_threads():
    """Torch at :data:`MODEL_THREADS` intra-op threads inside the block (a process-wide
    setting: counted, so concurrent analyses restore it only when the last one leaves).
    Nothing happens when torch is not loaded (a geometry-only analysis)."""
    global _threads_users, _threads_before
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    with _threads_lock:
        if _threads_users == 0:
            _threads_before = torch.get_num_threads()
            torch.set_num_threads(min(MODEL_THREADS, _threads_before))
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_before)
