"""Storage layer: the Zarr feature store, key validation and source fingerprints (no torch)."""

from storage.features import EntrySpec, EntryStatus, FeatureStore, StorePlan
from storage.fingerprint import SourceFingerprint, fingerprint_file, fingerprint_text
from storage.keys import InvalidKeyError, validate_key

__all__ = [
    "EntrySpec",
    "EntryStatus",
    "FeatureStore",
    "InvalidKeyError",
    "SourceFingerprint",
    "StorePlan",
    "fingerprint_file",
    "fingerprint_text",
    "validate_key",
]
