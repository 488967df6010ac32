"""The hop clock: :meth:`Engine.tick` turns control events and sources into one hop of samples.

The centre of caminos (docs/architecture.md). Live playing
(:mod:`caminos.engine.live.dsp_process`) and offline rendering
(:mod:`caminos.engine.control.score`) call the same :meth:`Engine.tick`; with the same control
events at the same hops they produce the same samples. Each tick:

1. applies the control events due at this hop (:class:`caminos.engine.core.controls.ControlQueue`);
2. takes one magnitude frame from each channel of each source (:mod:`caminos.engine.clock.sources`);
3. encodes them in one batched call of the model (:class:`caminos.engine.clock.codec.FrameCodec`);
4. mixes the latents of every voice, one per output channel, each from its own channel of the
   sources (:class:`caminos.engine.clock.latent.LatentMixer`), and places each voice in the
   latent field (:class:`caminos.engine.clock.field.LatentField`: layout, spread, offsets);
5. decodes every voice in one batched call; a non-finite frame becomes silence and is counted;
   keeps a multichannel source's image (:class:`caminos.engine.clock.image_stage.ImageStage`,
   ``/field/image``); lays the sounding sources' fine structure on it
   (:class:`caminos.engine.clock.texture_stage.TextureStage`, ``/latent/texture``);
6. recovers phase and overlap-adds per voice (:class:`caminos.engine.clock.phase_stage.PhaseStage`);
7. applies the output gain (ramped across the hop), each channel's gain and mute, the DC blocker
   per channel and the safety limiter linked across channels (one gain for all).

With the ``mono`` layout one voice is computed and copied to every channel: the sound of caminos
before the field, sample for sample.

All buffers are allocated in ``__init__``; slow work that a control needs (loading a file,
building a phase method) runs in the posting thread through the control's ``prepare``.

Why this file is longer than 500 lines: the composition of one hop: the stages and units are built
in the order they depend on each other, beside the tick, the status and the voice's attachment;
split, the construction order would be spread over files.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

from caminos.engine.clock.channel_gains import ChannelGains
from caminos.engine.clock.codec import FrameCodec
from caminos.engine.clock.field import LatentField
from caminos.engine.clock.image_stage import ImageStage
from caminos.engine.clock.latency import Latency
from caminos.engine.clock.latent import LatentMixer
from caminos.engine.clock.level_keeper import LevelKeeper
from caminos.engine.clock.phase_stage import PhaseStage, warm_up_methods
from caminos.engine.clock.status import TIMING_WINDOW, Clock, OwnClock, measured_status
from caminos.engine.clock.sources import FilePlayer, InputSource, LoadedFile, Source, VoiceSource
from caminos.engine.clock.texture_stage import TextureStage
from caminos.engine.clock.voice_threads import VoiceThreads
from caminos.engine.clock.units import (
    DecodeUnit,
    EncodeUnit,
    FieldUnit,
    HopBuffers,
    ImageUnit,
    MixUnit,
    OutputUnit,
    PhaseUnit,
    ShapeUnit,
    SourcesUnit,
    Unit,
    units_latency,
)
from caminos.engine.core.config import Config
from caminos.engine.core.controls import Arg, Control, ControlEvent, ControlQueue, ControlRegistry
from caminos.engine.core.parameters import Parameter, smoothing_coefficient
from caminos.engine.core.errors import CaminosError, CheckpointError, ControlError
from caminos.engine.core.layouts import field_layout
from caminos.engine.dsp.output import OutputChain
from caminos.models.shape import MAGNITUDE_FLOOR, HopModel

if TYPE_CHECKING:  # torch's modules: imported where the torch form is loaded (TorchModel)
    from caminos.models.autoencoder import FusedCodec
    from caminos.models.checkpoint import Checkpoint


def source_gain(name: str, coefficient: float) -> Parameter:
    """``/source/NAME/gain``: a source's gain, a linear amplitude factor, smoothed."""
    return Parameter(
        f"/source/{name}/gain",
        Arg("gain", "f", 0.0, 4.0, "x"),
        f"gain of the {name} source (linear amplitude factor; 0 mutes it)",
        "source",
        1.0,
        coefficient,
    )


