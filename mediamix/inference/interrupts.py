"""Interrupts (Ctrl-C, ``SIGTERM``) during a fit: the fit stops and raises, never returns draws.

nutpie answers a ``KeyboardInterrupt`` by stopping its chains and *returning* the draws made so
far, padded with NaN; without this module such a fit would be saved, logged ``FINISHED`` and
registered as if complete. :func:`interrupt_guard` records every ``SIGINT`` and ``SIGTERM``
while a fit runs and :meth:`InterruptGuard.check` turns a recorded one into
:class:`FitInterrupted` once the sampler has returned. ``SIGTERM`` is handled too, because its
default action ends the process at once, leaving an MLflow run ``RUNNING`` forever.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["FitInterrupted", "InterruptGuard", "interrupt_guard"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class FitInterrupted(KeyboardInterrupt):
    """A fit stopped by a signal; a ``KeyboardInterrupt``, so MLflow runs end ``KILLED``.

    Attributes
    ----------
    signum : int
        The signal received.
    exit_status : int
        The conventional shell status for it: 128 + signal number (130 for ``SIGINT``,
        143 for ``SIGTERM``).
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.exit_status = 128 + self.signum
        super().__init__(f"the fit was interrupted by {signal.Signals(self.signum).name}")


class InterruptGuard:
    """The signal received while the guard was active, if any."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        raise FitInterrupted(signum)  # stops whatever runs now; nutpie catches it and returns

    def check(self) -> None:
        """Raise :class:`FitInterrupted` if a signal arrived, even if someone swallowed it.

        Raises
        ------
        FitInterrupted
            When ``SIGINT`` or ``SIGTERM`` was received while the guard was active.
        """
        if self.signum is not None:
            raise FitInterrupted(self.signum)


@contextlib.contextmanager
def interrupt_guard() -> Iterator[InterruptGuard]:
    """Record ``SIGINT``/``SIGTERM`` for the duration of the block, then restore the handlers.

    Signal handlers can be installed only from the main thread; elsewhere (a web server's
    worker, a Spark task) the guard is inert and the caller's own handling applies.

    Yields
    ------
    InterruptGuard
        Call :meth:`InterruptGuard.check` after any step that may swallow an interrupt.
    """
    guard = InterruptGuard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    previous: dict[signal.Signals, Any] = {}
    for sig in _SIGNALS:
        previous[sig] = signal.signal(sig, guard._handle)
    unraisable = sys.unraisablehook

    def quiet(info: Any) -> None:
        # raised inside a finalizer (``__del__``), the interrupt cannot propagate: the guard has
        # recorded it and check() raises it, so it is not printed as an ignored traceback
        if not isinstance(info.exc_value, FitInterrupted):
            unraisable(info)

    sys.unraisablehook = quiet
    try:
        yield guard
    except Exception as exc:
        # compiled code (numba, C) that a signal interrupts reports a SystemError of its own
        if guard.signum is not None:
            raise FitInterrupted(guard.signum) from exc
        raise
    finally:
        sys.unraisablehook = unraisable
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    guard.check()
