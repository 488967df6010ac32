"""Latency, computed in one place: what the engine adds, and what buffering and the device add live.

:attr:`caminos.engine.clock.engine.Engine.latency` sums the delays of the hop's units
(:mod:`caminos.engine.clock.units`: the sources' STFT framing, the phase stage's look-ahead, the
output limiter's look-ahead); :meth:`Latency.live`
adds the hops computed ahead of the device and the device's own latencies as PortAudio reports
them. Every reader (the engine's status, ``caminos play``'s start-up line and status line, the
installation log, the control page's meters) takes its numbers from :meth:`Latency.breakdown_ms`,
so they agree, and they change together when ``/phase/lookahead`` changes the look-ahead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Latency:
    """Delays between a sound or a control and the output, in samples.

    Attributes
    ----------
    input_only : int
        What delays the input alone: ``n_fft - hop``, the framing of STFT analysis and
        overlap-add.
    every_path : int
        What delays every path, a control's as an input's: the phase method's look-ahead
        (``lookahead * hop``) and the safety limiter's.
    sample_rate : int
        In Hz, to convert.
    buffer : int
        Live: the hops computed ahead of the device (``audio.buffer_hops * hop``); 0 offline.
    device_in, device_out : float
        Live: the device's input and output latencies as PortAudio reports them, in samples
        (fractional); 0 offline.
    """

    input_only: int
    every_path: int
    sample_rate: int
    buffer: int = 0
    device_in: float = 0.0
    device_out: float = 0.0

    @property
    def algorithmic(self) -> int:
        """The engine's own delay from an input sample to the output, in samples."""
        return self.input_only + self.every_path

    @property
    def control_algorithmic(self) -> int:
        """The engine's own delay from a control change at a hop to its first output, samples."""
        return self.every_path

    @property
    def input_to_output(self) -> float:
        """Delay from an input sample to the output, in samples (the device's and the buffer's
        included when live)."""
        return self.device_in + self.algorithmic + self.buffer + self.device_out

    @property
    def control_to_output(self) -> float:
        """Delay from a control change to its sound, in samples (live: with the buffer and the
        device's output)."""
        return self.control_algorithmic + self.buffer + self.device_out

    @classmethod
    def from_totals(cls, algorithmic: int, control_algorithmic: int, sample_rate: int) -> "Latency":
        """The engine's latency from its two totals in samples (what the DSP process publishes
        to the other processes: :attr:`algorithmic`, :attr:`control_algorithmic`)."""
        return cls(
            int(algorithmic) - int(control_algorithmic), int(control_algorithmic), int(sample_rate)
        )

    def live(self, buffer_samples: int, device_in_s: float, device_out_s: float) -> "Latency":
        """The same with the audio layer's share: ``buffer_samples`` computed ahead of the
        device and its input and output latencies in seconds."""
        return replace(
            self,
            buffer=int(buffer_samples),
            device_in=float(device_in_s) * self.sample_rate,
            device_out=float(device_out_s) * self.sample_rate,
        )

    def ms(self, samples: float) -> float:
        """``samples`` in milliseconds."""
        return 1000.0 * samples / self.sample_rate

    def breakdown_ms(self) -> dict[str, float]:
        """Every part and both totals in milliseconds, as every reader shows them."""
        return {
            "algorithmic_ms": self.ms(self.algorithmic),
            "control_algorithmic_ms": self.ms(self.control_algorithmic),
            "buffer_ms": self.ms(self.buffer),
            "device_in_ms": self.ms(self.device_in),
            "device_out_ms": self.ms(self.device_out),
            "input_to_output_ms": self.ms(self.input_to_output),
            "control_to_sound_ms": self.ms(self.control_to_output),
        }
