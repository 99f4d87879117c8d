"""The machine line every benchmark prints, so results name where they were measured; timing helpers."""

from __future__ import annotations

import os
import platform


def describe_machine(device: str = "cpu") -> str:
    """CPU model, core count, torch version and threads, load average, and the GPU when one is used."""
    import torch

    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    gpu = torch.cuda.get_device_name(torch.device(device)) if str(device).startswith("cuda") else "none used"
    return (f"machine: {platform.platform()}, {cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), load average {load:.1f}, GPU {gpu}")


def sync(device: str) -> None:
    """Wait for the GPU's queued work before reading a clock (nothing to wait for on CPU)."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()
