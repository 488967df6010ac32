"""How the hop's compiled kernels are compiled: without numba's runtime, so calling one
allocates nothing.

numba wraps each array a compiled function takes from Python in a ``MemInfo`` of its runtime
(NRT): 48 bytes through ``PyMem_RawMalloc`` per array and call, 145 such a tick at one voice and
455 at eight, freed when the call returns. A kernel compiled with the runtime off
(:func:`hop_kernel`) takes the same arrays without it: no allocation, and a call of four arrays
took 0.35 us instead of 0.48. Such a kernel may not make an array (``np.empty``, an array
expression); every buffer it writes is one it is given, as the hop's kernels already do.

numba's ``np.dot(a, b, out)`` returns ``out``, which a kernel without the runtime may not do
with an array it did not take as an argument (a row ``out[i : i + 1]`` is one it made), so
:func:`dot_into` makes numba's own call of BLAS for it and returns nothing: the same routine
(``gemv`` for a row times a matrix, ``gemm`` otherwise) with the same arguments, so the same
numbers to the bit (tests/test_compiled.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core.typing import signature
from numba.extending import intrinsic
from numba.np import linalg

KERNEL_OPTIONS = dict(cache=True, nogil=True, _nrt=False)
# The dtypes the hop's kernels take, as dtype objects: comparing two dtypes makes nothing. (Not
# by identity: an array unpickled in another process has an equal dtype that is another object.)
FLOAT64 = np.dtype(np.float64)
COMPLEX128 = np.dtype(np.complex128)


def is_kind(array: np.ndarray, dtype: np.dtype, ndim: int) -> bool:
    """Whether ``array`` has ``ndim`` dimensions of ``dtype`` (:data:`FLOAT64`, ...): what a
    kernel compiled for it takes without compiling anew, checked without making anything."""
    return array.ndim == ndim and array.dtype == dtype


def misfit(owner: str, shape: tuple, arrays, layout: str = "") -> str:
    """What was wrong with a kernel's arrays, in words, once the kernel refused them: the first
    of ``arrays`` ((name, array, dtype), ...) not of ``shape`` and ``dtype`` (nor C-contiguous,
    with ``layout`` "C-contiguous ")."""
    for name, array, dtype in arrays:
        if (
            array.shape != shape
            or array.dtype != dtype
            or (layout and not array.flags.c_contiguous)
        ):
            break
    return (
        f"{owner}: {name} must be {layout}{dtype.name} of shape {shape}, "
        f"got {array.dtype} {array.shape}"
    )


def hop_kernel(function):
    """Compile ``function`` for the hop: no Python objects, no GIL held, numba's runtime off
    (its array arguments cost no allocation); cached on disk like every kernel."""
    return njit(**KERNEL_OPTIONS)(function)


@intrinsic
def dot_into(typingctx, a, b, out):
    """``np.dot(a, b, out)`` as numba computes it, returning nothing: ``a`` and ``b`` two
    matrices or a vector and a matrix, contiguous, of ``out``'s dtype."""
    if not all(isinstance(x, types.Array) for x in (a, b, out)):
        return None
    if a.dtype != b.dtype or a.dtype != out.dtype:
        return None

    def codegen(context, builder, sig, args):
        linalg.ensure_blas()
        as_numba = signature(out, a, b, out)  # np.dot's own signature, its result dropped
        with linalg.make_contiguous(context, builder, as_numba, args) as (sig_, args_):
            if {x.ndim for x in sig_.args[:2]} == {2}:
                linalg.dot_3_mm(context, builder, sig_, args_)
            else:
                linalg.dot_3_vm(context, builder, sig_, args_)
        return context.get_dummy_value()

    return types.none(a, b, out), codegen


