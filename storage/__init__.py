"""Storage layer: the Zarr feature store, entry claims, key validation and source fingerprints (no torch)."""

from storage.features import EntrySpec, EntryStatus, FeatureStore, StorePlan
from storage.fingerprint import SourceFingerprint, fingerprint_file, fingerprint_text
from storage.keys import InvalidKeyError, validate_key
from storage.locks import Claim, Locks

__all__ = [
    "Claim",
    "EntrySpec",
    "EntryStatus",
    "FeatureStore",
    "InvalidKeyError",
    "Locks",
    "SourceFingerprint",
    "StorePlan",
    "fingerprint_file",
    "fingerprint_text",
    "validate_key",
]
