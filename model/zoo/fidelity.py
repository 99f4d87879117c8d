"""Fidelity: the release's function, or our corrections of it, each one named and documented."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Fidelity = Literal["release", "corrected"]


@dataclass(frozen=True)
class Difference:
    """One way `corrected` departs from the authors' release.

    Attributes:
        name: switch name, e.g. "fra_correlation" (snake_case, unique within a model).
        release: what the release does (with its file:line).
        corrected: what `corrected` does instead.
        why: why the release's behaviour is worth correcting.
    """

    name: str
    release: str
    corrected: str
    why: str


class ZooConfig(BaseModel):
    """Base of every model's config: feature sizes, fidelity, and the corrections it applies.

    `fidelity="release"` is the authors' function; `"corrected"` applies every difference of the
    model's DIFFERENCES table. `corrections` switches on single corrections on top of "release"
    (ablations, and the tests that show each correction changes what the table says).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The model's release-vs-corrected table; each subclass sets its own.
    DIFFERENCES: ClassVar[tuple[Difference, ...]] = ()

    video_dim: int = Field(2818, gt=0, description="Input clip feature size Dv (incl. the two endpoint columns).")
    text_dim: int = Field(512, gt=0, description="Input token feature size Dt.")
    fidelity: Fidelity = Field(
        "release", description="'release': the authors' function; 'corrected': every named correction."
    )
    corrections: tuple[str, ...] = Field(
        (), description="Single corrections applied on top of fidelity='release' (names from the model's table)."
    )

    @model_validator(mode="after")
    def _known_corrections(self) -> ZooConfig:
        known = {d.name for d in self.DIFFERENCES}
        unknown = [c for c in self.corrections if c not in known]
        if unknown:
            raise ValueError(f"corrections {unknown} are not differences of this model; known: {sorted(known)}")
        return self

    def corrects(self, name: str) -> bool:
        """Whether the correction `name` is applied (fidelity 'corrected', or listed in corrections)."""
        if name not in {d.name for d in self.DIFFERENCES}:
            raise KeyError(f"{name!r} is not a difference of {type(self).__name__}")
        return self.fidelity == "corrected" or name in self.corrections
