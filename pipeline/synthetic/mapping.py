"""Caption-frame similarity -> saliency score: the mappings the synthesize stage can write.

The dataset loader sums a clip's saliency_scores entries and its rank-contrastive loss uses the
integer thresholds 1..11 of QVHighlights' summed 3 x (0..4) scale, so the useful range of a
synthetic score is about 0..12:

* "release": the public release's `clamp(exp(clamp(2.5 p, min=1)), min=2)` of a BLIP image-text
  matching probability p. The inner clamp makes every p <= 0.4 score e = 2.72; above, the score
  grows as exp(2.5 p) up to e^2.5 = 12.18 at p = 1. The outer clamp (min 2) never binds (the
  inner result is >= 1, so exp >= e > 2); it is kept as written.
* "identity": the similarity itself, s_i = Sim(c_i, f_ij) as in the paper's Algorithm 1, floored
  at 0 (scores must be >= 0; an ITC cosine can be negative). Its 0..1 range sits below the
  loader's rank thresholds.
* "linear": `scale * clamp(s, 0, 1)`, the paper's similarity stretched onto the 0..scale range.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

RELEASE_GAIN = 2.5
RELEASE_INNER_MIN = 1.0
RELEASE_OUTER_MIN = 2.0


def release_score(p: np.ndarray) -> np.ndarray:
    """`clamp(exp(clamp(2.5 p, min=1)), min=2)`, elementwise, float64.

    >>> release_score(np.array([0.0, 0.4, 0.5, 1.0])).round(4).tolist()
    [2.7183, 2.7183, 3.4903, 12.1825]
    """
    x = np.asarray(p, dtype=np.float64)
    return np.maximum(np.exp(np.maximum(RELEASE_GAIN * x, RELEASE_INNER_MIN)), RELEASE_OUTER_MIN)


def identity_score(s: np.ndarray) -> np.ndarray:
    """`max(s, 0)`: the similarity as the score (paper), never negative.

    >>> identity_score(np.array([-0.3, 0.0, 0.42])).tolist()
    [0.0, 0.0, 0.42]
    """
    return np.maximum(np.asarray(s, dtype=np.float64), 0.0)


def linear_score(s: np.ndarray, scale: float = 12.0) -> np.ndarray:
    """`scale * clamp(s, 0, 1)`.

    >>> linear_score(np.array([-0.5, 0.25, 1.5]), 12.0).tolist()
    [0.0, 3.0, 12.0]
    """
    return scale * np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)


def score_mapping(name: str, linear_scale: float = 12.0) -> Callable[[np.ndarray], np.ndarray]:
    """The mapping called `name` ("release", "identity", "linear") as a function of a similarity array."""
    if name == "release":
        return release_score
    if name == "identity":
        return identity_score
    if name == "linear":
        return lambda s: linear_score(s, linear_scale)
    raise ValueError(f"unknown score mapping {name!r}; expected 'release', 'identity' or 'linear'")
