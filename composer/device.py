"""Where tensors live: CUDA, then Apple's MPS, then CPU (or the one asked for), and the AMP context."""

from __future__ import annotations

import contextlib

import torch

from composer.errors import OptionError

DEVICES = ("auto", "cuda", "mps", "cpu")


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA when available, else MPS (Apple silicon), else CPU; asking for a device that is
    not here is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu")
    if name not in DEVICES:
        raise OptionError("device", name, f"choose one of {', '.join(DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise OptionError("device", name, "no CUDA GPU is available here; use cpu or auto")
    if name == "mps" and not mps_available():
        raise OptionError("device", name, "Apple's MPS backend is not available here; use cpu or auto")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool = True):
    """bf16 mixed precision on CUDA (no loss scaling needed); a no-op on MPS and CPU."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
