"""Scheduling for the live processes: a higher priority, real time where permitted, locked
memory."""

from __future__ import annotations

import ctypes
import os

_MCL_CURRENT, _MCL_FUTURE, _MCL_ONFAULT = 1, 2, 4  # mlockall flags (Linux; ONFAULT since 4.4)


def raise_priority(niceness: int = -10) -> bool:
    """Ask the OS to run this thread (and threads it starts later) ahead of ordinary work.

    Takes effect where permitted (root, or a raised RLIMIT_NICE as audio groups set); returns
    whether it did. On a shared machine this is what keeps hops on time under outside load.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except (PermissionError, OSError, AttributeError):
        return False
    return True


# SCHED_FIFO priority of the hop clock: above every ordinary process, below every thread of the
# audio server's. JACK 2 runs its clients' callback threads 5 below its own priority (10 by
# default: at 5). At the same priority as the callback, the DSP process was not preempted by it:
# a callback that woke on the DSP process's core waited for the hop to finish, up to 3 ms.
DSP_REALTIME_PRIORITY = 4


def raise_to_realtime(priority: int = DSP_REALTIME_PRIORITY) -> bool:
    """Run this thread under the real-time FIFO scheduler where permitted (root, or an
    ``rtprio`` limit as audio groups set); returns whether it did.

    Niceness only weighs a process against others: on a 2-core machine with training jobs, a
    flood of OSC packets being parsed and a voice rendering, the hop clock still waited for a
    core for milliseconds at a time (288 underruns in 60 s of the OSC fuzz at nice -10). A FIFO
    thread runs as soon as it wakes. It sleeps whenever the ring is full, and the kernel keeps 5 %
    of each second for ordinary processes (``sched_rt_runtime_us``) should a tick ever run away.
    Processes started later (the voice's) do not inherit it (``SCHED_RESET_ON_FORK``).
    """
    try:
        policy = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0)
        os.sched_setscheduler(0, policy, os.sched_param(priority))
    except (PermissionError, OSError, AttributeError):
        return False
    return True


def lock_memory() -> bool:
    """Keep every page this process has touched in RAM, now and later (``mlockall``); returns
    whether it could. Without it, the kernel may reclaim the pages of code that runs once a hop
    (this machine's proactive reclaim did, every few seconds), and the next callback waits for the
    disk: JACK logged hundreds of "client was not finished" xruns in 30 s that way.

    ``MCL_ONFAULT`` locks the pages already resident (the DSP process locks after its warm-up,
    when every page a hop touches is) and each page touched later as it is first touched, and
    leaves the rest on disk: without it, ``mlockall`` read in and pinned every page mapped, all
    of libtorch's and LLVM's code and buffers reserved but never written, 1.1 GB resident in the
    DSP process (0.41 GB with it) and 0.26 GB in the audio process (0.15 GB, of which 0.11 GB is
    JACK's shared memory). Kernels before 4.4 refuse the flag: they lock everything, as before.
    """
    try:
        mlockall = ctypes.CDLL(None, use_errno=True).mlockall
    except (OSError, AttributeError):
        return False
    return (
        mlockall(_MCL_CURRENT | _MCL_FUTURE | _MCL_ONFAULT) == 0
        or mlockall(_MCL_CURRENT | _MCL_FUTURE) == 0
    )  # before Linux 4.4 (EINVAL)
