"""Devices and mixed precision: one resolve_device for every stage, bf16 autocast where it helps."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" -> CUDA when available, else CPU; refuses CUDA when torch sees none (rather than failing later)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} asked for CUDA but torch sees no CUDA device; use 'cpu'")
    return dev


def amp_dtype_for(device: torch.device, amp: bool = True) -> torch.dtype | None:
    """bf16 autocast on a CUDA device that supports it; None (fp32) otherwise."""
    if amp and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to `dtype` on `device`, or nothing when dtype is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def float_outputs(value: Any) -> Any:
    """Model outputs with every floating tensor in float32 (after bf16 autocast), nested dicts/lists included."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, Mapping):
        return {k: float_outputs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [float_outputs(v) for v in value]
    return value
