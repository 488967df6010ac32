"""The hop clock's units: one hop of every voice, stage by stage, on buffers made at start.

``Engine.tick()`` applies the hop's events, runs the hop hooks (navigation), then calls each
unit's :meth:`Unit.process` in order on one :class:`HopBuffers`, the arrays the stages hand each
other; ``Engine.reset``, control registration and the latency loop over the same units. Each
unit wraps one stage (:mod:`~caminos.engine.clock.sources`, :mod:`~caminos.engine.clock.latent`,
:mod:`~caminos.engine.clock.field`, :mod:`~caminos.engine.clock.image_stage`,
:mod:`~caminos.engine.clock.texture_stage`, :mod:`~caminos.engine.clock.phase_stage`, the output
chain) with the one interface: ``process(hop)`` for all voices at once, ``reset()``, its delay
(``latency_samples`` on every path, ``input_latency_samples`` on the input's only) and its
``controls()``. No unit allocates arrays in :meth:`~Unit.process`.

Order, with what each reads and writes of :class:`HopBuffers`:

1. :class:`SourcesUnit`: the sources' frames (``mags``, ``refs``), each row's weight, each
   voice's weights of the rows it follows (``weights``) and its reference frame.
2. :class:`EncodeUnit`: ``log``, ``z_rows`` (the sounding rows, one product each).
3. :class:`MixUnit`: each voice's latent ``z``, ``presence``, ``follow``; the field's ``centre``.
4. :class:`FieldUnit` (not with the mono layout): each voice's place added to ``z``.
5. :class:`ImageUnit` (not with the mono layout): each multichannel source's channel corrections.
6. :class:`DecodeUnit`: ``decoded`` (every voice, row by row).
7. :class:`ShapeUnit`: per voice, non-finite frames silenced, presence, image, texture.
8. :class:`PhaseUnit`: ``voice_out``, each voice's phase recovery and overlap-add.
9. :class:`OutputUnit`: output gain, voices into ``block``, channel gains, DC blocker, limiter.

Why this file is longer than 500 lines: the one :class:`Unit` interface and its implementations,
each a thin wrapper of one stage, side by side in the order a hop runs them; a reader follows the
hop down one file, and the stages themselves stay free of the clock's buffers.
"""

from __future__ import annotations

import math
import dataclasses

import numpy as np

from caminos.engine.clock.channel_gains import ChannelGains
from caminos.engine.clock.codec import CHORD_MOST, FrameCodec
from caminos.engine.clock.source_rows import follow_rows, weigh_rows
from caminos.engine.clock.field import LatentField
from caminos.engine.clock.image_stage import ImageStage
from caminos.engine.clock.latent import LatentMixer
from caminos.engine.clock.level_keeper import LevelKeeper
from caminos.engine.clock.phase_stage import PhaseStage
from caminos.engine.clock.sources import FilePlayer, Source
from caminos.engine.clock.texture_stage import TextureStage
from caminos.engine.clock.voice_threads import VoiceThreads
from caminos.engine.core.config import Config
from caminos.engine.core.controls import Arg, ControlTable
from caminos.engine.core.parameters import Parameter
from caminos.engine.dsp.compiled import (
    add_in_place,
    all_finite,
    any_nonzero,
    hop_kernel,
    scale_in_place,
)
from caminos.engine.dsp.output import OutputChain
from caminos.models.shape import MAGNITUDE_FLOOR

# A source's weight in the latent mix grows with its level up to this level of a sine (dBFS), so a
# silent live input does not pull a playing file towards the latent of silence.
FULL_WEIGHT_DBFS = -60.0


@hop_kernel
def mean_of_rows(rows: np.ndarray, out: np.ndarray) -> None:
    """``out = rows.sum(axis=0) * (1 / len(rows))``, the same sums in the same order (numpy's
    reduction starts from 0 and adds row by row), without the reduction's temporaries."""
    for j in range(out.shape[0]):
        out[j] = 0.0
    for i in range(rows.shape[0]):
        for j in range(out.shape[0]):
            out[j] += rows[i, j]
    scale = 1.0 / rows.shape[0]
    for j in range(out.shape[0]):
        out[j] *= scale


