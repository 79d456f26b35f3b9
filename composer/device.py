"""Where tensors live: pick CUDA when present (or asked for), CPU otherwise, and the AMP context."""

from __future__ import annotations

import contextlib

import torch

from composer.errors import ComposerError


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA when available, else CPU; asking for ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ComposerError("--device cuda: no CUDA GPU is available here; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ComposerError(f"--device {name}: choose auto, cpu or cuda")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool = True):
    """bf16 mixed precision on CUDA (no loss scaling needed); a no-op on CPU."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
