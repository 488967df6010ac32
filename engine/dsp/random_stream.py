"""numpy's random streams drawn inside the hop's kernels, so a hop draws noise without allocating.

``Generator.standard_normal(out=buffer)`` makes 144 bytes of Python objects a call, and numba,
given the ``Generator`` itself, spends about 1.5 KB a call reading the bit generator's ``ctypes``
interface. :class:`KernelRandom` reads that interface once, keeps the four addresses a draw
needs (the bit generator's state and its ``next_uint64``, ``next_uint32``, ``next_double``) in a
small array, and its kernels rebuild numba's bit-generator record from them: numba's port of
numpy's ziggurat then draws the very numbers numpy's generator would have drawn, from the same
state (tests/test_random_stream.py), and the ``Generator`` stays usable from Python between hops.

One :class:`KernelRandom` belongs to one thread: the draws bypass the generator's lock.
"""

from __future__ import annotations

import ctypes

import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.random.distributions import random_standard_normal

from caminos.engine.dsp.compiled import hop_kernel

_STATE, _NEXT_UINT64, _NEXT_UINT32, _NEXT_DOUBLE = range(4)


@intrinsic
def _bit_generator(typingctx, addresses):
    """numba's record of a numpy bit generator, from ``addresses`` (uint64: the state, then the
    ``next_uint64``, ``next_uint32`` and ``next_double`` functions); no Python object in it."""
    if not (isinstance(addresses, types.Array) and addresses.dtype == types.uint64):
        return None
    bit_generator = types.NumPyRandomBitGeneratorType("bit_generator")

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])

        def address(index):
            pointer = cgutils.get_item_pointer(
                context, builder, sig.args[0], array, [context.get_constant(types.intp, index)]
            )
            return builder.load(pointer)

        record = cgutils.create_struct_proxy(bit_generator)(context, builder)
        record.parent = cgutils.get_null_value(record.parent.type)
        record.state_address = address(_STATE)
        record.state = address(_STATE)
        record.fnptr_next_uint64 = address(_NEXT_UINT64)
        record.fnptr_next_uint32 = address(_NEXT_UINT32)
        record.fnptr_next_double = address(_NEXT_DOUBLE)
        record.bit_generator = cgutils.get_null_value(record.bit_generator.type)
        return record._getvalue()

    return bit_generator(addresses), codegen


@hop_kernel
def standard_normal_into(addresses: np.ndarray, out: np.ndarray) -> None:
    """``Generator.standard_normal(out=out)`` for a vector: the same numbers, from the same
    state, nothing allocated."""
    bits = _bit_generator(addresses)
    for i in range(out.shape[0]):
        out[i] = random_standard_normal(bits)


@hop_kernel
def standard_normal_value(addresses: np.ndarray) -> float:
    """``Generator.standard_normal()``: one draw, numpy's, as a Python float."""
    return random_standard_normal(_bit_generator(addresses))


_warm = False


def _warm_up() -> None:
    """Compile (or load) the kernels once, on a generator of their own, so a first draw on the
    hop clock does not compile them."""
    global _warm
    if not _warm:
        generator = np.random.default_rng(0)  # alive while its addresses are used
        addresses = _addresses(generator)
        standard_normal_into(addresses, np.zeros(1))
        standard_normal_value(addresses)
        _warm = True


def _addresses(generator: np.random.Generator) -> np.ndarray:
    """The four addresses a kernel's draw needs, from the bit generator's ``ctypes`` interface
    (uint64: its state, ``next_uint64``, ``next_uint32``, ``next_double``)."""
    bindings = generator.bit_generator.ctypes

    def function(pointer) -> int:
        return ctypes.cast(pointer, ctypes.c_void_p).value

    return np.array(
        [
            bindings.state_address,
            function(bindings.next_uint64),
            function(bindings.next_uint32),
            function(bindings.next_double),
        ],
        dtype=np.uint64,
    )


class KernelRandom:
    """A numpy ``Generator`` whose draws a hop kernel makes.

    Parameters
    ----------
    generator : numpy.random.Generator
        Kept alive here (the addresses point into it); draws from Python still work and share
        its state.
    """

    def __init__(self, generator: np.random.Generator) -> None:
        self.generator = generator
        _warm_up()
        self.addresses = _addresses(generator)

    def standard_normal(self, out: np.ndarray) -> None:
        """Fill the float64 vector ``out`` with standard normal draws (numpy's)."""
        standard_normal_into(self.addresses, out)

    def standard_normal_value(self) -> float:
        """One standard normal draw (numpy's ``standard_normal()``)."""
        return standard_normal_value(self.addresses)
