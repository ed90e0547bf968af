"""Stopping on SIGTERM, SIGINT and SIGHUP so that what the process started (the embedded PostgreSQL)
is stopped too.

uvicorn on its own shuts down on SIGINT and SIGTERM and then raises the signal again; for SIGTERM
that is the default action, which ends the process on the spot, before any ``finally`` or
``atexit`` runs. SIGHUP (a closed terminal) it does not handle at all. Either way the embedded
PostgreSQL was left running. Here:

- :class:`Server` is uvicorn's server, shutting down gracefully on all three signals and returning
  normally afterwards, so the caller's clean-up runs;
- :func:`unwinding_on_stop_signals` turns the three signals into a :class:`Stopped` exception
  outside the server's run (start-up, migrations), so ``with`` blocks unwind;
- :func:`stop_signals_ignored` holds them off while the clean-up itself runs.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(BaseException):
    """A stop signal arrived outside the server's run. A BaseException, like KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _in_main_thread() -> bool:
    # Signal handlers can only be set from the main thread (tests run servers in others).
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _handling(handler) -> Iterator[None]:
    if not _in_main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


def unwinding_on_stop_signals() -> contextlib.AbstractContextManager[None]:
    """Inside, SIGINT, SIGTERM and SIGHUP raise :class:`Stopped` in the main thread."""
    return _handling(_raise_stopped)


def stop_signals_ignored() -> contextlib.AbstractContextManager[None]:
    """Inside, SIGINT, SIGTERM and SIGHUP are ignored: a second Ctrl-C must not cut a clean-up short."""
    return _handling(signal.SIG_IGN)


class Server(uvicorn.Server):
    """uvicorn's server, stopping gracefully on SIGHUP too, and returning (not re-raising) after."""

    stop_signal: int | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with _handling(self.handle_exit):
            yield

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.stop_signal = sig
        super().handle_exit(sig, frame)
