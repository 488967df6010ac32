"""Exporting caminos models to where artists already are: nn~ in Max and Pure Data.

``caminos export nn CHECKPOINT -o NAME.ts`` (:mod:`caminos.engine.cli.export`) calls
:func:`export_nn`. One job per module:

| module | job |
|---|---|
| ``partials_ts`` | the many-pitch channels (pitch slots, free peaks) in tensor operations |
| ``pitch_ts`` | the one-pitch tracker (the one-comb channel, the slots' fallback) |
| ``codec_ts`` | the autoencoder's encode and decode, with the drawing controls (pitches, chord) |
| ``stft_ts`` | streaming STFT analysis and overlap-add synthesis, one state per voice |
| ``phase_ts`` | vectorised RTPGHI, the input's phase, random phase, streaming |
| ``controls_ts`` | the latent controls (follow, offsets, noise walk, pitch), smoothed per hop |
| ``texture_ts`` | the input's spectral grain on the decoded frames (``forward``) |
| ``rows_ts`` | matrix products whose rows do not depend on how many there are |
| ``nn_module`` | the nn~ module: methods, attributes, latency |
| ``writer`` | build, script, check as nn~ calls it, save atomically |

User documentation: ``docs/export.md``.
"""

from caminos.models.export.writer import ExportError, ExportReport, export_nn

__all__ = ["ExportError", "ExportReport", "export_nn"]
