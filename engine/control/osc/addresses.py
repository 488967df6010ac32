"""OSC 1.0 address patterns: which registered addresses a pattern like ``/source/*/gain`` names."""

from __future__ import annotations

import functools
import re
from typing import Iterable

PATTERN_CHARACTERS = frozenset("*?[{")


def match_addresses(pattern: str, addresses: Iterable[str]) -> list[str]:
    """The addresses an OSC 1.0 address pattern matches, in the given order.

    ``*`` matches any characters within one part (not ``/``), ``?`` one character, ``[abc]``,
    ``[a-z]`` and ``[!abc]`` one character of a set, ``{foo,bar}`` one of the strings:
    ``/source/*/gain`` matches the gain of every source.
    """
    regex = _pattern_regex(pattern)
    return [a for a in addresses if regex.fullmatch(a)]


@functools.lru_cache(maxsize=256)
def _pattern_regex(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end
        elif c == "{" and "}" in pattern[i + 1 :]:
            end = pattern.index("}", i + 1)
            out.append(
                "(?:" + "|".join(re.escape(s) for s in pattern[i + 1 : end].split(",")) + ")"
            )
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))
