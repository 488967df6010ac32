"""The live phase recovery stepped down while the hop clock cannot keep time, and tried again.

What a hop costs grows with the field's voices and with the machine's caches: eight voices of
the default `gsrtisi-la` take 68 % of a hop at p50 on a 2-core Intel Xeon and over 100 % on a
2-core AMD EPYC (whose 512 KB of L2 a core holds neither the decoder's weights nor eight voices'
phase state). A hop clock that cannot keep up leaves a hole in the sound at every late hop: 2994
underruns in a minute on that machine. An installation would rather play on with a cheaper phase
recovery than drop out, so :class:`OverloadWatch` does what a technician at the desk would, one
step down a ladder at a time (:func:`phase_ladder`): first the RTISI family's iterations halved,
step by step, down to ``engine.overload_iterations`` (4 by default: from 16, 8 costs half and
loses 2.3 dB of spectral convergence, 4 a quarter and 4.6 dB, on the mean of
``benchmarks/phase.py``'s clean signals), then ``engine.overload_phase`` (the phase vocoder,
`pv`, by default: 7.5 dB):

- when a fifth of the last half second's hops took 90 % of a hop or more (:data:`LATE_SHARE`,
  :data:`LATE_FRACTION`, :data:`WINDOW_S`), or :data:`UNDERRUNS` holes came within it, it posts
  the next step down (``/phase/iterations``, then ``/phase/method`` with the usual crossfade);
- after ``engine.overload_retry_s`` on a step it tries the step above again; if that falls back
  within the same time, the next try waits twice as long (up to :data:`MAX_RETRY_S`), and a
  step that holds that long brings the wait back to the configured one;
- a method or iterations a performer posts become the chosen ones, and the wait starts again.

The watch runs in the control process, where every control is posted: the status, the page, the
replica's values and the live score all say what plays, and ``caminos render --score`` of a
recorded score plays the same switches on the same hops. :class:`OverloadPolicy` holds the
decisions alone, on numbers, for tests; :class:`OverloadWatch` reads the numbers from the live
processes' shared memory.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Hashable

import numpy as np

from caminos.engine.core.config import STREAMING_PHASE_METHODS
from caminos.engine.core.errors import ControlError
from caminos.engine.dsp.phase import ITERATIVE_METHODS

LATE_FRACTION = 0.9  # a hop is late when its tick took this share of the hop or more
LATE_SHARE = 0.2  # step down when this share of the last half second's hops was late
UNDERRUNS = 3  # or when this many underruns came within the last half second
WINDOW_S = 0.5  # the span both are measured over, in seconds
SETTLE_S = 0.5  # after a switch, no decision until the window holds the new method's hops only
MAX_RETRY_S = 3600.0  # the longest wait before trying the chosen method again, in seconds


def phase_ladder(fallback: str, fewest: int) -> Callable[[tuple], tuple]:
    """The steps down from a chosen ``(method, iterations)``, cheapest last: for a method that
    iterates, its iterations halved step by step down to ``fewest`` (0: no such steps), then
    ``fallback`` ("": none) at the iterations the step above left, so a step between methods
    changes nothing else."""

    def ladder(chosen: tuple) -> tuple:
        method, current = chosen
        steps = []
        if method in ITERATIVE_METHODS and fewest > 0:
            while current > fewest:
                current = max(current // 2, fewest)
                steps.append((method, current))
        if fallback and fallback != method:
            steps.append((fallback, current))
        return tuple(steps)

    return ladder


def describe_phase_step(method_index: int, iterations: int) -> str:
    """``gsrtisi-la with 8 iterations`` or ``pv``: a setting the watch posted, as the shared
    counters carry it (the method by its index in the streaming methods)."""
    method = STREAMING_PHASE_METHODS[method_index]
    return f"{method} with {iterations} iterations" if method in ITERATIVE_METHODS else method


class OverloadPolicy:
    """When to step the phase recovery down its ladder and when to try the step above again.

    Parameters
    ----------
    ladder : callable
        Given the chosen setting (any hashable: the watch's are ``(method, iterations)``), the
        settings to step down to, cheapest last (:func:`phase_ladder`; empty: never steps down).
    retry_s : float
        Seconds on a step before the one above is tried again (doubled after a try that fell
        back within that time, up to :data:`MAX_RETRY_S`).

    Attributes
    ----------
    chosen
        The setting the performer (or the configuration) chose; None until the first update.
    step : int
        How far down the ladder the engine plays (0: the chosen setting).
    fallbacks : int
        How many times it stepped down.
    """

    def __init__(self, ladder: Callable[[Hashable], tuple], retry_s: float) -> None:
        self.ladder = ladder
        self.base_retry_s = self.retry_s = float(retry_s)
        self.chosen: Hashable | None = None
        self.step = 0
        self.fallbacks = 0
        self._steps: tuple = ()  # the chosen setting, then the ladder's
        self._posted: Hashable | None = None  # what this policy last asked for (or found)
        self._switched_at = -np.inf  # when, in seconds
        self._tried_at: float | None = None  # when the step above was last tried again

    @property
    def fallen(self) -> bool:
        """Whether a cheaper setting plays in the chosen one's place."""
        return self.step > 0

    def update(self, now: float, playing, late_share: float, underruns: int):
        """The setting to post now, or None.

        Parameters
        ----------
        now : float
            Seconds on a monotonic clock.
        playing
            The setting the engine plays.
        late_share : float
            The share of the last :data:`WINDOW_S` seconds' hops that took :data:`LATE_FRACTION`
            of a hop or more.
        underruns : int
            Underruns within the last :data:`WINDOW_S` seconds.
        """
        if playing != self._posted:  # the start, or a performer's choice
            self.chosen, self._posted, self.step = playing, playing, 0
            self._steps = (playing, *self.ladder(playing))
            self.retry_s, self._tried_at = self.base_retry_s, None
            self._switched_at = now
        if now - self._switched_at < SETTLE_S:
            return None
        late = late_share >= LATE_SHARE or underruns >= UNDERRUNS
        if not late:
            if self._tried_at is not None and now - self._tried_at >= self.retry_s:
                self.retry_s, self._tried_at = self.base_retry_s, None  # the try held
            if self.step > 0 and now - self._switched_at >= self.retry_s:
                self._tried_at = now
                return self._switch(now, self.step - 1)
            return None
        if self.step + 1 >= len(self._steps):
            return None  # the cheapest step plays already
        if self._tried_at is not None and now - self._tried_at < self.retry_s:
            self.retry_s = min(2.0 * self.retry_s, MAX_RETRY_S)
        self._tried_at = None
        self.fallbacks += 1
        return self._switch(now, self.step + 1)

    def _switch(self, now: float, step: int):
        self.step = step
        self._posted, self._switched_at = self._steps[step], now
        return self._posted


class OverloadWatch:
    """:class:`OverloadPolicy` on the live processes' numbers, posting to the control replica.

    Parameters
    ----------
    replica : Engine
        The control process's replica: its ``/phase/method`` and ``/phase/iterations`` are read
        and posted (the policy's settings are ``(method, iterations)``).
    policy : OverloadPolicy
        The decisions.
    tick_times : ndarray, shape (window,)
        The DSP process's tick durations in seconds, hop ``i`` at ``i % window``.
    hops : callable
        Returns the hops the DSP process has computed.
    underruns : callable
        Returns the audio process's underrun count.
    hop_seconds : float
        A hop's duration in seconds.
    on_switch : callable, optional
        Called with each setting posted (the count is in ``policy.fallbacks``).
    """

    def __init__(
        self,
        replica: Any,
        policy: OverloadPolicy,
        tick_times: np.ndarray,
        hops: Callable[[], float],
        underruns: Callable[[], float],
        hop_seconds: float,
        on_switch: Callable[[tuple], None] | None = None,
    ) -> None:
        self.replica, self.policy = replica, policy
        self.tick_times, self.hops, self.underruns = tick_times, hops, underruns
        self.window = max(1, min(round(WINDOW_S / hop_seconds), len(tick_times)))
        self.late_s = LATE_FRACTION * hop_seconds
        self.on_switch = on_switch
        self._offsets = np.arange(-self.window, 0)
        self._underruns: deque[tuple[float, float]] = deque()

    def check(self, now: float) -> tuple | None:
        """Measure the last :data:`WINDOW_S` seconds and post what the policy says; returns the
        setting posted. Until half a window of hops has been played, only underruns count."""
        hops = int(self.hops())
        count = self.underruns()
        self._underruns.append((now, count))
        while now - self._underruns[0][0] > WINDOW_S:
            self._underruns.popleft()
        late_share = 0.0
        played = min(hops, self.window)
        if 2 * played >= self.window:
            durations = self.tick_times[(hops + self._offsets[-played:]) % len(self.tick_times)]
            late_share = float(np.count_nonzero(durations >= self.late_s)) / played
        recent = int(count - self._underruns[0][1])
        playing = (self.replica.get("/phase/method")[0], self.replica.get("/phase/iterations")[0])
        setting = self.policy.update(now, playing, late_share, recent)
        if setting is None:
            return None
        method, iterations = setting
        try:  # a step of phase_ladder changes one of the two
            if iterations != playing[1]:
                self.replica.post("/phase/iterations", iterations)
            if method != playing[0]:
                self.replica.post("/phase/method", method)
        except ControlError:  # the hop clock is stopping: nothing left to step down
            return None
        if self.on_switch is not None:
            self.on_switch(setting)
        return setting


class StepLog:
    """The supervisor's lines as the watch steps the phase recovery down or back up, read from
    the control process's shared counters (``phase_fallen``: the step, ``phase_step_method``
    and ``phase_step_iterations``: what was posted, ``phase_fallbacks``: how often)."""

    def __init__(self, front, retry_s: float, log) -> None:
        self.front, self.retry_s, self.log = front, retry_s, log
        self.step = 0  # the step the last line said

    def check(self) -> None:
        """Log a line if the step changed since the last call."""
        front = self.front
        step = int(front["phase_fallen"])
        if step == self.step:
            return
        down, self.step = step > self.step, step
        playing = describe_phase_step(
            int(front["phase_step_method"]), int(front["phase_step_iterations"])
        )
        if down:
            self.log.warning(
                "the hop clock ran late: phase recovery stepped down to %s (%d time(s) so far);"
                " the step above is tried again in %g s or more",
                playing,
                int(front["phase_fallbacks"]),
                self.retry_s,
            )
        elif step:
            self.log.info("phase recovery back up to %s", playing)
        else:
            self.log.info("phase recovery back to the chosen setting, %s", playing)
