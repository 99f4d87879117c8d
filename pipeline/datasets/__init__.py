"""Dataset layer: annotation readers, VideoLightsDataset over the feature store, collate, loaders, span helpers."""

from pipeline.datasets.assemble import Assembly, assemble_text, assemble_video, pad_and_concat, temporal_endpoints
from pipeline.datasets.collate import MODEL_INPUT_KEYS, TARGET_KEYS, collate, forward_kwargs, model_inputs, targets, to_device
from pipeline.datasets.config import DatasetConfig
from pipeline.datasets.dataset import Sample, VideoLightsDataset, needed_entries
from pipeline.datasets.errors import AnnotationError, MissingFeaturesError
from pipeline.datasets.features import CachedFeatures, StoreFeatures, check_entries
from pipeline.datasets.readers import ROW_MODELS, Annotations, read_annotations
from pipeline.datasets.rows import CharadesRow, PretrainRow, QVHighlightsRow, Row, TVSumRow
from pipeline.datasets.saliency import SaliencyTargets
from pipeline.datasets.windows import crop_windows, spans_cxw_to_windows, windows_to_spans_cxw

__all__ = [
    "MODEL_INPUT_KEYS",
    "ROW_MODELS",
    "TARGET_KEYS",
    "AnnotationError",
    "Assembly",
    "Annotations",
    "CachedFeatures",
    "CharadesRow",
    "DatasetConfig",
    "MissingFeaturesError",
    "PretrainRow",
    "QVHighlightsRow",
    "Row",
    "SaliencyTargets",
    "Sample",
    "StoreFeatures",
    "TVSumRow",
    "VideoLightsDataset",
    "assemble_text",
    "assemble_video",
    "check_entries",
    "collate",
    "crop_windows",
    "forward_kwargs",
    "model_inputs",
    "needed_entries",
    "pad_and_concat",
    "read_annotations",
    "spans_cxw_to_windows",
    "targets",
    "temporal_endpoints",
    "to_device",
    "windows_to_spans_cxw",
]
