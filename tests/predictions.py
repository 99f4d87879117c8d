"""Comparing prediction rows made by different code paths (batch shapes, thread counts, CPUs).

Batched and single kernels round differently (seen: saliency 0.05339678 vs 0.05339505 on another
CPU), so floats are compared within a tolerance; everything else (keys, ids, the number and order of
windows) must be equal. The order of two windows could only flip where their scores tie within the
tolerance, which the tests' data does not produce.
"""

from __future__ import annotations

import math

#: Relative and absolute tolerance of scores and saliency: float32 kernels agree to ~1e-6 relative;
#: 1e-4 leaves room for accumulated differences and still fails any real change.
REL, ABS = 1e-4, 1e-5
#: Window boundaries are seconds: a millisecond is far below a clip.
SECONDS_ABS = 1e-3


def assert_rows_close(got: list[dict], expected: list[dict], abs_tol: float = ABS) -> None:
    """abs_tol: the absolute tolerance of scores and saliency (ABS unless the inputs themselves differ)."""
    assert len(got) == len(expected), (len(got), len(expected))
    for i, (a, b) in enumerate(zip(got, expected)):
        assert a.keys() == b.keys(), (i, a.keys(), b.keys())
        for key in a:
            _assert_close(a[key], b[key], f"row {i} ({a.get('qid', a.get('query'))}) {key}",
                          seconds=key == "pred_relevant_windows", abs_tol=abs_tol)


def _assert_close(a, b, where: str, seconds: bool, index: int | None = None, abs_tol: float = ABS) -> None:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"{where}: {len(a)} vs {len(b)} items"
        for j, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, f"{where}[{j}]", seconds, j, abs_tol)
    elif isinstance(a, float) or isinstance(b, float):
        # [start_s, end_s, score]: the first two are seconds
        tol = dict(rel=0.0, abs=SECONDS_ABS) if seconds and index in (0, 1) else dict(rel=REL, abs=abs_tol)
        assert math.isclose(a, b, rel_tol=tol["rel"], abs_tol=tol["abs"]), f"{where}: {a!r} vs {b!r}"
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"
