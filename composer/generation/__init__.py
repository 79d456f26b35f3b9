"""Sampling from trained models: model -> Score (bars, temperature, top-k/p, priming, seeds)."""
