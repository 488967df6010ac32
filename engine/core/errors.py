"""Error types of caminos.

One root, :class:`CaminosError`, so a caller can catch everything the project raises on purpose;
each subclass names the kind of input that was wrong. Messages name the file, key, address or
device involved and say what was expected.
"""

from __future__ import annotations


class CaminosError(Exception):
    """Root of every error caminos raises on purpose."""


class ConfigError(CaminosError):
    """A configuration file or command-line override is invalid."""


class AudioFileError(CaminosError):
    """A sound file is missing, unreadable, empty or holds non-finite samples."""


class AudioDeviceError(CaminosError):
    """An audio device or the PortAudio library is unavailable."""


class CheckpointError(CaminosError):
    """A model checkpoint is missing, corrupt or does not match the running configuration."""


class ControlError(CaminosError):
    """A control message (OSC, score line) is malformed or out of range."""


class ParameterError(CaminosError, ValueError):
    """A function argument is out of its documented range."""
