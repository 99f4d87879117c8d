"""Every model of the zoo by name, and which one a release checkpoint belongs to."""

from __future__ import annotations

from model.zoo.cg_detr import FAMILY as CG_DETR
from model.zoo.family import Family
from model.zoo.moment_detr import FAMILY as MOMENT_DETR
from model.zoo.qd_detr import FAMILY as QD_DETR
from model.zoo.taskweave import FAMILY as TASKWEAVE
from model.zoo.trdetr import FAMILY as TRDETR
from model.zoo.videolights import FAMILY as VIDEOLIGHTS

#: name -> Family, in the order the papers introduced them.
FAMILIES: dict[str, Family] = {
    f.name: f for f in (MOMENT_DETR, QD_DETR, CG_DETR, TRDETR, TASKWEAVE, VIDEOLIGHTS)
}


def get_family(name: str) -> Family:
    """The Family called `name`.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    if name not in FAMILIES:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def identify_release(options: dict, state_keys: set[str]) -> Family:
    """The one family whose `recognises` accepts a release checkpoint's options and keys.

    Raises:
        ValueError: no family, or more than one, recognises it (the message says which).
    """
    found = [f for f in FAMILIES.values() if f.recognises(options, state_keys)]
    if len(found) != 1:
        which = ", ".join(f.name for f in found) or "none"
        raise ValueError(
            f"cannot tell which release this checkpoint comes from (recognised by: {which}); "
            f"pass --model with one of {', '.join(FAMILIES)}"
        )
    return found[0]