@dataclasses.dataclass
class HopBuffers:
    """The arrays one hop passes from unit to unit, made once by :meth:`make`.

    Rows are source channels (``R``: the rows of the batched encode), voices are the output
    voices (``V``), bins and samples as the STFT's. ``index`` is the hop being computed.
    """

    mags: np.ndarray  # (R, bins): each source channel's magnitudes
    refs: np.ndarray  # (R, bins) complex: its analysis frame
    log: np.ndarray  # (R, bins) float32: log magnitudes with the model's floor
    row_weights: np.ndarray  # (R,): each row's weight (gain, up to its level), 0 when idle
    row_sounding: np.ndarray  # (R,): 1 for the rows of the channels each source sounds, else 0
    weights: np.ndarray  # (V, R): each voice's weight of each row
    sounding: np.ndarray  # (sources,) int: channels each source sounds this hop
    z_rows: np.ndarray  # (R, dims): each row's latent
    z_rows32: np.ndarray  # (R, dims) float32: the same, as the encoder writes it
    z: np.ndarray  # (V, dims): each voice's latent
    unmoved: np.ndarray  # (V, dims): each voice's latent before its place was added
    centre: np.ndarray  # (dims,): the field's centre (voice 0's latent with one voice)
    presence: np.ndarray  # (V,): each voice's presence, 0 .. 1
    follow: np.ndarray  # (V,): each voice's follow this hop: the mixer's own array
    level_shift: np.ndarray  # (V,): the level each voice's place added, nepers, to undo
    decoded: np.ndarray  # (V, bins): each voice's magnitudes into the phase stage
    voice_refs: np.ndarray  # (V, bins) complex: each voice's source analysis frame
    voice_out: np.ndarray  # (V, hop): each voice's samples
    block: np.ndarray  # (hop, channels): the output
    index: int = 0
    # Views made once, so a stage does not make one per row or voice every hop.
    decoded_rows: list[np.ndarray] = dataclasses.field(init=False, repr=False)
    unmoved_rows: list[np.ndarray] = dataclasses.field(init=False, repr=False)
    z_voice_rows: list[np.ndarray] = dataclasses.field(init=False, repr=False)
    voice_ref_rows: list[np.ndarray] = dataclasses.field(init=False, repr=False)
    voice_out_rows: list[np.ndarray] = dataclasses.field(init=False, repr=False)
    weight_rows: list[np.ndarray] = dataclasses.field(init=False, repr=False)
    block_columns: list[np.ndarray] = dataclasses.field(init=False, repr=False)
    latent_rows: list[np.ndarray] = dataclasses.field(init=False, repr=False)  # of z_rows
    log_rows: list[np.ndarray] = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.decoded_rows = list(self.decoded)
        self.unmoved_rows = list(self.unmoved)
        self.z_voice_rows = list(self.z)
        self.voice_ref_rows = list(self.voice_refs)
        self.voice_out_rows = list(self.voice_out)
        self.weight_rows = list(self.weights)
        self.block_columns = list(self.block.T)
        self.latent_rows = list(self.z_rows)
        self.log_rows = list(self.log)

    @classmethod
    def make(
        cls,
        rows: int,
        sources: int,
        voices: int,
        dims: int,
        n_bins: int,
        hop: int,
        channels: int,
        mono: bool,
        follow: np.ndarray,
    ) -> "HopBuffers":
        """Zeroed buffers for these sizes (``mono``: the centre is voice 0's latent itself);
        ``follow`` is the mixer's per-voice follow (``LatentMixer.voice_follow_value``), which
        the mixer writes every hop, shared rather than copied."""
        z = np.zeros((voices, dims))
        return cls(
            np.zeros((rows, n_bins)),
            np.zeros((rows, n_bins), dtype=np.complex128),
            np.zeros((rows, n_bins), dtype=np.float32),
            np.zeros(rows),
            np.zeros(rows),
            np.zeros((voices, rows)),
            np.zeros(sources, dtype=np.int64),
            np.zeros((rows, dims)),
            np.zeros((rows, dims), dtype=np.float32),
            z,
            np.zeros((voices, dims)),
            z[0] if mono else np.zeros(dims),
            np.zeros(voices),
            follow,
            np.zeros(voices),
            np.zeros((voices, n_bins)),
            np.zeros((voices, n_bins), dtype=np.complex128),
            np.zeros((voices, hop)),
            np.zeros((hop, channels)),
        )


