"""SIGTERM/SIGINT stop `clipbot run` whatever lock the main thread holds when they arrive."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# The handler runs in the main thread between two bytecodes. Here the main thread holds the
# stop's own lock when the signal comes: a handler that called Stop.set() itself would wait on
# that lock for ever.
SCRIPT = textwrap.dedent(
    """
    import os, signal
    from clipbot import runner

    stop = runner._stop_on_signals()
    with stop._lock:
        os.kill(os.getpid(), signal.SIGTERM)
        held = stop.is_set()
    print("set while the lock was held:", held)
    print("stopped:", stop.wait(5))
    """
)


def test_a_signal_while_the_stop_lock_is_held_still_stops() -> None:
    """The signal handler takes no lock: the stop is set by a relay thread once the lock is free."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "set while the lock was held: False\nstopped: True\n",
        "",
    )
