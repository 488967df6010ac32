"""docs/osc.md is generated from the registry and must be current."""

from __future__ import annotations

import re
from pathlib import Path

from caminos.engine.control.osc.docs import documented_engine, registry_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "osc.md"


def test_docs_osc_md_is_current():
    engine = documented_engine()
    expected = registry_markdown(engine.registry)
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/osc.md is out of date: run "
        "`python -m caminos.engine.control.osc.docs --doc > docs/osc.md`"
    )
    for control in engine.registry:
        # each channel's addresses are documented once, as /channel/K/...
        address = re.sub(r"^/channel/\d+/", "/channel/K/", control.address)
        assert f"`{address}`" in expected
        assert control.doc, f"{control.address} has no documentation"
    assert "`/channel/2/gain`" not in expected and "`/channel/K/gain`" in expected