def engine_counters() -> dict[str, int]:
    """The counters an engine keeps, at zero: frames the model or a source made non-finite,
    controls refused, events applied."""
    return {"bad_model_frames": 0, "bad_source_frames": 0, "control_errors": 0, "events_applied": 0}


def load_frame_model(path, stft, sample_rate: int) -> Checkpoint:
    """Load an autoencoder for the engine; a frame-wise model may run at another hop.

    A model without context sees one frame at a time, so the hop only sets how often frames
    come: one trained at hop 256 plays at hop 128 unchanged (frame size, window and sample rate
    must still match). Models with context are held to their hop.

    Raises
    ------
    CheckpointError
        As :func:`caminos.models.checkpoint.load_checkpoint`.
    """
    from dataclasses import replace

    from caminos.models.checkpoint import load_checkpoint, peek

    stored = peek(path)
    saved_hop = (stored.get("stft") or {}).get("hop")
    context = (stored.get("shape") or {}).get("context", 0)
    if context == 0 and isinstance(saved_hop, int) and saved_hop != stft.hop:
        try:
            stft = replace(stft, hop=saved_hop)
        except Exception:  # a hop that does not divide n_fft: let the full check explain
            pass
    return load_checkpoint(path, stft, sample_rate)


def one_torch_thread() -> None:
    """torch on one thread, where this process has loaded it (it loads nothing otherwise).

    The hop's small products gain nothing from more, a pool of spinning threads takes cores
    from the hop clock, and a fixed count keeps live runs and offline renders bit-identical.
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


class TorchModel:
    """An engine's model in torch, loaded on first use: the checkpoint and its fused codec.

    The hop path runs on a :class:`~caminos.models.shape.HopModel`; torch is needed only to
    encode sounds into landmarks (the control process's prepares, which call it from its
    threads) and by tools and tests that compare the two forms. A process that never asks
    never imports torch (about 200 MB). Loading sets torch to one thread
    (:func:`one_torch_thread`).

    Parameters
    ----------
    path : path
        The checkpoint file (read by :func:`load_frame_model`); "" when there is none.
    stft : StftConfig
        The running STFT settings it is checked against.
    sample_rate : int
        The running sample rate in Hz.
    checkpoint : Checkpoint, optional
        Already loaded: used as it is.
    """

    def __init__(
        self, path: str | os.PathLike, stft, sample_rate: int, checkpoint: Checkpoint | None = None
    ) -> None:
        self.path = path
        self.stft = stft
        self.sample_rate = sample_rate
        self._checkpoint = checkpoint
        self._codec: FusedCodec | None = None
        self._lock = threading.Lock()

    def checkpoint(self) -> Checkpoint:
        """The loaded checkpoint (loaded now, the first time).

        Raises
        ------
        CheckpointError
            As :func:`load_frame_model`, or no file to load from.
        """
        with self._lock:
            return self._load()

    def codec(self) -> FusedCodec:
        """The fused codec of :meth:`checkpoint` (built now, the first time)."""
        with self._lock:
            if self._codec is None:
                from caminos.models.autoencoder import FusedCodec

                self._codec = FusedCodec.from_model(self._load().model).eval()
            return self._codec

    def _load(self) -> Checkpoint:
        if self._checkpoint is None:
            if not self.path:
                raise CheckpointError(
                    "the engine was given its model's numbers without a "
                    "checkpoint file: it has no torch form to load"
                )
            self._checkpoint = load_frame_model(self.path, self.stft, self.sample_rate)
        one_torch_thread()
        return self._checkpoint


def _check_frame_wise(shape, path: str) -> None:
    """Refuse a model with context: the engine plays frame-wise models."""
    if shape.context != 0:
        raise CheckpointError(
            f"{path}: the engine plays frame-wise models (context 0); this "
            f"one stacks {shape.context} past frames"
        )


class Engine:
    """The real-time engine, driven one hop at a time by an audio worker or an offline loop.

    Parameters
    ----------
    config : Config
        The whole configuration: STFT, live phase recovery ([engine]), audio channels.
    checkpoint : Checkpoint or path, optional
        The autoencoder; defaults to ``config.model.checkpoint`` (or ``hop_model``'s file).
    channels : int, optional
        Output channels; defaults to ``config.audio.channels``. The layout (``[field]``) makes
        one voice per channel, or one voice copied to every channel (``mono``).
    startup_events : bool
        Post the configuration's start-up controls (``engine.file``: open and play) now; False
        leaves that to :meth:`post_startup_events` (after a recording starts, or never when a
        score replays them).
    voice : bool
        Load the voice model (``[voice]``) as the voice source with its ``/voice/*`` controls.
        When it cannot load (no espeak-ng, a bad checkpoint) the engine plays without it and
        says why in ``status()["voice_error"]``.
    realtime : bool
        True when ticks are paced by an audio device: the voice's worker then runs in a process
        of its own. Offline (False), it is a thread and the voice source waits for it each hop
        instead of playing silence until it catches up, so renders do not depend on how fast
        the machine is.
    clock : Clock, optional
        What the engine's status and timetags read (:mod:`caminos.engine.clock.status`): by
        default its own ticks; the control process's replica, never ticked, is given the
        clock the DSP and audio processes publish.
    registry, queue : optional
        The control registry and event queue, when the composition root builds them for another
        job (the replica's queue applies each event at once and forwards it to the hop clock).
    counters : dict, optional
        Where the engine counts (:func:`engine_counters`), when a clock of its own reads them too.
    tick_times : ndarray, shape (TIMING_WINDOW,), float64, optional
        Where each tick's duration is written (seconds, hop ``i`` at ``i % TIMING_WINDOW``): live,
        an array in shared memory, so the status readers take the percentiles in their own
        processes, not on the hop clock.
    hop_model : HopModel, optional
        The model's numbers (live: read from the file the supervisor wrote, so the process
        imports no torch); by default computed from ``checkpoint`` with torch.
    limit : bool
        Run the safety limiter on the output (linked across this engine's channels). False
        leaves it out: the engine renders one group of a room's channels, and its caller
        limits them with the other groups' (``caminos render --score --jobs``); the samples
        are then DC-blocked but unlimited, and come without the limiter's delay.

    Notes
    -----
    The engine sets BLAS, and torch where its process has loaded it, to one thread: the hop's
    small products gain nothing from more, and a fixed count keeps live runs and offline
    renders bit-identical.

    Attributes
    ----------
    hop_model : HopModel
        What the hop path reads of the model.
    torch_model : TorchModel
        The model in torch, loaded on first use (:attr:`checkpoint`, :attr:`codec`).
    registry : ControlRegistry
        Every control address the engine answers (subsystems add theirs).
    hop_index : int
        Index of the next hop :meth:`tick` will compute.
    """

    def __init__(
        self,
        config: Config,
        checkpoint: Checkpoint | str | None = None,
        channels: int | None = None,
        startup_events: bool = True,
        voice: bool = True,
        realtime: bool = False,
        clock: Clock | None = None,
        registry: ControlRegistry | None = None,
        queue: ControlQueue | None = None,
        counters: dict[str, int] | None = None,
        tick_times: np.ndarray | None = None,
        hop_model: HopModel | None = None,
        limit: bool = True,
    ) -> None:
        self.config = config
        stft = config.stft
        self.stft = stft
        self.hop = stft.hop
        self.n_bins = stft.n_bins
        self.sample_rate = config.audio.sample_rate
        self.channels = int(channels if channels is not None else config.audio.channels)
        loaded = None  # a Checkpoint (torch), when given or loaded here
        if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
            loaded, checkpoint = checkpoint, checkpoint.path
        if hop_model is None:
            if loaded is None:
                path = checkpoint if checkpoint is not None else config.model.checkpoint_path()
                loaded = load_frame_model(path, stft, self.sample_rate)
            _check_frame_wise(loaded.model.shape, loaded.path)
            hop_model = loaded.hop_model()
        _check_frame_wise(hop_model.shape, hop_model.path)
        if hop_model.shape.n_bins != self.n_bins:
            raise CheckpointError(
                f"{hop_model.path or hop_model.name}: the model reads "
                f"{hop_model.shape.n_bins} bins a frame; stft.n_fft "
                f"{stft.n_fft} gives {self.n_bins}"
            )
        self.hop_model = hop_model
        self.torch_model = TorchModel(
            checkpoint if checkpoint is not None else hop_model.path, stft, self.sample_rate, loaded
        )
        self.dims = hop_model.shape.latent_dim
        latent_std = hop_model.latent_std.copy()

        eng = config.engine
        self.coefficient = smoothing_coefficient(eng.smoothing_ms, self.hop, self.sample_rate)
        self.layout, first, voices = field_layout(config, self.channels)
        self.mono = self.layout.name == "mono"
        self.voices = 1 if self.mono else voices
        room_channels = self.channels if self.mono else self.layout.n_speakers
        self.room_channels = [first + 1 + c for c in range(self.channels)]  # from 1
        voice_rooms = self.room_channels[: self.voices]
        positions = self.layout.offsets()[first : first + self.voices]

        # Sources keep up to one channel per voice of the room (not only of this instance), so
        # that every instance of a room split in channel groups encodes the same rows.
        room_voices = 1 if self.mono else self.layout.n_speakers
        voice_index = np.arange(first, first + self.voices)  # each voice's room index
        self.input = InputSource(stft, rows=max(1, min(room_voices, config.audio.input_channels)))
        self.player = FilePlayer(stft, rows=room_voices)
        self.player.loop = eng.loop
        self.realtime = realtime
        self.voice = VoiceSource(stft, wait=not realtime)
        self.sources: list[Source] = [self.input, self.player, self.voice]
        self.source_gains = [source_gain(source.name, self.coefficient) for source in self.sources]
        measured_level = not self.mono and hop_model.shape.many_pitches
        self.field = LatentField(
            positions,
            voice_rooms,
            room_channels,
            latent_std,
            self.coefficient,
            self.hop / self.sample_rate,
            seed=eng.seed,
            spread=config.field.spread,
            rotate=config.field.rotate,
            spin=config.field.spin,
            wander=config.field.wander,
            decorrelate=config.field.decorrelate,
            # None for a many-pitch model, whose level is kept on the voices' frames (ShapeUnit)
            level_readout=hop_model.level_readout,
            keep_level=config.field.keep_level,
        )
        self.mixer = LatentMixer(
            latent_std,
            self.coefficient,
            seed=eng.seed,
            pitch_direction=hop_model.pitch_direction,
            voice_follows=self.field.voice_follows,
        )
        self.channel_gains = ChannelGains(self.room_channels, room_channels, self.coefficient)
        self.texture = TextureStage(
            self.n_bins,
            stft.n_fft,
            self.sample_rate,
            config.model.texture,
            self.coefficient,
            MAGNITUDE_FLOOR,
            voices=self.voices,
        )
        crossfade_hops = round(eng.crossfade_ms * 1e-3 * self.sample_rate / self.hop)
        # voice k's seeds move with its room channel, so a channel sounds the same whichever
        # instance plays it (channel groups); channel 1 keeps the configured seed
        self.phase = PhaseStage(
            stft,
            config.phase,
            eng.phase_method,
            eng.lookahead,
            eng.iterations,
            crossfade_hops,
            seed_offsets=[c - 1 for c in voice_rooms],
            banked=not self.mono,  # a field's voices in one call per group (the same samples
            # in any grouping); the mono layout's voice as before
        )
        # a field's voices' phase recovery on eng.phase_threads threads (the same samples)
        self.phase_threads = (
            VoiceThreads(self.voices, eng.phase_threads, "phase")
            if eng.phase_threads > 1 and self.voices > 1
            else None
        )
        self.out_gain = Parameter(
            "/out/gain",
            Arg("gain_db", "f", -96.0, 24.0, "dB"),
            "output gain before the safety limiter, in dB",
            "out",
            10.0 ** (eng.gain_db / 20.0),
            self.coefficient,
            decibels=True,
        )
        self.output = OutputChain(self.sample_rate, self.channels, config, block=self.hop)
        self.counters = counters if counters is not None else engine_counters()

        # The units of one hop, in order (engine/clock/units.py), and the buffers they share.
        sources = SourcesUnit(self.sources, self.source_gains, voice_index, config, self.counters)
        rows = sources.total_rows
        # the hop path's allocation-free twin of the model
        self.frame_codec = FrameCodec(hop_model, batch=rows, decode_batch=self.voices)
        self.image = ImageStage(
            self.n_bins,
            stft.n_fft,
            self.sample_rate,
            self.hop,
            rows,
            config.field.image,
            self.coefficient,
            MAGNITUDE_FLOOR,
        )
        has_pitch = bool(hop_model.shape.pitch)
        field_units: list[Unit] = (
            []
            if self.mono
            else [
                FieldUnit(self.field),
                ImageUnit(self.image, self.frame_codec, sources, self.mixer),
            ]
        )
        self.units: list[Unit] = [
            sources,
            EncodeUnit(self.frame_codec, self.mixer),
            MixUnit(self.mixer, self.mono, has_pitch),
            *field_units,
            DecodeUnit(self.frame_codec),
            ShapeUnit(
                self.texture,
                None if self.mono else self.image,
                self.mixer,
                self.counters,
                keeper=LevelKeeper(
                    self.voices,
                    hop_model.level_out,
                    latent_std,
                    hop_model.level_bias,
                    MAGNITUDE_FLOOR,
                    self.hop / self.sample_rate,
                )
                if measured_level
                else None,
                keep_level=self.field.keep_level,
            ),
            PhaseUnit(self.phase, None if self.mono else self.field, self.phase_threads),
            OutputUnit(self.out_gain, self.output, self.channel_gains, self.mono, limit),
        ]
        self.buffers = HopBuffers.make(
            rows,
            len(self.sources),
            self.voices,
            self.dims,
            self.n_bins,
            self.hop,
            self.channels,
            self.mono,
            self.mixer.voice_follow_value,
        )
        sources.bind(self.buffers)
        self._times = tick_times if tick_times is not None else np.zeros(TIMING_WINDOW)
        if self._times.shape != (TIMING_WINDOW,):
            raise ValueError(f"tick_times must hold {TIMING_WINDOW} durations")

        self.queue = queue if queue is not None else ControlQueue()
        self.registry = registry if registry is not None else ControlRegistry()
        self.clock: Clock = clock if clock is not None else OwnClock(self)
        self.recorders: list[Callable[[int, str, tuple], None]] = []
        self.hop_hooks: list[Callable[[int], None]] = []
        self.output_hooks: list[Callable[[int, np.ndarray], None]] = []  # (hop, block): recording
        self.clock_origin: float | None = None  # wall time (time.time()) at which hop 0 sounds
        self.hop_index = 0
        self.last_error = ""
        self.extra_status: list[Callable[[], dict[str, Any]]] = []
        self._register_controls()
        self.voice_error = ""
        if voice:
            self._load_voice()
        one_torch_thread()  # the voice's thread runs torch offline
        # One BLAS thread too: the hop's small products lose to threads' start-up (a batch of 10
        # rows took 2.4 ms with two threads on this project's machine, 0.16 ms with one).
        threadpool_limits(1, user_api="blas")
        if startup_events:
            self.post_startup_events()

    @property
    def checkpoint(self) -> Checkpoint:
        """The model's checkpoint, in torch (:meth:`TorchModel.checkpoint`: loaded on first use,
        so a process that never asks imports no torch)."""
        return self.torch_model.checkpoint()

    @property
    def codec(self) -> FusedCodec:
        """The model's fused codec, in torch, for encoding landmarks
        (:meth:`TorchModel.codec`: built on first use)."""
        return self.torch_model.codec()

    def startup_events(self) -> list[tuple[str, tuple]]:
        """The controls the configuration asks for at start, as ``(address, args)``: open and
        play ``engine.file``."""
        if not self.config.engine.file:
            return []
        return [("/source/file/open", (self.config.engine.file,)), ("/source/file/play", (1,))]

    def post_startup_events(self) -> None:
        """Post :meth:`startup_events` for the first hop."""
        for address, args in self.startup_events():
            self.post(address, *args)

    def apply_now(self, address: str, *args: Any) -> None:
        """Validate, prepare and apply a control at once, outside the queue: for an engine that
        is never ticked (the control process's replica takes the start-up file so, as the DSP
        process opened it, without forwarding it there)."""
        control = self.registry[address]
        values = control.validate(args)
        if control.prepare is not None:
            control.apply(control.prepare(*values))
        else:
            control.apply(*values)

    # ----------------------------------------------------------------------------- controls
    def post(self, address: str, *args: Any, hop: int = -1) -> Any:
        """Validate a control message and schedule it; callable from any thread.

        Parameters
        ----------
        address : str
            A registered address (``/latent/axis``).
        *args
            Its arguments.
        hop : int, optional
            Hop at whose start it applies; ``-1`` (default) or a past hop: the next hop.

        Returns
        -------
        The reply's arguments for a query (``/engine/status``); None otherwise.

        Raises
        ------
        ControlError
            Unknown address, wrong arguments, or a failed ``prepare`` (a file that cannot be
            read); nothing changes and the error is counted in the status.
        """
        try:
            control = self.registry[address]
            values = control.validate(args)
            if control.query:
                return control.apply(*values)
            payload = control.prepare(*values) if control.prepare is not None else None
            self.queue.post(address, values, hop, payload)
        except ControlError as exc:
            self.count_error(str(exc))
            raise
        except Exception as exc:  # a prepare's own error (unreadable file, bad method)
            self.count_error(f"{address}: {exc}")
            raise ControlError(f"{address}: {exc}") from None
        return None

    def count_error(self, message: str) -> None:
        """Count a refused control (any front end: OSC, scores) and keep its message."""
        self.counters["control_errors"] += 1
        self.last_error = message

    def apply_due(self, hop: int) -> None:
        """Apply the events due at ``hop``, in order, as :meth:`tick` does at its start (an
        engine that is never ticked, the control process's replica, applies its start-up
        events this way)."""
        queue = self.queue
        queue.gather(hop)
        event = queue.next_due(hop)
        while event is not None:  # (no list made: nothing allocated on a hop without events)
            self._apply(event)
            event = queue.next_due(hop)

    def _apply(self, event: ControlEvent) -> None:
        control = self.registry[event.address]
        try:
            if control.prepare is not None:
                control.apply(event.payload)
            else:
                control.apply(*event.args)
        except Exception as exc:  # never let a control stop the audio
            self.count_error(f"{event.address}: {exc}")
            return
        self.counters["events_applied"] += 1
        for record in self.recorders:
            record(event.hop, event.address, event.args)

    def _register_controls(self) -> None:
        """Every unit's controls (the latent mixer's, the field's where each channel has a voice,
        the sources' gains and the file player's, the texture's, the phase stage's, the output
        gain and the channels' gains)."""
        for unit in self.units:
            for control in unit.controls():
                self.registry.add(control)

    # ------------------------------------------------------------------------------- voice
    def _load_voice(self) -> None:
        from caminos.models.voice.settings import voice_controls
        from caminos.models.voice.stream import VoiceStream

        try:
            # live, the voice phrases in its own process: its Python work never holds this GIL
            stream = VoiceStream(self.config, seed=self.config.engine.seed, process=self.realtime)
        except (CaminosError, OSError) as exc:
            self.voice_error = str(exc)
            return
        self.attach_voice(stream, voice_controls(stream))

    def close(self) -> None:
        """Stop the voice stream's worker (thread or process) and the phase recovery's helper
        threads; call when done with the engine."""
        if self.phase_threads is not None:
            self.phase_threads.close()
        stream = self.voice.stream
        if stream is not None and hasattr(stream, "close"):
            stream.close()

    def attach_voice(self, stream: object, controls: list[Control] = ()) -> None:
        """Play a voice stream (``next_frame(out) -> bool``) as the voice source; register its
        controls."""
        self.voice.attach(stream)
        for control in controls:
            self.registry.add(control)

    # -------------------------------------------------------------------------------- tick
    def push_input(self, samples: np.ndarray) -> None:
        """Give the live input source one hop of input: (n,) mono or (n, channels), each
        channel followed by the voices (:class:`caminos.engine.clock.sources.InputSource`)."""
        self.input.push(samples)

    def tick(self, out: np.ndarray | None = None) -> np.ndarray:
        """Compute one hop of output.

        Parameters
        ----------
        out : ndarray, shape (hop, channels), float64, optional
            Receives the samples; by default an internal buffer (overwritten next tick).

        Returns
        -------
        ndarray, shape (hop, channels), float64
            Finite samples within the limiter's ceiling.
        """
        started = time.perf_counter()
        block = self.buffers.block if out is None else out
        hop_index = self.hop_index
        self.apply_due(hop_index)
        # (loops by index, not iterators: nothing is allocated on the hop)
        hooks, i = self.hop_hooks, 0
        while i < len(hooks):  # path players and other per-hop navigation
            hooks[i](hop_index)
            i += 1

        hop, units, i = self.buffers, self.units, 0
        hop.index = hop_index
        while i < len(units):
            units[i].process(hop)
            i += 1
        if out is not None:
            out[:] = hop.block
        hooks, i = self.output_hooks, 0
        while i < len(hooks):  # score recording copies the block; nothing slow here
            hooks[i](hop_index, block)
            i += 1

        self._times[hop_index % TIMING_WINDOW] = time.perf_counter() - started
        self.hop_index = hop_index + 1
        return block

    def warm_up(self, hops: int = 8) -> None:
        """Run every kernel and the model once, then return to the start-up state.

        Call before a stream starts: the first FFT, model and kernel calls cost milliseconds
        (loading compiled code), which would make the first hops late. The file player and the
        live input play a short noise meanwhile, so their paths are warm too, and every live
        phase method runs a frame on a scratch stage (a switch compiles nothing). Control events
        already posted wait for the first real hop; recorders see nothing of the warm-up.
        """
        phase, eng = self.phase, self.config.engine
        warm_up_methods(self.stft, phase.phase, phase.lookahead, eng.iterations, phase.banked)
        queue, recorders, hooks = self.queue, self.recorders, self.output_hooks
        self.queue, self.recorders, self.output_hooks = ControlQueue(), [], []
        player = self.player
        saved = (player.file, player.position, player.playing, player.loop)
        noise = np.random.default_rng(0).standard_normal(self.stft.n_fft * 4) * 0.1
        pad = self.stft.n_fft - self.hop
        samples = np.concatenate([np.zeros(pad), noise, np.zeros(self.stft.n_fft)])
        player.file = LoadedFile("<warm-up noise>", np.tile(samples, (self.voices, 1)), len(noise))
        player.position, player.playing, player.loop = 0.0, True, True
        try:
            for i in range(hops):
                block = noise[i * self.hop % len(noise) :][: self.hop]
                # a vector, then a (samples, channels) block as the live input pushes it
                self.input.push(block if i % 2 == 0 else block[:, None])
                self.tick()
            self.reset()
        finally:
            self.queue, self.recorders, self.output_hooks = queue, recorders, hooks
            player.file, player.position, player.playing, player.loop = saved
        self.mixer.reset()

    def reset(self) -> None:
        """Back to hop 0 with every buffer cleared; controls keep their values."""
        for unit in self.units:
            unit.reset()
        self.hop_index = 0
        self._times[:] = 0.0

    # ------------------------------------------------------------------------------ status
    @property
    def latency(self) -> Latency:
        """The engine's algorithmic latency, the one place it is computed: the units' delays
        summed (the sources' framing on the input's path; the phase stage's look-ahead and the
        limiter's on every path). Buffering and the device are the audio layer's
        (:meth:`Latency.live`). It changes with ``/phase/lookahead``."""
        input_only, every_path = units_latency(self.units)
        return Latency(input_only, every_path, self.sample_rate)

    def tick_seconds(self) -> np.ndarray:
        """Durations of the last ticks in seconds (up to :data:`TIMING_WINDOW`)."""
        n = min(self.hop_index, TIMING_WINDOW)
        return self._times[:n].copy()

    def status(self) -> dict[str, Any]:
        """The engine's state for ``/engine/status``, the control page and the status line.

        What the engine is set to (``sample_rate``, ``hop_size``, ``model``, ``phase_method``,
        ``lookahead``, ``limiter_db``: the largest reduction, ``last_error``, ``voice_error``),
        what its clock measured (:func:`caminos.engine.clock.status.measured_status`: the
        hop, tick times, ``cpu_load``, latencies in ms, counters, levels; offline from this
        engine's own ticks, live from what the DSP and audio processes publish), plus what
        subsystems add.
        """
        status: dict[str, Any] = {
            "sample_rate": self.sample_rate,
            "hop_size": self.hop,
            "model": self.hop_model.name,
            "phase_method": self.phase.method,
            "lookahead": self.phase.lookahead,
            **measured_status(self.clock.measure()),
            "limiter_db": self.output.limiter.max_reduction_db,
            "last_error": self.last_error,
            "voice_error": self.voice_error,
        }
        for extra in self.extra_status:
            status.update(extra())
        return status

    @property
    def latent_position(self) -> np.ndarray:
        """The field's centre at the last hop: the latent one voice decoded, or the voices' mean
        before the field placed them (rotated coordinates; a view, copy to keep it)."""
        return self.buffers.centre

    @property
    def channel_mask(self) -> int | None:
        """The WAV speaker mask of the output (stereo 0x3, quad 0x33), for files that record it;
        None with the mono layout, a layout without a standard mask, or a slice of the room."""
        return self.layout.output_mask(self.channels)

    @property
    def decoded_frames(self) -> np.ndarray:
        """The magnitudes the last hop decoded, textured, one row per voice (voices, n_bins): what
        the phase stage received (a view, copy to keep it)."""
        return self.buffers.decoded

    @property
    def voice_positions(self) -> np.ndarray:
        """The latents the last hop decoded, one row per voice (a view, copy to keep it)."""
        return self.buffers.z

    def hop_for_time(self, wall_time: float) -> int:
        """The hop that sounds at ``wall_time`` (``time.time()`` seconds), for timetagged
        bundles; -1 (the next hop) when the engine runs without a clock (offline)."""
        origin = self.clock.origin()
        if origin is None:
            return -1
        return max(int(math.floor((wall_time - origin) * self.sample_rate / self.hop)), -1)

    def get(self, address: str) -> tuple:
        """Current value of a control, for ``/engine/get``."""
        control = self.registry[address]
        if control.get is None:
            raise ControlError(f"{address}: has no value to get (it is an action)")
        return tuple(control.get())
