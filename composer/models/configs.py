"""The config dataclasses of the LSTM and the harmonizer, torch-free: the NumPy runtimes and the
checkpoint reader (composer.checkpoint.to_config) build them without importing torch. Each model
module re-exports its own (``from composer.models.attention_lstm import LSTMConfig`` keeps working).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class LSTMConfig:
    """Hyperparameters; stored in every checkpoint so the model can be rebuilt without guessing."""

    vocab_sizes: dict[str, int] = field(default_factory=dict)  # ids per stream, specials included
    n_positions: int = 16  # steps per bar (largest meter of the corpus): bar-position ids 0..n-1
    embed: int = 32
    hidden: int = 256
    head_hidden: int = 128
    layers: int = 2
    dropout: float = 0.2
    attention: bool = True
    window: int = 64  # attention span in events (the training window length)
    order: tuple[str, ...] = ("shift", "track", "pitch", "duration")
    n_modes: int = 0  # mode ids (major, minor) as an input; 0 = no key conditioning (first checkpoints)
    n_bars_left: int = 0  # bars-until-the-end ids as an input; 0 = no end conditioning

    def to_dict(self) -> dict:
        return {**asdict(self), "order": list(self.order)}

    @classmethod
    def from_dict(cls, d: dict) -> LSTMConfig:
        return cls(**{**d, "order": tuple(d["order"])})


@dataclass
class HarmonizerConfig:
    n_tokens: int = 63  # target ids: HOLD, REST, pitches
    n_sounding: int = 62  # input ids of a sounding pitch: REST, pitches
    n_positions: int = 32
    n_modes: int = 2
    n_left: int = 9
    embed: int = 32
    encoder: int = 64  # per direction
    hidden: int = 128
    head: int = 128
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)
