"""The overload watch (engine/live/overload.py): when the live phase recovery steps down to a
cheaper method, when it tries the chosen one again, and what it reads from the hop clock's
shared tick times. End to end through JACK: tests/test_live_jack.py."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from caminos.engine.core.config import load_config
from caminos.engine.core.controls import ControlRegistry
from caminos.engine.live.control_process import control_engine
from caminos.engine.live.events import ForwardingQueue, decode_event
from caminos.engine.live.overload import (
    LATE_FRACTION,
    LATE_SHARE,
    MAX_RETRY_S,
    SETTLE_S,
    UNDERRUNS,
    WINDOW_S,
    OverloadPolicy,
    OverloadWatch,
    StepLog,
    phase_ladder,
)

CHOSEN, FALLBACK = "gsrtisi-la", "pv"


def to(fallback: str):
    """A ladder of one step, down to ``fallback`` ("": none), of settings that are methods."""
    return lambda chosen: (fallback,) if fallback and chosen != fallback else ()


def run(
    policy: OverloadPolicy,
    playing: str,
    start: float,
    seconds: float,
    late: float = 0.0,
    underruns: int = 0,
    step: float = 0.125,
) -> tuple[str, list[tuple[float, str]]]:
    """Update ``policy`` every ``step`` seconds from ``start`` for ``seconds``, the engine
    playing what it posts; returns what plays at the end and the posts, with their times."""
    posts = []
    for k in range(round(seconds / step)):
        now = start + k * step
        method = policy.update(now, playing, late, underruns)
        if method is not None:
            posts.append((round(now, 6), method))
            playing = method
    return playing, posts


def test_a_late_fifth_of_the_hops_steps_down_once_settled() -> None:
    policy = OverloadPolicy(to(FALLBACK), retry_s=10.0)
    playing, posts = run(policy, CHOSEN, 0.0, 3.0, late=0.19)  # under a fifth: nothing
    assert posts == [] and policy.chosen == CHOSEN and not policy.fallen
    playing, posts = run(policy, playing, 3.0, 3.0, late=0.2)
    assert posts == [(3.0, FALLBACK)]  # the method playing since 0 s: settled long ago
    assert policy.fallen and policy.fallbacks == 1 and policy.chosen == CHOSEN


def test_no_decision_before_the_window_holds_the_method_s_own_hops() -> None:
    policy = OverloadPolicy(to(FALLBACK), retry_s=10.0)
    _, posts = run(policy, CHOSEN, 0.0, 2.0, late=1.0)
    assert posts == [(SETTLE_S, FALLBACK)]


def test_underruns_step_down_too() -> None:
    policy = OverloadPolicy(to(FALLBACK), retry_s=10.0)
    _, posts = run(policy, CHOSEN, 5.0, 0.25, underruns=UNDERRUNS - 1)
    assert posts == []
    _, posts = run(policy, CHOSEN, 6.0, 0.25, underruns=UNDERRUNS)
    assert posts == [(6.0, FALLBACK)]


def test_the_chosen_method_is_tried_again_and_a_try_that_fails_waits_twice_as_long() -> None:
    policy = OverloadPolicy(to(FALLBACK), retry_s=4.0)
    policy.update(0.0, CHOSEN, 0.0, 0)
    assert policy.update(2.0, CHOSEN, 1.0, 0) == FALLBACK
    # on the fallback nothing is late; the chosen method comes back after 4 s
    playing, posts = run(policy, FALLBACK, 2.125, 4.0)
    assert posts == [(6.0, CHOSEN)] and not policy.fallen
    # it runs late again 2 s into the try: the next wait is 8 s
    assert policy.update(8.0, CHOSEN, 1.0, 0) == FALLBACK and policy.retry_s == 8.0
    _, posts = run(policy, FALLBACK, 8.125, 9.0)
    assert posts == [(16.0, CHOSEN)]
    # the try holds 8 s: the wait is the configured one again
    _, posts = run(policy, CHOSEN, 16.125, 9.0)
    assert posts == [] and policy.retry_s == 4.0 and policy.fallbacks == 2


def test_the_wait_doubles_up_to_an_hour() -> None:
    policy = OverloadPolicy(to(FALLBACK), retry_s=3000.0)
    policy.update(0.0, CHOSEN, 0.0, 0)
    now = 10.0
    for expected in (3000.0, 3600.0, 3600.0):
        assert policy.update(now, CHOSEN, 1.0, 0) == FALLBACK
        now += policy.retry_s
        assert policy.update(now, FALLBACK, 0.0, 0) == CHOSEN
        now += 2.0  # late again soon after the try
        assert policy.update(now, CHOSEN, 1.0, 0) == FALLBACK
        assert policy.retry_s == min(2 * expected, MAX_RETRY_S)
        now += policy.retry_s
        assert policy.update(now, FALLBACK, 0.0, 0) == CHOSEN
        now += 2.0


def test_a_performer_s_method_becomes_the_chosen_one() -> None:
    policy = OverloadPolicy(to(FALLBACK), retry_s=4.0)
    policy.update(0.0, CHOSEN, 0.0, 0)
    assert policy.update(2.0, CHOSEN, 1.0, 0) == FALLBACK
    # the performer posts rtpghi while the fallback plays: it plays, and is chosen
    assert policy.update(3.0, "rtpghi", 0.0, 0) is None
    assert policy.chosen == "rtpghi" and not policy.fallen and policy.retry_s == 4.0
    assert policy.step == 0
    _, posts = run(policy, "rtpghi", 3.125, 6.0)
    assert posts == []  # nothing late: no fallback and nothing to try again
    assert policy.update(9.5, "rtpghi", 0.5, 0) == FALLBACK
    _, posts = run(policy, FALLBACK, 9.625, 4.0)
    assert posts == [(13.5, "rtpghi")]


@pytest.mark.parametrize("fallback, chosen", [("", CHOSEN), (FALLBACK, FALLBACK)])
def test_nothing_steps_down_without_a_cheaper_method(fallback: str, chosen: str) -> None:
    policy = OverloadPolicy(to(fallback), retry_s=4.0)
    _, posts = run(policy, chosen, 0.0, 5.0, late=1.0, underruns=10)
    assert posts == [] and policy.fallbacks == 0


@pytest.fixture(scope="module")
def replica():
    """The control process's replica, built as it is (:func:`control_engine` with a
    :class:`ForwardingQueue`: each event applied at once and sent down a pipe); and the pipe's
    other end, where the hop clock would read."""
    registry = ControlRegistry()
    receive, send = multiprocessing.Pipe(duplex=False)
    engine, _ = control_engine(
        load_config(), 2, False, registry=registry, queue=ForwardingQueue(registry, send)
    )
    yield engine, receive
    send.close()
    receive.close()


METHOD_STEP = phase_ladder(FALLBACK, 0)  # straight down to the fallback method
ITERATIONS = 16  # the configuration's


def play_chosen(replica, receive) -> None:
    """The replica back on the chosen method and iterations, its events drained."""
    replica.post("/phase/method", CHOSEN)
    replica.post("/phase/iterations", ITERATIONS)
    sent(receive)


def sent(receive) -> list[tuple[str, tuple]]:
    """The events the replica has sent to the hop clock since the last call."""
    events = []
    while receive.poll():
        _, address, args, _, _ = decode_event(receive.recv_bytes())
        events.append((address, tuple(args)))
    return events


def test_the_watch_reads_its_window_of_the_tick_ring_across_its_wrap(replica) -> None:
    """The DSP process writes hop i's duration at i % len(ring); the watch takes the last
    WINDOW_S seconds' hops, wrapping; the late ones step the replica down, which sends the change to
    the hop clock."""
    replica, receive = replica
    hop_s = replica.hop / replica.sample_rate
    ring = np.full(4096, 0.1 * hop_s)
    hops, underruns, posted = [4096 + 40], [0.0], []
    watch = OverloadWatch(
        replica,
        OverloadPolicy(phase_ladder(FALLBACK, 0), retry_s=60.0),
        ring,
        lambda: hops[0],
        lambda: underruns[0],
        hop_s,
        on_switch=posted.append,
    )
    window = watch.window
    assert window == round(WINDOW_S / hop_s)
    play_chosen(replica, receive)
    # late hops just before the window count nothing
    late = np.arange(hops[0] - window - 60, hops[0] - window) % 4096
    ring[late] = LATE_FRACTION * hop_s
    assert watch.check(0.0) is None and watch.check(2.0) is None
    # a fifth of the window's hops, some each side of the ring's wrap, late: down to pv
    within = np.arange(4096 - 10, 4096 - 10 + int(np.ceil(LATE_SHARE * window))) % 4096
    assert within.min() == 0 and within.max() == 4095
    assert set(within) <= set(np.arange(hops[0] - window, hops[0]) % 4096)
    ring[within] = LATE_FRACTION * hop_s
    assert watch.check(3.0) == (FALLBACK, ITERATIONS)
    assert replica.get("/phase/method") == (FALLBACK,) and posted == [(FALLBACK, ITERATIONS)]
    assert sent(receive) == [("/phase/method", (FALLBACK,))]


def test_the_watch_counts_underruns_over_its_window(replica) -> None:
    replica, receive = replica
    hop_s = replica.hop / replica.sample_rate
    ring = np.zeros(4096)
    underruns = [10.0]
    play_chosen(replica, receive)
    watch = OverloadWatch(
        replica, OverloadPolicy(METHOD_STEP, 60.0), ring, lambda: 5000, lambda: underruns[0], hop_s
    )
    assert watch.check(0.0) is None
    underruns[0] = 12.0  # two at 1.5 s, one more at 2.6 s: never three within half a second
    assert watch.check(1.5) is None
    underruns[0] = 13.0
    assert watch.check(2.6) is None
    underruns[0] = 16.0  # three more since the check at 2.6 s, 0.4 s before
    assert watch.check(3.0) == (FALLBACK, ITERATIONS)


def test_before_half_a_window_of_hops_only_underruns_count(replica) -> None:
    """The first hops (caches cold, the voice's process starting) are too few to judge by
    their durations; holes in the sound count from the start."""
    replica, receive = replica
    hop_s = replica.hop / replica.sample_rate
    ring = np.full(4096, hop_s)  # every hop late
    hops, underruns = [0], [0.0]
    play_chosen(replica, receive)
    watch = OverloadWatch(
        replica,
        OverloadPolicy(METHOD_STEP, 60.0),
        ring,
        lambda: hops[0],
        lambda: underruns[0],
        hop_s,
    )
    hops[0] = watch.window // 2 - 1
    assert watch.check(0.0) is None and watch.check(1.0) is None
    underruns[0] = float(UNDERRUNS)
    assert watch.check(1.25) == (FALLBACK, ITERATIONS)


def test_the_ladder_halves_the_iterations_before_the_cheaper_method() -> None:
    """(phase_ladder(FALLBACK, 8) in the tests below: one step of iterations, then pv.)"""
    ladder = phase_ladder(FALLBACK, 8)
    assert ladder((CHOSEN, 16)) == ((CHOSEN, 8), (FALLBACK, 8))
    assert ladder(("rtpghi+gsrtisi", 16)) == (("rtpghi+gsrtisi", 8), (FALLBACK, 8))
    assert ladder((CHOSEN, 8)) == ((FALLBACK, 8),)  # no fewer iterations to step down to
    assert ladder((CHOSEN, 4)) == ((FALLBACK, 4),)
    assert ladder(("rtpghi", 16)) == ((FALLBACK, 16),)  # no iterations to take
    assert ladder((FALLBACK, 16)) == ()
    assert phase_ladder("", 8)((CHOSEN, 16)) == ((CHOSEN, 8),)
    # halved step by step down to the fewest (the default 4)
    fewest = phase_ladder(FALLBACK, 4)
    assert fewest((CHOSEN, 16)) == ((CHOSEN, 8), (CHOSEN, 4), (FALLBACK, 4))
    assert fewest((CHOSEN, 24)) == ((CHOSEN, 12), (CHOSEN, 6), (CHOSEN, 4), (FALLBACK, 4))
    assert fewest((CHOSEN, 5)) == ((CHOSEN, 4), (FALLBACK, 4))
    assert phase_ladder("", 0)((CHOSEN, 16)) == ()


def test_the_policy_steps_down_one_step_at_a_time_and_back_up_the_same_way() -> None:
    policy = OverloadPolicy(phase_ladder(FALLBACK, 8), retry_s=4.0)
    chosen = (CHOSEN, 16)
    assert policy.update(0.0, chosen, 0.0, 0) is None
    assert policy.update(1.0, chosen, 1.0, 0) == (CHOSEN, 8) and policy.step == 1
    # still late on fewer iterations, once they have settled: down to the cheaper method
    assert policy.update(1.25, (CHOSEN, 8), 1.0, 0) is None
    assert policy.update(1.5, (CHOSEN, 8), 1.0, 0) == (FALLBACK, 8) and policy.step == 2
    # late on the cheapest step too: nothing lower, nothing tried above
    _, posts = run(policy, (FALLBACK, 8), 1.625, 6.0, late=1.0)
    assert posts == [] and policy.fallbacks == 2
    # on time from 7.625 s: one step up after the wait, then the next after another
    playing, posts = run(policy, (FALLBACK, 8), 7.625, 10.0)
    assert posts == [(7.625, (CHOSEN, 8)), (11.625, chosen)] and playing == chosen
    assert policy.step == 0 and policy.chosen == chosen and policy.retry_s == 4.0


def test_a_performer_s_iterations_become_the_chosen_ones() -> None:
    policy = OverloadPolicy(phase_ladder(FALLBACK, 8), retry_s=4.0)
    policy.update(0.0, (CHOSEN, 16), 0.0, 0)
    assert policy.update(1.0, (CHOSEN, 16), 1.0, 0) == (CHOSEN, 8)
    assert policy.update(2.0, (CHOSEN, 24), 0.0, 0) is None  # the performer asks for 24
    assert policy.chosen == (CHOSEN, 24) and policy.step == 0
    assert policy.update(3.0, (CHOSEN, 24), 1.0, 0) == (CHOSEN, 12)  # halved from 24


def test_the_watch_posts_the_iterations_then_the_method_and_back(replica) -> None:
    """Each step of the ladder is an ordinary event sent to the hop clock: /phase/iterations
    for the first, /phase/method for the second, and the same back up."""
    replica, receive = replica
    hop_s = replica.hop / replica.sample_rate
    ring = np.zeros(4096)
    underruns, posted = [0.0], []
    play_chosen(replica, receive)
    watch = OverloadWatch(
        replica,
        OverloadPolicy(phase_ladder(FALLBACK, 8), 4.0),
        ring,
        lambda: 5000,
        lambda: underruns[0],
        hop_s,
        on_switch=posted.append,
    )
    assert watch.check(0.0) is None and watch.check(0.75) is None
    underruns[0] = float(UNDERRUNS)  # within half a second of the last check
    assert watch.check(1.0) == (CHOSEN, 8)
    assert sent(receive) == [("/phase/iterations", (8,))]
    assert watch.check(1.5) is None  # settled, on time
    underruns[0] += UNDERRUNS
    assert watch.check(1.6) == (FALLBACK, 8)
    assert sent(receive) == [("/phase/method", (FALLBACK,))]
    assert replica.get("/phase/iterations") == (8,)
    assert watch.check(6.0) == (CHOSEN, 8)
    assert sent(receive) == [("/phase/method", (CHOSEN,))]
    assert watch.check(10.0) == (CHOSEN, ITERATIONS)
    assert sent(receive) == [("/phase/iterations", (ITERATIONS,))]
    assert posted == [(CHOSEN, 8), (FALLBACK, 8), (CHOSEN, 8), (CHOSEN, ITERATIONS)]


def test_the_supervisor_says_each_step_down_and_up(caplog) -> None:
    import logging

    from caminos.engine.core.config import STREAMING_PHASE_METHODS

    front = {"phase_fallen": 0.0, "phase_step_method": 0.0, "phase_step_iterations": 0.0}
    front["phase_fallbacks"] = 0.0
    log = logging.getLogger("caminos.test-overload")
    steps = StepLog(front, 60.0, log)
    walk = [(1, CHOSEN, 8, 1), (2, FALLBACK, 8, 2), (1, CHOSEN, 8, 2), (0, CHOSEN, 16, 2)]
    with caplog.at_level(logging.INFO, logger=log.name):
        steps.check()  # nothing changed: no line
        for step, method, iterations, fallbacks in walk:
            front["phase_step_method"] = float(STREAMING_PHASE_METHODS.index(method))
            front["phase_step_iterations"] = float(iterations)
            front["phase_fallbacks"] = float(fallbacks)
            front["phase_fallen"] = float(step)
            steps.check()
            steps.check()  # said once
    assert [r.getMessage() for r in caplog.records] == [
        "the hop clock ran late: phase recovery stepped down to gsrtisi-la with 8 iterations"
        " (1 time(s) so far); the step above is tried again in 60 s or more",
        "the hop clock ran late: phase recovery stepped down to pv (2 time(s) so far); the step"
        " above is tried again in 60 s or more",
        "phase recovery back up to gsrtisi-la with 8 iterations",
        "phase recovery back to the chosen setting, gsrtisi-la with 16 iterations",
    ]


def test_the_benchmark_draws_the_holes_of_both_cases(tmp_path) -> None:
    """benchmarks/overload.py's picture from two timelines (seconds, underruns, fallbacks)."""
    from PIL import Image

    from benchmarks.overload import draw

    watched = [(0.05 * k, min(k, 30), int(k >= 20)) for k in range(200)]
    unwatched = [(0.05 * k, 5 * k, 0) for k in range(200)]
    rows = [
        {"case": "field_8", "timeline": watched},
        {"case": "field_8_unwatched", "timeline": unwatched},
    ]
    path = tmp_path / "overload.png"
    draw(rows, str(path))
    image = Image.open(path)
    assert image.format == "PNG" and image.width > 600
