"""The voice: speech and asemic babble as an engine source (issue 6; design in docs/voice.md).

Text (espeak-ng phonemes) or invented words (phoneme n-grams) go through a small source-filter
acoustic model into per-hop spectral envelopes and aperiodicities, rendered into STFT magnitude
frames at whatever pitch the controls ask for. The engine uses
:class:`caminos.models.voice.stream.VoiceStream` and
:func:`caminos.models.voice.settings.voice_controls`; the
commands ``caminos say``, ``caminos babble`` and ``caminos train voice`` live in
:mod:`caminos.engine.cli.voice`. Submodules are imported where needed (torch loads only with the
acoustic model).
"""
