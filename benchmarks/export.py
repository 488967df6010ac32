"""The nn~ export: ``forward``'s speed in a host's buffers, its sound beside ``reconstruct``.

1. **Speed.** The checkpoint is exported (``caminos export nn``), loaded back with
   ``torch.jit.load`` and its ``forward`` is called as nn~ calls it, one buffer after another
   (``--buffer`` samples, default 2048), on one CPU thread, over ``--seconds`` of the demo
   sound looped: the real-time factor (audio duration over compute time) and the p50, p99 and
   largest time per buffer as a share of the buffer's duration.
2. **Sound.** The demo sound (``patches/demo/demo.wav``, mono mix) through the exported
   ``forward`` (delay removed), beside the path of ``caminos reconstruct --phase rtpghi``
   (``encode``, ``decode``, the engine's compiled RTPGHI with its configured look-ahead,
   overlap-add) without texture (the export has none) and with it (reconstruct's default):
   partial survival, LSD and SC against the demo's own magnitudes, with
   :mod:`caminos.engine.dsp.metrics`. The output chain (DC blocker, limiter) is left out of
   both.
3. **Memory.** ``--stream-minutes`` (default 10) of audio streamed through ``forward`` in
   buffers: the process's resident memory before and after, in MB.
4. **Phase alone.** The decoded magnitudes of the demo through the export's vectorised RTPGHI
   (TorchScript) and through the engine's heap RTPGHI (``make_streaming("rtpghi")``) at the same
   look-ahead: spectral convergence against those magnitudes.

    python benchmarks/export.py                     # default.pt, buffer 2048: ~1.5 min
    python benchmarks/export.py --model models/checkpoints/lowlatency.pt --json export.json
    python benchmarks/export.py --stream-minutes 0 --also-buffers 256 512 1024 4096
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread: the timings mean one core

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caminos.engine.core.config import load_config
from caminos.engine.dsp.metrics import (
    log_spectral_distance_db,
    partial_survival,
    spectral_convergence_db,
)
from caminos.engine.dsp.phase import reconstruct
from caminos.engine.dsp.spectral import istft, stft
from caminos.engine.dsp.texture import add_texture
from caminos.models.api import latent_trajectory, log_frames, read_mono
from caminos.models.checkpoint import load_checkpoint
from caminos.models.export import export_nn
from caminos.models.export.phase_ts import StreamingPhase
from caminos.models.shape import MAGNITUDE_FLOOR

DEMO = ROOT / "patches" / "demo" / "demo.wav"


def time_forward(model, x: np.ndarray, buffer: int, seconds: float, rate: int) -> dict:
    """``forward`` over ``seconds`` of ``x`` looped, one ``buffer`` at a time: per-buffer times."""
    count = int(np.ceil(seconds * rate / buffer))
    loops = int(np.ceil(count * buffer / len(x))) + 1
    signal = torch.as_tensor(np.tile(x, loops)[: count * buffer].astype(np.float32))
    times = np.empty(count)
    with torch.inference_mode():
        model.reset()
        for _ in range(8):  # TorchScript's profiling executor optimises in its first runs
            model(signal[None, None, :buffer])
        model.reset()
        for i in range(count):
            block = signal[None, None, i * buffer : (i + 1) * buffer]
            start = time.perf_counter()
            model(block)
            times[i] = time.perf_counter() - start
    duration = buffer / rate
    return {
        "buffer": buffer,
        "buffers": count,
        "audio_s": round(count * duration, 2),
        "realtime_factor": round(count * duration / times.sum(), 2),
        "p50_share": round(float(np.percentile(times, 50)) / duration, 4),
        "p99_share": round(float(np.percentile(times, 99)) / duration, 4),
        "max_share": round(float(times.max()) / duration, 4),
    }


def resident_mb() -> float:
    """This process's resident memory, in MB (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def stream_memory(model, x: np.ndarray, buffer: int, minutes: float, rate: int) -> dict:
    """Resident memory before and after ``minutes`` of audio through ``forward``."""
    count = int(minutes * 60 * rate / buffer)
    signal = torch.as_tensor(np.tile(x, 2).astype(np.float32))
    usable = (len(signal) - buffer) // buffer
    with torch.inference_mode():
        model.reset()
        for i in range(64):  # warm: the executor's optimised graphs, the allocator's pools
            model(signal[None, None, (i % usable) * buffer : (i % usable + 1) * buffer])
        before = resident_mb()
        middle = before
        for i in range(count):
            k = i % usable
            model(signal[None, None, k * buffer : (k + 1) * buffer])
            if i == count // 2:
                middle = resident_mb()
        after = resident_mb()
    return {
        "minutes": minutes,
        "buffers": count,
        "rss_before_mb": round(before, 1),
        "rss_half_mb": round(middle, 1),
        "rss_after_mb": round(after, 1),
    }


def through_export(model, x: np.ndarray, buffer: int) -> np.ndarray:
    """``x`` through the exported ``forward`` in ``buffer``-sample blocks, its delay removed."""
    latency = int(model.get_latency())
    total = int(np.ceil((len(x) + latency) / buffer)) * buffer
    signal = np.zeros(total, np.float32)
    signal[: len(x)] = x
    with torch.inference_mode():
        model.reset()
        y = torch.cat(
            [
                model(torch.as_tensor(signal[None, None, i : i + buffer]))
                for i in range(0, total, buffer)
            ],
            dim=-1,
        )[0, 0].numpy()
    return y[latency : latency + len(x)].astype(np.float64)


