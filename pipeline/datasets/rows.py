"""Pydantic models of one annotation row of each dataset format (QVHighlights, Charades-STA, TVSum, pretraining)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from storage import validate_key

#: Annotators per QVHighlights clip, each scoring 0..4.
QVH_ANNOTATORS = 3
QVH_MAX_SCORE = 4
#: Clip length of the QVHighlights annotation grid (relevant_clip_ids), seconds.
QVH_CLIP_SECONDS = 2.0
#: TVSum annotator scores lie in 1..5.
TVSUM_MIN_SCORE, TVSUM_MAX_SCORE = 1.0, 5.0
TVSUM_DOMAINS = ("BK", "BT", "DS", "FM", "GA", "MS", "PK", "PR", "VT", "VU")
#: Slack (seconds) allowed when a window ends after the video's duration (float rounding).
DURATION_SLACK = 1e-3
#: Slack (seconds) between a pretraining qid's "{start}_{end}" and its first window.
QID_WINDOW_SLACK = 1e-2

Window = tuple[float, float]
"""[start_s, end_s] in seconds from the start of the video."""


def _row_of(info: ValidationInfo) -> int | None:
    return (info.context or {}).get("row")


def _check_windows(windows: list[Window], duration: float) -> None:
    for i, (start, end) in enumerate(windows):
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError(f"relevant_windows[{i}] = [{start}, {end}] is not finite")
        if start < 0 or start >= end or end > duration + DURATION_SLACK:
            raise ValueError(
                f"relevant_windows[{i}] = [{start:g}, {end:g}]; expected [start_s, end_s] with "
                f"0 <= start < end <= duration ({duration:g} s)"
            )


def _check_clip_scores(ids: list[int], scores: list[list[float]], n_clips: int, clip_seconds: float,
                       duration: float, annotators: int | None) -> None:
    if len(ids) != len(scores):
        raise ValueError(
            f"saliency_scores has {len(scores)} entries but relevant_clip_ids has {len(ids)}; "
            "expected one list of annotator scores per relevant clip id, in the same order"
        )
    if len(set(ids)) != len(ids):
        raise ValueError("relevant_clip_ids has repeated ids; expected each clip id once")
    if ids and max(ids) >= n_clips:
        raise ValueError(
            f"relevant_clip_ids reaches {max(ids)}; a {duration:g} s video has {n_clips} clips of "
            f"{clip_seconds:g} s (ids 0..{n_clips - 1})"
        )
    widths = {len(s) for s in scores}
    expected = annotators if annotators is not None else (min(widths) if widths else 1)
    for i, s in enumerate(scores):
        if len(s) != expected or len(s) == 0:
            raise ValueError(
                f"saliency_scores[{i}] has {len(s)} scores; expected {expected} (one per annotator, "
                "the same number for every clip)"
            )


class _Row(BaseModel):
    """Fields every format shares. Errors name the row through the reader's context."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str = Field(min_length=1, description="The text query (a caption for pretraining rows).")
    duration: float = Field(gt=0, allow_inf_nan=False, description="Video length in seconds.")
    vid: str = Field(description="Video id: the store key of the video features.")

    @field_validator("vid", mode="before")
    @classmethod
    def _vid_is_key(cls, value: Any, info: ValidationInfo) -> str:
        return validate_key(value, "vid", _row_of(info))

    @field_validator("qid", mode="before", check_fields=False)
    @classmethod
    def _qid_is_key(cls, value: Any, info: ValidationInfo) -> Any:
        validate_key(value, "qid", _row_of(info))
        return value

    @field_validator("query")
    @classmethod
    def _query_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is blank; expected a non-empty text query")
        return value

    @property
    def windows(self) -> list[Window]:
        """The row's [start_s, end_s] windows (empty when it has none)."""
        return list(getattr(self, "relevant_windows", None) or [])

    @property
    def has_labels(self) -> bool:
        """Whether the row carries training targets."""
        return True


