"""Stopping a run cleanly on SIGTERM or Ctrl-C: finish the step, write a checkpoint, exit with a message.

Inside :func:`stop_on_signals`, SIGTERM and SIGINT only set a flag.  The training loop looks at
it after every optimiser step; with several processes the ranks agree on it with one
all-reduce every 16 steps (``STOP_CHECK_STEPS`` in :mod:`polyequiv.training.loop`; an all-reduce
costs 0.1–0.5 ms on gloo here), so they stop after the same step.  Rank 0 then writes a
checkpoint of the state *within* the epoch (the steps done, the partial loss sums), and the run
raises :class:`InterruptedRunError`.  Resuming continues with the next step, so an interrupted
run reaches the numbers of one that never was.

A second Ctrl-C while the first is being handled raises ``KeyboardInterrupt`` at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

#: Exit status of a run stopped by a signal: 128 + the signal's number (the shell's convention).
HANDLED = (signal.SIGTERM, signal.SIGINT)


class InterruptedRunError(RuntimeError):
    """A run stopped by SIGTERM or SIGINT after writing a checkpoint (the message says where)."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.signal_number = signal_number

    @property
    def exit_code(self) -> int:
        return 128 + self.signal_number


@dataclass
class StopFlag:
    """Set by a handled signal; ``signal_number`` is the first one received (0: none)."""

    signal_number: int = 0
    forwards: list = field(default_factory=list)

    @property
    def requested(self) -> bool:
        return self.signal_number != 0

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signal_number).name if self.signal_number else ""

    def handle(self, number: int, frame: object = None) -> None:
        if self.signal_number and number == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_number = self.signal_number or number
        for forward in self.forwards:
            forward(number)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """Turn SIGTERM and SIGINT into a :class:`StopFlag` for the duration (main thread only)."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {number: signal.signal(number, flag.handle) for number in HANDLED}
    try:
        yield flag
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