class Unit:
    """One stage of the hop for all voices.

    Attributes
    ----------
    latency_samples : int
        What it delays every path (a control's and an input's), in samples.
    input_latency_samples : int
        What it delays the live input only (the STFT's framing), in samples.
    """

    latency_samples = 0
    input_latency_samples = 0

    def process(self, hop: HopBuffers) -> None:
        """Compute this unit's part of one hop, in place, allocating no arrays."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the signal's state (buffers, phases, walks); controls keep their values."""

    def controls(self) -> ControlTable:
        """Its controls, as data (empty for most)."""
        return ControlTable()


def gain_controls(sources: list[Source], gains: list[Parameter]) -> ControlTable:
    """``/source/NAME/gain`` for every source and ``/voice/gain``, as data."""
    table = ControlTable(gain.control() for gain in gains)
    voice = gains[[source.name for source in sources].index("voice")]
    table.append(
        voice.control(
            "/voice/gain", "gain of the voice source (the same as /source/voice/gain)", "voice"
        )
    )
    return table


class SourcesUnit(Unit):
    """Every source's frames into the rows; each row's weight; each voice's weights of the rows it
    follows (channel ``k mod C`` of each source, by its room index) and its reference frame (the
    first sounding source's own analysis frame, for the ``input`` phase method).

    Parameters
    ----------
    sources : list of Source
    gains : list of Parameter
        Each source's gain (``/source/NAME/gain``).
    voice_index : ndarray of int
        Each voice's index in the room.
    config : Config
        For the file player's controls.
    counters : dict
        The engine's counters (``bad_source_frames``).
    """

    def __init__(
        self,
        sources: list[Source],
        gains: list[Parameter],
        voice_index: np.ndarray,
        config: Config,
        counters: dict[str, int],
    ) -> None:
        self.sources = sources
        self.gains = gains
        self.voice_index = voice_index
        self.config = config
        self.counters = counters
        stft = config.stft
        self.rows = [source.rows for source in sources]
        self.base = np.cumsum([0] + self.rows[:-1]).astype(np.int64)
        self.bases = [int(b) for b in self.base]  # Python ints: no numpy scalar made a hop
        self.input_latency_samples = stft.n_fft - stft.hop  # analysis framing and overlap-add
        # Frame energy of a Hann-windowed sine at FULL_WEIGHT_DBFS: its three main bins.
        self.full_weight_energy = 1.5 * (10 ** (FULL_WEIGHT_DBFS / 20) * stft.n_fft / 4) ** 2
        self._views: list[tuple[np.ndarray, np.ndarray]] = []

    def bind(self, hop: HopBuffers) -> None:
        """Each source's rows of the buffers, as views made once."""
        self._views = [
            (hop.mags[b : b + r], hop.refs[b : b + r]) for b, r in zip(self.base, self.rows)
        ]

    @property
    def total_rows(self) -> int:
        """Rows of the batched encode."""
        return int(sum(self.rows))

    def process(self, hop: HopBuffers) -> None:
        hop.weights.fill(0.0)
        hop.voice_refs.fill(0.0)
        referenced = 0  # voices whose reference was taken (a bit each)
        i, count = 0, len(self.sources)
        while i < count:  # (no iterator: nothing allocated)
            referenced = self._source(i, hop, referenced)
            i += 1

    def _source(self, i: int, hop: HopBuffers, referenced: int) -> int:
        """Source ``i``'s frames into its rows, their weights, the voices that follow them;
        returns ``referenced`` with the voices whose reference it gave."""
        source = self.sources[i]
        gain = self.gains[i].step()
        source.gain = gain
        base = self.bases[i]
        source_mags, source_refs = self._views[i]
        sounding = source.frames(source_mags, source_refs)
        hop.sounding[i] = sounding
        bad = weigh_rows(
            hop.mags,
            hop.refs,
            hop.row_weights,
            hop.row_sounding,
            base,
            source.rows,
            sounding,
            gain,
            self.full_weight_energy,
        )
        if bad:
            self.counters["bad_source_frames"] += bad
        if sounding == 0:
            return referenced
        return follow_rows(
            hop.weights,
            hop.row_weights,
            self.voice_index,
            base,
            sounding,
            hop.voice_refs,
            hop.refs,
            source.has_reference,
            referenced,
        )

    def reset(self) -> None:
        for source in self.sources:
            source.reset()

    def controls(self) -> ControlTable:
        table = gain_controls(self.sources, self.gains)
        for source in self.sources:
            if isinstance(source, FilePlayer):
                table.extend(source.controls(self.config, self.config.audio.sample_rate))
        return table


