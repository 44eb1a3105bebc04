"""Keep MediaPipe's and TF Lite's native log lines off the user's terminal.

MediaPipe 1.2 logs through absl from C++ threads ("Logging before InitGoogle() ...",
"Created TensorFlow Lite XNNPACK delegate", feedback-manager warnings) straight to file
descriptor 2, and ignores ``GLOG_minloglevel``. They appear only while a landmarker graph
is built and runs its first frame, so those two moments run with descriptor 2 pointed at
``/dev/null``. Set ``PALSY_VERBOSE=1`` (the CLI's ``--verbose``) to see them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

#: Environment variable that lets native log lines through.
VERBOSE_ENV = "PALSY_VERBOSE"
_lock = threading.Lock()


def verbose() -> bool:
    """True when native log lines should reach stderr."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Discard what native code writes to descriptor 2 inside the block (unless verbose).

    Python's own ``sys.stderr`` is flushed first, so nothing written before is lost; a
    lock keeps two threads from swapping the descriptor under each other.
    """
    if verbose():
        yield
        return
    with _lock:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
