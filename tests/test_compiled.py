"""The hop's kernels compiled without numba's runtime (engine/dsp/compiled.py): the same numbers
as numba's and numpy's matrix products, and no allocation for a call."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from numba import njit

from caminos.engine.dsp.compiled import (
    KERNEL_OPTIONS,
    any_nonzero,
    dot_into,
    hop_kernel,
    pairwise_sum,
)


@hop_kernel
def _rows_into(x: np.ndarray, matrix: np.ndarray, out: np.ndarray) -> None:
    for row in range(x.shape[0]):
        dot_into(x[row : row + 1], matrix, out[row : row + 1])


@njit(cache=False)
def _rows_numba(x: np.ndarray, matrix: np.ndarray, out: np.ndarray) -> None:
    for row in range(x.shape[0]):
        np.dot(x[row : row + 1], matrix, out[row : row + 1])


@hop_kernel
def _vector_into(weights: np.ndarray, matrix: np.ndarray, out: np.ndarray) -> None:
    dot_into(weights, matrix, out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 8, 3), (3, 64, 515), (5, 200, 32)])
def test_a_row_times_a_matrix_is_numbas_and_numpys_product_to_the_bit(dtype, shape, rng) -> None:
    rows, inner, columns = shape
    x = rng.standard_normal((rows, inner)).astype(dtype)
    matrix = rng.standard_normal((inner, columns)).astype(dtype)
    ours, numbas, numpys = (np.zeros((rows, columns), dtype) for _ in range(3))
    _rows_into(x, matrix, ours)
    _rows_numba(x, matrix, numbas)
    for row in range(rows):
        np.dot(x[row : row + 1], matrix, numpys[row : row + 1])
    assert np.array_equal(ours, numbas) and np.array_equal(ours, numpys)


def test_a_vector_times_a_matrix_is_numpys_product_to_the_bit(rng) -> None:
    weights = rng.uniform(0, 1, 8)
    matrix = rng.standard_normal((8, 32))
    ours, numpys = np.zeros(32), np.zeros(32)
    _vector_into(weights, matrix, ours)
    np.dot(weights, matrix, numpys)
    assert np.array_equal(ours, numpys)


def _peak_of_calls(kernel, *arrays) -> int:
    """The most memory one call held at once beyond what was held before (tracemalloc's
    peak), over ten calls."""
    kernel(*arrays)  # compiled
    tracemalloc.start()
    try:
        peak = 0
        for _ in range(10):
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            kernel(*arrays)
            peak = max(peak, tracemalloc.get_traced_memory()[1] - start)
    finally:
        tracemalloc.stop()
    return peak


def _add_product(a: np.ndarray, b: np.ndarray, c: np.ndarray, out: np.ndarray) -> None:
    for i in range(out.shape[0]):
        out[i] = a[i] + b[i] * c[i]


def test_a_hop_kernel_allocates_nothing_for_a_call_where_numbas_default_does() -> None:
    arrays = [np.ones(64) for _ in range(4)]
    with_runtime = njit(cache=False, nogil=True)(_add_product)
    without = njit(**dict(KERNEL_OPTIONS, cache=False))(_add_product)
    assert _peak_of_calls(with_runtime, *arrays) >= 4 * 48  # numba's MemInfo per array
    assert _peak_of_calls(without, *arrays) == 0


@hop_kernel
def row_sums(matrix: np.ndarray, out: np.ndarray) -> None:
    """Each row's :func:`pairwise_sum`, as the latent mixer sums each voice's weights."""
    for row in range(matrix.shape[0]):
        out[row] = pairwise_sum(matrix[row], 0, matrix.shape[1])


def test_row_sums_are_numpys_pairwise_sums_to_the_bit(rng) -> None:
    for n in [*range(1, 40), 127, 128, 129, 255, 256, 257, 488, 489, 700, 968]:
        rows = rng.uniform(0, 1, (20, n))
        ours = np.zeros(20)
        row_sums(rows, ours)
        assert np.array_equal(ours, rows.sum(axis=1)), n
    with pytest.raises(ValueError, match="more than 968"):
        row_sums(np.ones((1, 969)), np.zeros(1))


def test_any_nonzero_is_numpys_any() -> None:
    for values in ([0.0, 0.0], [0.0, -1e-300], [np.nan], []):
        array = np.array(values, dtype=np.float64)
        assert any_nonzero(array) == bool(array.any())


@hop_kernel
def _energy(values: np.ndarray) -> float:
    return np.dot(values, values)


def test_a_frames_energy_is_numpys_dot_to_the_bit(rng) -> None:
    """The sources' row weights (engine/clock/source_rows.py) take a frame's energy through
    numba's BLAS ``ddot``, as the Python loop before took numpy's."""
    for n in [1, 3, 8, 17, 100, 257, 513, 1025]:
        for _ in range(50):
            values = rng.standard_normal(n) * rng.uniform(0.0, 10.0)
            assert _energy(values) == values.dot(values), n


def test_the_output_gain_ramp_is_numpys_three_steps_to_the_bit(rng) -> None:
    """engine/dsp/output.py's ramped gain, compiled, against the numpy steps it replaced."""
    from caminos.engine.dsp.output import _ramp_gain

    ramp = np.arange(1, 257) / 256
    line = np.empty(256)
    for _ in range(200):
        ours = rng.standard_normal(256)
        theirs = ours.copy()
        before, after = rng.uniform(0.0, 2.0, 2)
        np.multiply(ramp, after - before, out=line)
        line += before
        theirs *= line
        _ramp_gain(ours, ramp, float(before), float(after))
        assert np.array_equal(ours, theirs)