class EncodeUnit(Unit):
    """The sounding rows' log magnitudes encoded in one batch (held while the latent is frozen)."""

    def __init__(self, codec: FrameCodec, mixer: LatentMixer) -> None:
        self.codec = codec
        self.mixer = mixer
        # The log in float64 before its cast to the model's float32: np.log straight into a
        # float32 output casts through a buffer numpy allocates every call (12 KB for 3 rows).
        self._log64 = np.zeros((codec.batch, codec.n_bins))
        self._streaming = False  # the analysis' streams hold a frame read (restart_streams)

    def process(self, hop: HopBuffers) -> None:
        if any_nonzero(hop.row_weights) and not self.mixer.frozen:  # numpy's any() allocates
            add_in_place(hop.mags, MAGNITUDE_FLOOR)
            np.log(hop.mags, out=self._log64)
            np.copyto(hop.log, self._log64, casting="same_kind")
            # only the channels that sound: a stereo file in a ring of 8 encodes 2 rows, not 8
            self.codec.encode(hop.log, hop.z_rows32, hop.mags, hop.row_sounding)
            np.copyto(hop.z_rows, hop.z_rows32)
            self._streaming = True
        elif self._streaming:  # nothing read this hop: each row's next frame starts afresh
            self.codec.restart_streams()
            self._streaming = False

    def reset(self) -> None:
        self.codec.restart_streams()
        self._streaming = False


class MixUnit(Unit):
    """Each voice's latent from the rows it follows, the path, offsets, noise and pitch
    (:meth:`~caminos.engine.clock.latent.LatentMixer.mix_voices`); the field's centre."""

    def __init__(self, mixer: LatentMixer, mono: bool, pitch: bool) -> None:
        self.mixer = mixer
        self.mono = mono
        self.pitch = pitch

    def process(self, hop: HopBuffers) -> None:
        mixer = self.mixer
        mixer.mix_voices(hop.z_rows, hop.weights, hop.z, hop.presence)  # and hop.follow
        if not self.mono:  # the voices' mean before their places
            mean_of_rows(hop.z, hop.centre)

    def controls(self) -> ControlTable:
        return self.mixer.controls(pitch=self.pitch)


class FieldUnit(Unit):
    """Each voice's place in the latent field added to its latent."""

    def __init__(self, field: LatentField) -> None:
        self.field = field

    def process(self, hop: HopBuffers) -> None:
        np.copyto(hop.unmoved, hop.z)
        self.field.step(hop.z, hop.level_shift)

    def reset(self) -> None:
        self.field.reset()

    def controls(self) -> ControlTable:
        return self.field.controls()


