"""What a call allocates at its peak, temporaries included: the measure of the hop's
"nothing allocated" tests.

tracemalloc's peak since ``reset_peak()``, less what was held when it was reset. Reading the
counter makes objects (the pair it returns, and an int for a number over 256): here they are
gone before the reset (the number is kept in a numpy cell, not as an int), so a call that
allocates nothing measures 0, whatever state Python's free lists are in.

tracemalloc counts every thread of the process: under pytest-xdist a worker's thread talks to
the controller now and then, so the tests measure in rounds and keep each figure's smallest.
"""

from __future__ import annotations

import tracemalloc

import numpy as np

_held = np.zeros(1, dtype=np.int64)  # what was held at the reset


def allocated_at_peak(call, *args) -> int:
    """Bytes ``call(*args)`` held at its peak beyond what was held before it; tracemalloc must
    be tracing."""
    _held[0] = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    call(*args)
    return tracemalloc.get_traced_memory()[1] - _held.item(0)
