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
        bindings = generator.bit_generator.ctypes

        def function(pointer) -> int:
            return ctypes.cast(pointer, ctypes.c_void_p).value

        self.addresses = np.array(
            [
                bindings.state_address,
                function(bindings.next_uint64),
                function(bindings.next_uint32),
                function(bindings.next_double),
            ],
            dtype=np.uint64,
        )

    def standard_normal(self, out: np.ndarray) -> None:
        """Fill the float64 vector ``out`` with standard normal draws (numpy's)."""
        standard_normal_into(self.addresses, out)
