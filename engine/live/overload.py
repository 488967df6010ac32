"""The live phase recovery stepped down while the hop clock cannot keep time, and tried again.

What a hop costs grows with the field's voices and with the machine's caches: eight voices of
the default `gsrtisi-la` take 68 % of a hop at p50 on a 2-core Intel Xeon and over 100 % on a
2-core AMD EPYC (whose 512 KB of L2 a core holds neither the decoder's weights nor eight voices'
phase state). A hop clock that cannot keep up leaves a hole in the sound at every late hop: 2994
underruns in a minute on that machine. An installation would rather play on with a cheaper phase
recovery than drop out, so with ``engine.overload_phase`` set (the phase vocoder, `pv`, by
default) :class:`OverloadWatch` does what a technician at the desk would:

- when a fifth of the last half second's hops took 90 % of a hop or more (:data:`LATE_SHARE`,
  :data:`LATE_FRACTION`, :data:`WINDOW_S`), or :data:`UNDERRUNS` holes came within it, it posts
  ``/phase/method`` with the cheaper method (the usual crossfade);
- after ``engine.overload_retry_s`` it posts the chosen method again; if that falls back within
  the same time, the next try waits twice as long (up to :data:`MAX_RETRY_S`), and a method
  that holds that long brings the wait back to the configured one;
- a method a performer posts becomes the chosen one, and the wait starts again.

The watch runs in the control process, where every control is posted: the status, the page, the
replica's values and the live score all say what plays, and ``caminos render --score`` of a
recorded score plays the same switches on the same hops. :class:`OverloadPolicy` holds the
decisions alone, on numbers, for tests; :class:`OverloadWatch` reads the numbers from the live
processes' shared memory.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

import numpy as np

from caminos.engine.core.errors import ControlError

LATE_FRACTION = 0.9  # a hop is late when its tick took this share of the hop or more
LATE_SHARE = 0.2  # step down when this share of the last half second's hops was late
UNDERRUNS = 3  # or when this many underruns came within the last half second
WINDOW_S = 0.5  # the span both are measured over, in seconds
SETTLE_S = 0.5  # after a switch, no decision until the window holds the new method's hops only
MAX_RETRY_S = 3600.0  # the longest wait before trying the chosen method again, in seconds


class OverloadPolicy:
    """When to step the phase recovery down to ``fallback`` and when to try ``chosen`` again.

    Parameters
    ----------
    fallback : str
        The cheaper streaming method ("" never steps down).
    retry_s : float
        Seconds on the fallback before the chosen method is tried again (doubled after a try
        that fell back within that time, up to :data:`MAX_RETRY_S`).

    Attributes
    ----------
    chosen : str
        The method the performer (or the configuration) chose; "" until the first update.
    fallen : bool
        Whether the fallback plays in its place.
    fallbacks : int
        How many times it stepped down.
    """

    def __init__(self, fallback: str, retry_s: float) -> None:
        self.fallback = fallback
        self.base_retry_s = self.retry_s = float(retry_s)
        self.chosen = ""
        self.fallen = False
        self.fallbacks = 0
        self._posted = ""  # what this policy last asked for (or found playing)
        self._switched_at = -np.inf  # when, in seconds
        self._tried_at: float | None = None  # when the chosen method was last tried again

    def update(self, now: float, playing: str, late_share: float, underruns: int) -> str | None:
        """The method to post now, or None.

        Parameters
        ----------
        now : float
            Seconds on a monotonic clock.
        playing : str
            The method the engine plays (``/phase/method``'s value).
        late_share : float
            The share of the last :data:`WINDOW_S` seconds' hops that took :data:`LATE_FRACTION`
            of a hop or more.
        underruns : int
            Underruns within the last :data:`WINDOW_S` seconds.
        """
        if playing != self._posted:  # the start, or a performer's choice
            self.chosen, self._posted, self.fallen = playing, playing, False
            self.retry_s, self._tried_at = self.base_retry_s, None
            self._switched_at = now
        if not self.fallback or self.chosen == self.fallback:
            return None
        if now - self._switched_at < SETTLE_S:
            return None
        if self.fallen:
            waited = now - self._switched_at >= self.retry_s
            return self._switch(now, self.chosen) if waited else None
        if late_share < LATE_SHARE and underruns < UNDERRUNS:
            if self._tried_at is not None and now - self._tried_at >= self.retry_s:
                self.retry_s, self._tried_at = self.base_retry_s, None  # the try held
            return None
        if self._tried_at is not None and now - self._tried_at < self.retry_s:
            self.retry_s = min(2.0 * self.retry_s, MAX_RETRY_S)
        self.fallbacks += 1
        return self._switch(now, self.fallback)

    def _switch(self, now: float, method: str) -> str:
        self.fallen = method != self.chosen
        if not self.fallen:
            self._tried_at = now
        self._posted, self._switched_at = method, now
        return method


class OverloadWatch:
    """:class:`OverloadPolicy` on the live processes' numbers, posting to the control replica.

    Parameters
    ----------
    replica : Engine
        The control process's replica: its ``/phase/method`` is read and posted.
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
        Called with each method posted (the count is in ``policy.fallbacks``).
    """

    def __init__(
        self,
        replica: Any,
        policy: OverloadPolicy,
        tick_times: np.ndarray,
        hops: Callable[[], float],
        underruns: Callable[[], float],
        hop_seconds: float,
        on_switch: Callable[[str], None] | None = None,
    ) -> None:
        self.replica, self.policy = replica, policy
        self.tick_times, self.hops, self.underruns = tick_times, hops, underruns
        self.window = max(1, min(round(WINDOW_S / hop_seconds), len(tick_times)))
        self.late_s = LATE_FRACTION * hop_seconds
        self.on_switch = on_switch
        self._offsets = np.arange(-self.window, 0)
        self._underruns: deque[tuple[float, float]] = deque()

    def check(self, now: float) -> str | None:
        """Measure the last :data:`WINDOW_S` seconds and post what the policy says; returns what
        was posted. Until half a window of hops has been played, only underruns count."""
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
        playing = self.replica.get("/phase/method")[0]
        method = self.policy.update(now, playing, late_share, recent)
        if method is None:
            return None
        try:
            self.replica.post("/phase/method", method)
        except ControlError:  # the hop clock is stopping: nothing left to step down
            return None
        if self.on_switch is not None:
            self.on_switch(method)
        return method
