"""Reporting convention of the official evaluation: percentages with two decimals."""

from __future__ import annotations


def percent(fraction: float) -> float:
    """Fraction in [0, 1] -> percentage rounded to 2 decimals, as ``float(f"{100 * x:.2f}")``.

    The official QVHighlights code formats with ``:.2f`` (round-half-even on the binary
    value) rather than calling ``round``; this reproduces it exactly.

    >>> percent(0.322049)
    32.2
    >>> percent(0.5)
    50.0
    """
    return float(f"{100 * fraction:.2f}")


def threshold_key(threshold: float) -> str:
    """Dictionary key of an IoU threshold: ``0.5 -> "0.5"``, ``0.55 -> "0.55"``.

    >>> threshold_key(0.7000000000000001)
    '0.7'
    """
    return str(float(f"{threshold:.2f}"))