class ImageUnit(Unit):
    """Each multichannel source's channel corrections measured (applied by :class:`ShapeUnit`)."""

    def __init__(
        self, image: ImageStage, codec: FrameCodec, sources: SourcesUnit, mixer: LatentMixer
    ) -> None:
        self.image = image
        self.codec = codec
        self.sources = sources
        self.mixer = mixer

    def process(self, hop: HopBuffers) -> None:
        if self.image.step() > 0.0 and not self.mixer.frozen:
            rows, bases, i = self.sources.rows, self.sources.bases, 0
            while i < len(rows):  # (no iterator, Python ints: nothing allocated)
                sounding = hop.sounding.item(i)
                if rows[i] >= 2 and sounding >= 1:  # a one-channel source has no image
                    self.image.measure(
                        self.codec, hop.latent_rows, hop.log_rows, bases[i], sounding
                    )
                i += 1

    def reset(self) -> None:
        self.image.reset()

    def controls(self) -> ControlTable:
        return self.image.controls()


class DecodeUnit(Unit):
    """Every voice's latent decoded to magnitudes (row by row: see :mod:`~.codec`); owns the
    decoder's drawing controls, ``/latent/pitches`` and ``/latent/chord``."""

    def __init__(self, codec: FrameCodec) -> None:
        self.codec = codec

    def process(self, hop: HopBuffers) -> None:
        self.codec.decode_batch(hop.z, hop.decoded)

    def controls(self) -> ControlTable:
        table = ControlTable()
        if not self.codec.has_pitch:
            return table
        if self.codec.pitch_slots > 1:
            table.add(
                "/latent/pitches",
                (Arg("count", "i", 1, self.codec.pitch_slots),),
                "how many of the model's pitch slots the decoder draws, the most salient "
                "first (not the output voices of a field); fewer thins a chord to its "
                "strongest notes",
                self.codec.set_pitch_slots,
                self._get_pitches,
                "latent",
            )
        table.add(
            "/latent/chord",
            (Arg("semitones", "f", -24.0, 36.0, "semitones", repeat=True),),
            f"draw the strongest pitch's partials again at up to {CHORD_MOST} intervals "
            "above it, with its timbre, so one held note plays as a chord (4 7: a major "
            "triad); 0 alone: no chord",
            self._set_chord,
            self._get_chord,
            "latent",
        )
        return table

    def _get_pitches(self) -> tuple[int]:
        return (self.codec.pitch_slots_drawn(),)

    def _set_chord(self, *semitones: float) -> None:
        self.codec.set_chord(semitones)

    def _get_chord(self) -> tuple[float, ...]:
        return self.codec.chord_intervals() or (0.0,)


class ShapeUnit(Unit):
    """Per voice: a non-finite decoded frame becomes silence (counted), the frame is scaled by
    the voice's presence and back by the level its place added (``/field/keep_level``), takes its
    image correction and its sources' texture; silence below a presence of 1e-6.

    With a ``keeper`` (a many-pitch model's field) the level is kept on the textured frame
    instead, measured (:mod:`~.level_keeper`), ``keep_level`` being the field's parameter."""

    def __init__(
        self,
        texture: TextureStage,
        image: ImageStage | None,
        mixer: LatentMixer,
        counters: dict[str, int],
        keeper: LevelKeeper | None = None,
        keep_level: Parameter | None = None,
    ) -> None:
        self.texture = texture
        self.image = image
        self.mixer = mixer
        self.counters = counters
        self.keeper = keeper
        self.keep_level = keep_level

    def process(self, hop: HopBuffers) -> None:
        self.texture.step()
        pitch = self.mixer.pitch.value
        keep = self.keep_level.value if self.keep_level is not None else 0.0
        k, voices = 0, len(hop.decoded_rows)
        while k < voices:  # (no iterator: nothing allocated)
            self._shape_voice(k, hop, pitch, keep)
            k += 1

    def _shape_voice(self, k: int, hop: HopBuffers, pitch: float, keep: float) -> None:
        """Voice ``k``'s decoded frame, shaped in place."""
        decoded = hop.decoded_rows[k]
        presence = hop.presence.item(k)  # a Python float: no numpy scalar made a voice
        if presence <= 1e-6:
            decoded.fill(0.0)
            return
        if not all_finite(decoded):
            decoded.fill(0.0)
            self.counters["bad_model_frames"] += 1
            return
        if presence < 1.0:
            scale_in_place(decoded, presence)
        shift = hop.level_shift.item(k)
        if shift != 0.0:
            scale_in_place(decoded, math.exp(-shift))
        follow = hop.follow.item(k)
        weights = hop.weight_rows[k]
        image = self.image
        if image is not None and image.amount.value > 0.0:
            image.apply(decoded, weights, follow)
        self.texture.process_voice(
            k, decoded, hop.log, weights, follow, pitch, held=self.mixer.frozen
        )
        if self.keeper is not None:
            self.keeper.process_voice(
                k, decoded, hop.unmoved_rows[k], hop.z_voice_rows[k], presence, keep
            )

    def reset(self) -> None:
        self.texture.reset()
        if self.keeper is not None:
            self.keeper.reset()

    def controls(self) -> ControlTable:
        return self.texture.controls()