class QVHighlightsRow(_Row):
    """A QVHighlights query. Test rows carry only qid, query, duration and vid.

    Attributes:
        qid: integer query id (store key of the text features).
        relevant_windows: [start_s, end_s] windows, all or none of the label fields present.
        relevant_clip_ids: indices of the relevant 2-s clips.
        saliency_scores: one [a1, a2, a3] triple (0..4) per relevant clip, same order.
    """

    qid: int
    relevant_windows: list[Window] | None = None
    relevant_clip_ids: list[Annotated[int, Field(ge=0)]] | None = None
    saliency_scores: list[list[Annotated[int, Field(ge=0, le=QVH_MAX_SCORE)]]] | None = None

    @model_validator(mode="after")
    def _labels_consistent(self) -> QVHighlightsRow:
        present = [self.relevant_windows is not None, self.relevant_clip_ids is not None,
                   self.saliency_scores is not None]
        if any(present) and not all(present):
            raise ValueError(
                "relevant_windows, relevant_clip_ids and saliency_scores must come together "
                "(training/validation rows) or all be absent (test rows)"
            )
        if self.relevant_windows is None:
            return self
        if not self.relevant_windows:
            raise ValueError("relevant_windows is empty; expected at least one [start_s, end_s] window")
        _check_windows(self.relevant_windows, self.duration)
        n_clips = math.ceil(self.duration / QVH_CLIP_SECONDS - 1e-9)
        _check_clip_scores(self.relevant_clip_ids, self.saliency_scores, n_clips, QVH_CLIP_SECONDS,
                           self.duration, QVH_ANNOTATORS)
        return self

    @property
    def has_labels(self) -> bool:
        return self.relevant_windows is not None


class CharadesRow(_Row):
    """A Charades-STA query: one (or more) [start_s, end_s] windows, no saliency annotations."""

    qid: int
    relevant_windows: list[Window] = Field(min_length=1)

    @model_validator(mode="after")
    def _windows_valid(self) -> CharadesRow:
        _check_windows(self.relevant_windows, self.duration)
        return self


class TVSumRow(_Row):
    """A TVSum video: `label` holds one list of annotator scores (1..5) per 2-s clip.

    In the release `duration` equals the number of label rows; the clip count used for
    training is `len(label)`.
    """

    qid: str
    relevant_clip_ids: None = None
    relevant_windows: None = None
    label: list[list[float]] = Field(min_length=1)
    domain: Literal[TVSUM_DOMAINS]  # type: ignore[valid-type]

    @field_validator("label")
    @classmethod
    def _label_table(cls, label: list[list[float]]) -> list[list[float]]:
        width = len(label[0])
        for i, scores in enumerate(label):
            if len(scores) != width or width == 0:
                raise ValueError(
                    f"label[{i}] has {len(scores)} annotator scores; expected {width or 'at least 1'} "
                    "like label[0] (one score per annotator for every clip)"
                )
            bad = [s for s in scores if not TVSUM_MIN_SCORE <= s <= TVSUM_MAX_SCORE]
            if bad:
                raise ValueError(
                    f"label[{i}] has score {bad[0]!r}; expected annotator scores in "
                    f"{TVSUM_MIN_SCORE:g}..{TVSUM_MAX_SCORE:g}"
                )
        return label

    @property
    def n_annotators(self) -> int:
        return len(self.label[0])


class PretrainRow(_Row):
    """A synthetic pretraining row in the QVHighlights format (paper, Algorithm 1).

    Attributes:
        qid: "{vid}_{start}_{end}", the interval the caption describes (its first window).
        relevant_windows: the captioned interval(s), [start_s, end_s].
        relevant_clip_ids: clips of the interval on the `clip_seconds` grid (reader context,
            2 s by default).
        saliency_scores: one list of scores (>= 0) per clip, the same length for every clip
            (1 for the release's similarity score, 3 for QVHighlights-style triples).
        split: optional split label written by the release's generator.
    """

    qid: str
    relevant_windows: list[Window] = Field(min_length=1)
    relevant_clip_ids: list[Annotated[int, Field(ge=0)]]
    saliency_scores: list[list[Annotated[float, Field(ge=0, allow_inf_nan=False)]]]
    split: str | None = None

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> PretrainRow:
        _check_windows(self.relevant_windows, self.duration)
        clip_seconds = float((info.context or {}).get("clip_seconds", QVH_CLIP_SECONDS))
        n_clips = math.ceil(self.duration / clip_seconds - 1e-9)
        _check_clip_scores(self.relevant_clip_ids, self.saliency_scores, n_clips, clip_seconds,
                           self.duration, None)
        self._check_qid()
        return self

    def _check_qid(self) -> None:
        expected = f"qid '{{vid}}_{{start}}_{{end}}' (here '{self.vid}_<start>_<end>')"
        prefix = f"{self.vid}_"
        parts = self.qid[len(prefix):].split("_") if self.qid.startswith(prefix) else []
        try:
            start, end = (float(p) for p in parts)
        except ValueError:
            raise ValueError(f"qid {self.qid!r} is not {expected}") from None
        first = self.relevant_windows[0]
        if abs(start - first[0]) > QID_WINDOW_SLACK or abs(end - first[1]) > QID_WINDOW_SLACK:
            raise ValueError(
                f"qid {self.qid!r} names the interval [{start:g}, {end:g}] but relevant_windows[0] is "
                f"[{first[0]:g}, {first[1]:g}]; expected the qid to name the captioned interval"
            )


Row = QVHighlightsRow | CharadesRow | TVSumRow | PretrainRow
