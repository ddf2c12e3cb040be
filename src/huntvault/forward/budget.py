"""Client-side call budget for the Defender API (N calls per minute, M per hour) and stoppable waits."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class Interrupted(Exception):
    """A wait was cut short because the forwarder is stopping (control flow inside forward, never shown)."""


def stoppable_sleep(stop: threading.Event) -> Callable[[float], None]:
    """A sleep that returns early and raises Interrupted as soon as `stop` is set."""

    def sleep(seconds: float) -> None:
        if stop.wait(max(0.0, seconds)):
            raise Interrupted

    return sleep


class RateBudget:
    """Sliding-window limiter over every window given as (seconds, max calls).

    `acquire()` blocks (through the injectable `sleep`) until a call fits in every window, then
    records it. Time comes from `clock` (monotonic seconds), so tests can drive it by hand.
    """

    def __init__(
        self,
        windows: tuple[tuple[float, int], ...],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.windows = tuple((float(s), int(n)) for s, n in windows if n > 0)
        self._clock = clock
        self.sleep = sleep
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0
        self.total_calls = 0

    @classmethod
    def per_minute_hour(
        cls,
        per_minute: int,
        per_hour: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RateBudget:
        return cls(((60.0, per_minute), (3600.0, per_hour)), clock, sleep)

    def _wait_needed(self, now: float) -> float:
        horizon = max((s for s, _ in self.windows), default=0.0)
        while self._calls and self._calls[0] <= now - horizon:
            self._calls.popleft()
        wait = 0.0
        n = len(self._calls)
        for seconds, limit in self.windows:
            # calls inside this window are the most recent ones; count them from the right
            inside = 0
            for t in reversed(self._calls):
                if t > now - seconds:
                    inside += 1
                else:
                    break
            if inside >= limit:
                # the oldest call that must leave the window before one more fits
                oldest = self._calls[n - limit]
                wait = max(wait, oldest + seconds - now)
        return wait

    def acquire(self) -> float:
        """Take one call from the budget, sleeping as long as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    self._calls.append(now)
                    self.total_calls += 1
                    self.waited_seconds += waited
                    return waited
            self.sleep(wait)
            waited += wait

    def used(self, seconds: float) -> int:
        """Calls recorded in the last `seconds`."""
        now = self._clock()
        return sum(1 for t in self._calls if t > now - seconds)
