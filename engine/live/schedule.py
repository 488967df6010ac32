"""Installation mode: the daily schedule and the rotating log of ``caminos play --installation``."""

from __future__ import annotations

import logging
import logging.handlers
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from caminos.engine.core.config import Config, DEFAULT_CONFIG_PATH


@dataclass(frozen=True)
class Schedule:
    """A daily on-time window, ``start`` to ``stop`` (``HH:MM``); it may run over midnight."""

    start: str
    stop: str

    def on(self, now: datetime) -> bool:
        """Whether the installation should sound at ``now``."""
        minutes = now.hour * 60 + now.minute
        start = _minutes(self.start)
        stop = _minutes(self.stop)
        if start == stop:
            return True
        if start < stop:
            return start <= minutes < stop
        return minutes >= start or minutes < stop


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def installation_logger(config: Config) -> logging.Logger:
    """A logger writing to ``engine.log_file``, rotated at ``engine.log_max_bytes`` (two files
    kept, so the log's disk use is bounded)."""
    path = Path(config.engine.log_file).expanduser()
    if not path.is_absolute():
        path = DEFAULT_CONFIG_PATH.parent / path
    logger = logging.getLogger("caminos.installation")
    logger.setLevel(logging.INFO)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=config.engine.log_max_bytes, backupCount=1
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger
