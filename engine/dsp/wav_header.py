"""The speaker mask of a WAVE_FORMAT_EXTENSIBLE file, set in its finished header.

A ``.wav`` file with more than two channels is written as WAVE_FORMAT_EXTENSIBLE, whose ``fmt ``
chunk holds ``dwChannelMask``: one bit per speaker position the channels feed, in order (bit 0
front left, bit 1 front right, bit 2 front centre, bit 3 low frequency, bit 4 back left, bit 5
back right... up to bit 17 top back right), 0 for channels fed to no named speaker.

libsndfile chooses that mask itself: the surround layout its channel count suggests (quad for 4
channels, 5.1 for 6, 7.1 for 8, none otherwise) unless a channel map is set, and a channel map
can neither say "no speaker positions" nor name fewer positions than there are channels; it
also rewrites the whole header when the file is closed. So the mask is written into the closed
file instead, at its fixed place: 20 bytes into the ``fmt `` chunk's data, after wFormatTag,
nChannels, nSamplesPerSec, nAvgBytesPerSec, nBlockAlign, wBitsPerSample, cbSize and
wValidBitsPerSample.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from caminos.engine.core.errors import AudioFileError

SPEAKER_POSITIONS = 18  # bits of dwChannelMask that name a speaker (0x1 ... 0x20000)
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_EXTENSIBLE_FMT_BYTES = 40  # the fmt chunk's data up to the sub-format GUID's end
_MASK_OFFSET = 20  # of dwChannelMask in the fmt chunk's data


def check_channel_mask(mask: int, channels: int, where: str) -> int:
    """Check a speaker mask for ``channels`` channels; returns it.

    Parameters
    ----------
    mask : int
        ``dwChannelMask``: bit k set when a channel feeds speaker position k; 0 for none.
    channels : int
        Channels of the file.
    where : str
        What the error messages name (the file).

    Raises
    ------
    AudioFileError
        The mask is not an integer, sets bits beyond the 18 speaker positions, or names more
        positions than there are channels.
    """
    if isinstance(mask, bool) or not isinstance(mask, int):
        raise AudioFileError(f"{where}: channel mask {mask!r} is not an integer")
    if not 0 <= mask < 1 << SPEAKER_POSITIONS:
        raise AudioFileError(
            f"{where}: channel mask {mask:#x} is not between 0 and 0x3ffff "
            f"(one bit for each of the {SPEAKER_POSITIONS} speaker positions)"
        )
    named = bin(mask).count("1")
    if named > channels:
        raise AudioFileError(
            f"{where}: channel mask {mask:#x} names {named} speakers for "
            f"{channels} channels; set at most one bit per channel"
        )
    return mask


def _fmt_data(handle: BinaryIO, where: str) -> tuple[int, int]:
    """Offset and size of the ``fmt `` chunk's data in an open RIFF WAVE file."""
    head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
        raise AudioFileError(f"{where}: not a RIFF WAVE file; only those hold a channel mask")
    offset = 12
    while True:
        handle.seek(offset)
        chunk = handle.read(8)
        if len(chunk) < 8:
            raise AudioFileError(f"{where}: the WAVE header has no fmt chunk")
        size = int.from_bytes(chunk[4:], "little")
        if chunk[:4] == b"fmt ":
            return offset + 8, size
        offset += 8 + size + (size & 1)  # chunks are padded to an even length


def write_channel_mask(path: str | os.PathLike, mask: int) -> None:
    """Set ``dwChannelMask`` of a closed WAVE_FORMAT_EXTENSIBLE file.

    Parameters
    ----------
    path : path
        The file, as libsndfile wrote it with ``format="WAVEX"`` and closed.
    mask : int
        The speaker mask, checked with :func:`check_channel_mask`.

    Raises
    ------
    AudioFileError
        The file cannot be opened, is not a RIFF WAVE file, or its format is not
        WAVE_FORMAT_EXTENSIBLE. The message names the path.
    """
    where = os.fspath(path)
    try:
        with open(path, "r+b") as handle:
            data, size = _fmt_data(handle, where)
            handle.seek(data)
            fmt = handle.read(_EXTENSIBLE_FMT_BYTES)
            tag = int.from_bytes(fmt[:2], "little")
            if (
                size < _EXTENSIBLE_FMT_BYTES
                or len(fmt) < _EXTENSIBLE_FMT_BYTES
                or tag != WAVE_FORMAT_EXTENSIBLE
                or int.from_bytes(fmt[16:18], "little") < 22
            ):
                raise AudioFileError(
                    f"{where}: format tag 0x{tag:04X} is not "
                    "WAVE_FORMAT_EXTENSIBLE, which alone holds a channel mask"
                )
            check_channel_mask(mask, int.from_bytes(fmt[2:4], "little"), where)
            handle.seek(data + _MASK_OFFSET)
            handle.write(mask.to_bytes(4, "little"))
    except OSError as exc:
        raise AudioFileError(f"{where}: cannot set the channel mask ({exc.strerror})") from None