@hop_kernel
def _block_sum(values: np.ndarray, start: int, n: int) -> float:
    """numpy's sum of a run of at most 128 values: in order below 8, else eight running sums
    combined in pairs, then the rest in order."""
    if n > 128:
        raise ValueError("pairwise_sum: more than 968 values")  # past the three halvings
    if n < 8:
        total = 0.0
        for i in range(n):
            total += values[start + i]
        return total
    r0, r1, r2, r3 = values[start], values[start + 1], values[start + 2], values[start + 3]
    r4, r5, r6, r7 = values[start + 4], values[start + 5], values[start + 6], values[start + 7]
    i = 8
    whole = n - n % 8
    while i < whole:
        j = start + i
        r0 += values[j]
        r1 += values[j + 1]
        r2 += values[j + 2]
        r3 += values[j + 3]
        r4 += values[j + 4]
        r5 += values[j + 5]
        r6 += values[j + 6]
        r7 += values[j + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        total += values[start + i]
        i += 1
    return total


# numpy halves a longer run (at a multiple of 8) and sums each half the same way. Recursion
# would be the plain way to write it, but numba's cache loads a recursive kernel compiled
# without its runtime into a crash (seen here: a segmentation fault at the second run); so three
# levels of halving, each its own kernel: runs of up to 968 values.
@hop_kernel
def _halved_once(values: np.ndarray, start: int, n: int) -> float:
    if n <= 128:
        return _block_sum(values, start, n)
    half = n // 2 - (n // 2) % 8
    return _block_sum(values, start, half) + _block_sum(values, start + half, n - half)


@hop_kernel
def _halved_twice(values: np.ndarray, start: int, n: int) -> float:
    if n <= 128:
        return _block_sum(values, start, n)
    half = n // 2 - (n // 2) % 8
    return _halved_once(values, start, half) + _halved_once(values, start + half, n - half)


@hop_kernel
def pairwise_sum(values: np.ndarray, start: int, n: int) -> float:
    """The sum of ``values[start : start + n]`` (``n`` up to 968) as numpy sums a
    contiguous run, so equal to ``values.sum()`` to the bit (tests/test_compiled.py checks
    sizes from 1 to 968); a longer run raises ValueError."""
    if n <= 128:
        return _block_sum(values, start, n)
    half = n // 2 - (n // 2) % 8
    return _halved_twice(values, start, half) + _halved_twice(values, start + half, n - half)


@hop_kernel
def all_finite(values: np.ndarray) -> bool:
    """Whether every value is finite (np.isfinite(...).all() allocates a mask)."""
    for v in values:
        if not np.isfinite(v):
            return False
    return True


@hop_kernel
def any_nonzero(values: np.ndarray) -> bool:
    """``values.any()`` for a 1-D array, without the reduction's buffers (914 bytes a call)."""
    for v in values:
        if v != 0.0:
            return True
    return False


@hop_kernel
def scale_in_place(values: np.ndarray, factor: float) -> None:
    """``values *= factor`` for a vector (numpy's makes an array of the factor first: 104 bytes
    a call)."""
    for i in range(values.shape[0]):
        values[i] *= factor


@hop_kernel
def is_c_matrix(values: np.ndarray, rows: int, columns: int) -> bool:
    """Whether the 2-D ``values`` is C-contiguous of shape (rows, columns): a kernel's check of
    what it is given (in Python, ``.shape`` and ``.flags`` each make an object)."""
    size = values.itemsize
    return (
        values.shape[0] == rows
        and values.shape[1] == columns
        and values.strides[1] == size
        and values.strides[0] == columns * size
    )


@hop_kernel
def add_in_place(values: np.ndarray, offset: float) -> None:
    """``values += offset`` for a matrix (numpy's makes an array of the offset first)."""
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            values[i, j] += offset


@hop_kernel
def scaled_into(values: np.ndarray, factor: float, out: np.ndarray) -> None:
    """``np.multiply(values, factor, out=out)`` for a vector, without numpy's array of the
    factor."""
    for i in range(values.shape[0]):
        out[i] = values[i] * factor
