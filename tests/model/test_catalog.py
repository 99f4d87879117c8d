"""docs/models.md is what `python -m model.catalog` prints (regenerate it when a model, preset or
correction changes)."""

from __future__ import annotations

from pathlib import Path

from model.catalog import catalog_markdown
from model.zoo.registry import FAMILIES

DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def test_docs_models_md_is_current() -> None:
    assert DOC.read_text() == catalog_markdown(), "run: python -m model.catalog > docs/models.md"


def test_every_correction_of_every_model_is_in_the_catalogue() -> None:
    text = DOC.read_text()
    for family in FAMILIES.values():
        assert f"## `{family.name}`: release vs corrected" in text
        for difference in family.config.DIFFERENCES:
            assert f"| `{difference.name}` |" in text