class PhaseUnit(Unit):
    """Each voice's phase recovery and overlap-add, decorrelated as the field asks; the voices
    run through ``threads`` (:class:`~.voice_threads.VoiceThreads`): in one group on the hop's
    thread, or in groups at once on helper threads (``engine.phase_threads``)."""

    def __init__(
        self, phase: PhaseStage, field: LatentField | None, threads: VoiceThreads | None = None
    ) -> None:
        self.phase = phase
        self.field = field
        # one group on the hop's own thread unless the engine gave helpers
        self.threads = threads if threads is not None else VoiceThreads(phase.voices, 1, "phase")
        self._hop: HopBuffers | None = None
        self._decorrelate = 0.0
        self._group_job = self._process_group  # bound once, not a new method object a hop

    @property
    def latency_samples(self) -> int:  # type: ignore[override]
        return self.phase.latency_samples

    def process(self, hop: HopBuffers) -> None:
        self._hop = hop
        self._decorrelate = 0.0 if self.field is None else self.field.decorrelate.value
        self.threads.run_groups(self._group_job)
        self.phase.end_hop()

    def _process_group(self, group: range) -> None:
        hop = self._hop
        self.phase.process_group(
            group,
            hop.decoded,
            hop.decoded_rows,
            hop.voice_ref_rows,
            hop.voice_out_rows,
            self._decorrelate,
        )

    def reset(self) -> None:
        self.phase.reset()

    def controls(self) -> ControlTable:
        return self.phase.controls()


class OutputUnit(Unit):
    """The output gain (ramped across the hop), the voices into the channels (one voice copied
    to every channel with the mono layout), each channel's gain, the DC blocker per channel and
    the safety limiter linked across channels.

    With ``limit`` False the limiter is left out and adds no delay: the engine renders one
    group of a room's channels, which its caller limits together with the other groups'
    (:mod:`caminos.engine.control.group_render`).
    """

    def __init__(
        self,
        out_gain: Parameter,
        output: OutputChain,
        gains: ChannelGains,
        mono: bool,
        limit: bool = True,
    ) -> None:
        self.out_gain = out_gain
        self.output = output
        self.gains = gains
        self.mono = mono
        self.limit = limit

    @property
    def latency_samples(self) -> int:  # type: ignore[override]
        return self.output.latency_samples if self.limit else 0

    def process(self, hop: HopBuffers) -> None:
        before = self.out_gain.value
        after = self.out_gain.step()
        voices, columns = hop.voice_out_rows, hop.block_columns
        k, count = 0, len(voices)
        while k < count:  # (no iterator: nothing allocated, here and below)
            self.output.gain(voices[k], before, after)
            k += 1
        c, count = 0, len(columns)
        while c < count:
            np.copyto(columns[c], voices[0 if self.mono else c])
            c += 1
        block = hop.block
        self.gains.process(block)
        if self.limit:
            self.output.process(block)
        else:
            self.output.block_dc(block)

    def reset(self) -> None:
        self.gains.reset()
        self.output.reset()

    def controls(self) -> ControlTable:
        table = ControlTable([self.out_gain.control()])
        table.extend(self.gains.controls())
        return table


def units_latency(units: list[Unit]) -> tuple[int, int]:
    """``(input_only, every_path)``: the units' delays summed, in samples."""
    return (
        sum(unit.input_latency_samples for unit in units),
        sum(unit.latency_samples for unit in units),
    )
