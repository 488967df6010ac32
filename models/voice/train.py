"""Training the acoustic model on a teacher corpus, within a time budget.

``caminos train voice`` calls :func:`train_voice`: the corpus (built by
:mod:`caminos.models.voice.corpus` or read from a folder) is split by utterance into training and
validation sets, batched by length, and the model is fitted to the teacher's durations (log hops),
envelopes (z-scored log power) and aperiodicities until the time budget or the epoch limit ends;
intonation (semitones from the utterance's median on voiced hops, in units of the corpus's mean
5-95 % spread); the epoch with the lowest validation loss is kept and saved with its metrics.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from caminos.engine.core.config import Config
from caminos.models.voice.acoustic import (
    PAD,
    UNKNOWN,
    VoiceModel,
    VoiceNormaliser,
    VoiceShape,
    alignment,
    synthesize_phrase,
)
from caminos.models.voice.babble import shared_vocab
from caminos.models.voice.checkpoint import save_voice_checkpoint
from caminos.models.voice.corpus import TeacherCorpus
from caminos.models.voice.errors import VoiceError
from caminos.models.voice.languages import CODES
from caminos.models.voice.quality import mcd_db
from caminos.models.voice.teacher import VARIANTS

PAUSES = ("_", "_:")
BATCH_HOPS = 12000  # hops per batch (padding included)
VALIDATION_SHARE = 0.05
DURATION_WEIGHT = 0.5
APERIODICITY_WEIGHT = 1.0
INTONATION_WEIGHT = 0.5


@dataclass
class VoiceTrainResult:
    """What training did: seconds, epochs, best validation loss and its metrics."""

    seconds: float
    epochs: int
    best_epoch: int
    validation_loss: float
    mcd_db: float
    duration_error_hops: float
    parameters: int


def alphabet(corpus: TeacherCorpus) -> tuple[str, ...]:
    """Padding, unknown, then every phoneme of the lexicons, the pauses and the corpus, sorted."""
    seen = set(shared_vocab()) | set(PAUSES) | {p for u in corpus.phonemes for p in u}
    return (PAD, UNKNOWN) + tuple(sorted(seen))


def _tensors(corpus: TeacherCorpus, index: dict, normaliser: VoiceNormaliser, items: list[int]):
    """One padded batch: phonemes, languages, styles, durations, alignment, targets, masks.

    Unvoiced hops have no intonation target: their mask is 0.
    """
    n_ph = max(len(corpus.phonemes[i]) for i in items)
    n_fr = max(len(corpus.log_power[i]) for i in items)
    b, bands = len(items), corpus.log_power[0].shape[1]
    phonemes = np.zeros((b, n_ph), np.int64)
    languages = np.zeros((b, n_ph), np.int64)
    log_dur = np.zeros((b, n_ph), np.float32)
    ph_mask = np.zeros((b, n_ph), np.float32)
    frame_ph = np.zeros((b, n_fr), np.int64)
    frame_pos = np.zeros((b, n_fr), np.float32)
    target = np.zeros((b, n_fr, bands), np.float32)
    ap = np.zeros((b, n_fr, bands), np.float32)
    intonation = np.zeros((b, n_fr), np.float32)
    voiced = np.zeros((b, n_fr), np.float32)
    fr_mask = np.zeros((b, n_fr), np.float32)
    for row, i in enumerate(items):
        p = len(corpus.phonemes[i])
        phonemes[row, :p] = [index.get(x, 1) for x in corpus.phonemes[i]]
        languages[row, :p] = corpus.languages[i]
        log_dur[row, :p] = np.log1p(corpus.durations[i])
        ph_mask[row, :p] = 1.0
        fp, pos = alignment(corpus.durations[i])
        t = len(fp)
        frame_ph[row, :t], frame_pos[row, :t] = fp, pos
        target[row, :t] = normaliser.normalise(corpus.log_power[i])
        ap[row, :t] = corpus.aperiodicity[i]
        known = ~np.isnan(corpus.intonation[i])
        intonation[row, :t][known] = corpus.intonation[i][known] / normaliser.intonation_spread_st
        voiced[row, :t] = known
        fr_mask[row, :t] = 1.0
    styles = corpus.styles[items]
    return [
        torch.from_numpy(x)
        for x in (
            phonemes,
            languages,
            np.asarray(styles),
            log_dur,
            ph_mask,
            frame_ph,
            frame_pos,
            target,
            ap,
            intonation,
            voiced,
            fr_mask,
        )
    ]


def _batches(corpus: TeacherCorpus, items: list[int], rng: np.random.Generator) -> list[list[int]]:
    order = sorted(items, key=lambda i: len(corpus.log_power[i]))
    batches, current, longest = [], [], 0
    for i in order:
        longest = max(longest, len(corpus.log_power[i]))
        if current and longest * (len(current) + 1) > BATCH_HOPS:
            batches.append(current)
            current, longest = [], len(corpus.log_power[i])
        current.append(i)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def _loss(model: VoiceModel, batch, device) -> torch.Tensor:
    (
        phonemes,
        languages,
        styles,
        log_dur,
        ph_mask,
        frame_ph,
        frame_pos,
        target,
        ap,
        intonation,
        voiced,
        fr_mask,
    ) = [x.to(device) for x in batch]
    encoding, pred_dur = model.encode(phonemes, languages, styles)
    z, pred_ap, pred_intonation = model.decode(encoding, frame_ph, frame_pos)
    frames = fr_mask.sum() * target.shape[2]
    envelope = (((z - target) ** 2).sum(dim=2) * fr_mask).sum() / frames
    aperiodic = (((pred_ap - ap) ** 2).sum(dim=2) * fr_mask).sum() / frames
    duration = (((pred_dur - log_dur) ** 2) * ph_mask).sum() / ph_mask.sum()
    melody = (((pred_intonation - intonation) ** 2) * voiced).sum() / voiced.sum().clamp(min=1.0)
    return (
        envelope
        + APERIODICITY_WEIGHT * aperiodic
        + DURATION_WEIGHT * duration
        + INTONATION_WEIGHT * melody
    )


def evaluate(
    model: VoiceModel,
    normaliser: VoiceNormaliser,
    corpus: TeacherCorpus,
    index: dict,
    items: list[int],
    device,
) -> tuple[float, float]:
    """Mean MCD in dB (teacher durations) and mean absolute duration error in hops."""
    model.eval()
    mcds, errors = [], []
    for i in items:
        ids = np.array([index.get(x, 1) for x in corpus.phonemes[i]])
        langs = np.full(len(ids), corpus.languages[i])
        _, log_power, _, _ = synthesize_phrase(
            model,
            normaliser,
            ids,
            langs,
            int(corpus.styles[i]),
            device,
            durations=corpus.durations[i],
        )
        mcds.append(mcd_db(corpus.log_power[i].astype(np.float64), log_power))
        predicted, _, _, _ = synthesize_phrase(
            model, normaliser, ids, langs, int(corpus.styles[i]), device
        )
        errors.append(float(np.mean(np.abs(predicted - corpus.durations[i]))))
    return float(np.mean(mcds)), float(np.mean(errors))


def train_voice(
    corpus: TeacherCorpus,
    out: str | os.PathLike,
    config: Config,
    minutes: float = 5.0,
    max_epochs: int = 1000,
    width: int = 128,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    provenance: dict | None = None,
) -> VoiceTrainResult:
    """Fit a :class:`VoiceModel` to ``corpus`` and save the best epoch to ``out``.

    Parameters
    ----------
    corpus : TeacherCorpus
        At least 4 utterances.
    out : path
        Checkpoint to write.
    config : Config
        STFT settings and sample rate stored with the model.
    minutes : float > 0
        Training time budget in minutes (the epoch running when it ends is finished).
    max_epochs : int >= 1
    width : int
        Channels of the model.
    seed : int
    device : str
        ``auto`` (CUDA when available), ``cpu``, ``cuda``.
    progress : bool
        Show a progress bar over the time budget.
    provenance : dict, optional
        Stored in the checkpoint (command, corpus).
    """
    if len(corpus) < 4:
        raise VoiceError(f"the voice corpus has {len(corpus)} utterances; at least 4 are needed")
    if not (math.isfinite(minutes) and minutes > 0):
        raise VoiceError(f"training minutes must be > 0, got {minutes}")
    started = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev = torch.device(
        "cuda"
        if device == "auto" and torch.cuda.is_available()
        else ("cpu" if device == "auto" else device)
    )
    phonemes = alphabet(corpus)
    index = {p: i for i, p in enumerate(phonemes)}
    stacked = np.concatenate(corpus.log_power).astype(np.float64)
    spreads = [
        np.subtract(*np.nanpercentile(t, [95, 5]))
        for t in corpus.intonation
        if np.sum(~np.isnan(t)) >= 10
    ]
    normaliser = VoiceNormaliser(
        stacked.mean(axis=0),
        np.maximum(stacked.std(axis=0), 0.1),
        float(np.mean(spreads)) if spreads else 1.0,
    )
    del stacked
    order = rng.permutation(len(corpus)).tolist()
    n_val = max(2, int(round(VALIDATION_SHARE * len(corpus))))
    val, train = order[:n_val], order[n_val:]
    model = VoiceModel(VoiceShape(len(phonemes), len(CODES), len(VARIANTS), width=width)).to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    budget = minutes * 60.0
    val_batches = [_tensors(corpus, index, normaliser, b) for b in _batches(corpus, val, rng)]
    best = (math.inf, 0, None)
    epoch = 0
    with tqdm(total=round(budget), desc="train voice", unit="s", disable=not progress) as bar:
        while epoch < max_epochs and time.perf_counter() - started < budget:
            epoch += 1
            model.train()
            for items in _batches(corpus, train, rng):
                loss = _loss(model, _tensors(corpus, index, normaliser, items), dev)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                bar.n = min(round(time.perf_counter() - started), bar.total)
                bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}", refresh=False)
                bar.refresh()
            model.eval()
            with torch.no_grad():
                val_loss = float(np.mean([_loss(model, b, dev).item() for b in val_batches]))
            if val_loss < best[0]:
                best = (
                    val_loss,
                    epoch,
                    {k: v.detach().clone() for k, v in model.state_dict().items()},
                )
            bar.set_postfix(epoch=epoch, val=f"{val_loss:.3f}", best=best[1])
    model.load_state_dict(best[2])
    mcd, duration_error = evaluate(model, normaliser, corpus, index, val, dev)
    seconds = time.perf_counter() - started
    result = VoiceTrainResult(
        seconds,
        epoch,
        best[1],
        best[0],
        mcd,
        duration_error,
        sum(p.numel() for p in model.parameters()),
    )
    info = dict(provenance or {})
    info.update(
        {
            "intonation_spread_st": normaliser.intonation_spread_st,
            "seconds": seconds,
            "epochs": epoch,
            "best_epoch": best[1],
            "validation_loss": best[0],
            "validation_mcd_db": mcd,
            "validation_duration_error_hops": duration_error,
            "utterances": len(corpus),
            "hops": corpus.hops,
            "seed": seed,
            "device": str(dev),
            "torch_threads": torch.get_num_threads(),
        }
    )
    save_voice_checkpoint(
        out,
        model.cpu(),
        normaliser,
        phonemes,
        CODES,
        VARIANTS,
        config.stft,
        config.audio.sample_rate,
        info,
    )
    return result