def scores(sound: np.ndarray, target: np.ndarray, config) -> dict:
    """Partial survival, LSD and SC of ``sound`` against magnitudes ``target``."""
    return {
        "partial_survival": round(partial_survival(sound, target, config.stft), 4),
        "lsd_db": round(log_spectral_distance_db(sound, target, config.stft), 3),
        "sc_db": round(spectral_convergence_db(sound, target, config.stft), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "checkpoints" / "default.pt"))
    parser.add_argument("--buffer", type=int, default=2048, help="samples per call (nn~'s buffer)")
    parser.add_argument(
        "--also-buffers",
        type=int,
        nargs="*",
        default=[],
        metavar="B",
        help="more buffer sizes to time (speed only), e.g. 256 512 1024 4096",
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="audio timed, in seconds")
    parser.add_argument(
        "--stream-minutes",
        type=float,
        default=10.0,
        help="audio streamed for the memory measure, in minutes (0: skip)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    trained = load_checkpoint(args.model)  # its own frame: the low-latency model's is 512/128
    config = load_config(
        None,
        {
            "stft.n_fft": trained.stft.n_fft,
            "stft.hop": trained.stft.hop,
            "audio.sample_rate": trained.sample_rate,
        },
    )
    checkpoint = load_checkpoint(args.model, config.stft, config.audio.sample_rate)
    rate = config.audio.sample_rate
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        report = export_nn(args.model, Path(folder) / "model.ts")
        export_s = time.perf_counter() - start
        model = torch.jit.load(report.path)
    x = read_mono(DEMO, config)
    target = np.abs(stft(x, config.stft))

    speed = time_forward(model, x.astype(np.float32), args.buffer, args.seconds, rate)
    print(
        f"{Path(args.model).name}: exported in {export_s:.1f} s; latency "
        f"{report.latency} samples ({1000 * report.latency / rate:.1f} ms) + nn~'s buffering"
    )
    print(
        f"forward at buffer {speed['buffer']}, one thread, {speed['audio_s']} s of audio: "
        f"{speed['realtime_factor']}x real time ({100 / speed['realtime_factor']:.1f} % of a "
        f"core); per buffer p50 {100 * speed['p50_share']:.1f} %, p99 "
        f"{100 * speed['p99_share']:.1f} %, max {100 * speed['max_share']:.1f} % of its "
        f"{1000 * args.buffer / rate:.1f} ms"
    )

    memory = None
    if args.stream_minutes > 0:
        memory = stream_memory(model, x, args.buffer, args.stream_minutes, rate)
        print(
            f"{memory['minutes']:g} min streamed ({memory['buffers']} buffers): resident "
            f"memory {memory['rss_before_mb']} MB before, {memory['rss_half_mb']} MB halfway, "
            f"{memory['rss_after_mb']} MB after"
        )

    others = [
        time_forward(model, x.astype(np.float32), size, args.seconds, rate)
        for size in args.also_buffers
    ]
    for row in others:
        print(
            f"  buffer {row['buffer']:5d}: {row['realtime_factor']:5.2f}x real time, p99 "
            f"{100 * row['p99_share']:.1f} %, max {100 * row['max_share']:.1f} %"
        )

    frames = log_frames(x, config)
    latent, _ = latent_trajectory(x, checkpoint, config, frames)
    decoded = checkpoint.model.decode_numpy(latent)
    textured = add_texture(decoded, frames, 1.0, config.stft.n_fft, rate, MAGNITUDE_FLOOR)
    rows = {}
    for name, mags in (
        ("reconstruct rtpghi, texture 0", decoded),
        ("reconstruct rtpghi, texture 1 (default)", textured),
    ):
        recovered = reconstruct(mags, "rtpghi", config.stft, config.phase)
        rows[name] = scores(istft(recovered, config.stft, length=len(x)), target, config)
    rows["export forward (pghi)"] = scores(through_export(model, x, args.buffer), target, config)
    model.set_phase("input")
    rows["export forward (input phase)"] = scores(
        through_export(model, x, args.buffer), target, config
    )
    model.set_phase("pghi")
    print(f"\nthe demo ({len(x) / rate:.1f} s, mono mix) against its own magnitudes:")
    print(f"{'path':42s} {'survival':>8s} {'LSD dB':>7s} {'SC dB':>7s}")
    for name, row in rows.items():
        print(f"{name:42s} {row['partial_survival']:8.4f} {row['lsd_db']:7.3f} {row['sc_db']:7.3f}")

    lookahead = min(config.phase.lookahead, 1)
    engine = reconstruct(decoded, "rtpghi", config.stft, config.phase)
    phase = torch.jit.script(StreamingPhase(config.stft.n_fft, config.stft.hop, lookahead))
    mags = torch.as_tensor(np.concatenate([decoded, np.zeros((lookahead, decoded.shape[1]))]))
    with torch.inference_mode():
        ours = phase(mags[None], torch.zeros((1, *mags.shape), dtype=torch.complex128), 0)
    ours = ours[0, lookahead:].numpy()
    phase_rows = {
        "engine rtpghi (heap, numba)": spectral_convergence_db(
            engine, decoded, config.stft, length=len(x)
        ),
        "export pghi (vectorised, TorchScript)": spectral_convergence_db(
            ours, decoded, config.stft, length=len(x)
        ),
    }
    print(f"\nphase alone, look-ahead {lookahead}, SC against the decoded magnitudes:")
    for name, value in phase_rows.items():
        print(f"{name:42s} {value:7.3f} dB")

    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "model": Path(args.model).name,
                    "latency": report.latency,
                    "speed": speed,
                    "memory": memory,
                    "other_buffers": others,
                    "sound": rows,
                    "phase_sc_db": {k: round(v, 3) for k, v in phase_rows.items()},
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
