"""The MuseGAN (Dong et al. 2017; GDL "Compose" chapter): modules and config only, no I/O.

The generator turns four latent inputs into a multi-track piano-roll phrase:

- chords: one z per phrase, expanded over bars by a temporal network (shared by all tracks);
- style: one z per phrase, the same for every bar and track;
- melody: one z per track, each expanded over bars by that track's own temporal network;
- groove: one z per track, the same for every bar.

For each bar and track the four vectors are concatenated and fed to that track's bar generator
(transposed convolutions over time, then over pitch), which draws ``n_channels`` rolls per track
(hold and onset). The critic is a WGAN critic of 3D convolutions that collapse bars, then pitch, then
time; it has no batch norm (the gradient penalty is per sample).

With ``n_conditions`` > 0 both networks also take a condition vector per phrase (the flag "this is
the piece's last phrase"): the generator appends it to every bar's input, the critic to the
features its head reads, so the critic can tell a real ending from a fake one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from composer.options import check_options, option

LATENTS = ("chords", "style", "melody", "groove")


@dataclass
class MuseGANConfig:
    """Sizes of the generator and critic.

    ``width`` multiplies every channel count: 1.0 is the book's size (about 7 s per generator step on
    a 2-core CPU), the shipped CPU default is far smaller.
    """

    n_tracks: int = 4
    n_bars: int = 2  # bars per phrase
    steps_per_bar: int = 16
    n_pitches: int = 84
    z_dim: int = 32
    width: float = 1.0
    n_channels: int = 1  # rolls per track: 1 (hold) or 2 (hold, onset)
    n_conditions: int = 0  # condition inputs per phrase (1: the last-phrase flag)

    def ch(self, channels: int) -> int:
        """A channel count scaled by ``width`` (at least 4)."""
        return max(4, round(channels * self.width))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MuseGANConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


# Width multipliers; "default" (= "small") is the size shipped for CPU training, "book" the GDL size.
SIZES = {"tiny": 0.03125, "small": 0.25, "default": 0.25, "book": 1.0}


@dataclass
class TrainConfig:
    """How to train (WGAN-GP): the defaults are the shipped recipe (`composer train --model musegan`)."""

    # the shipped recipe (benchmarks/RESULTS.md): 883 steps on the busy box, resumed to 2400
    steps: int = option(2400, "Generator steps to train (in total, when resuming).", low=1)
    batch_size: int = option(32, "Phrases per step.", low=1)
    lr: float = option(1e-3, "Learning rate (Adam, betas 0.5, 0.9).", low=0, high=10, low_open=True)
    seed: int = option(0, "Seed of the split, the weights and every draw.", low=0)
    size: str = option("default", "Model size: a width preset (SIZES).", choices=SIZES)
    width: float | None = option(
        None, "Channel width multiplier [tiny 1/32, default 1/4].", low=0, high=4, low_open=True
    )
    tracks: int = option(4, "Tracks (voice order).", low=1, high=16)
    phrase_bars: int = option(2, "Bars per phrase.", low=2, high=16)
    z_dim: int = option(32, "Size of each latent.", low=1, cli=False)
    sample_every: int = option(200, "Sample PNGs every N steps; 0 = none.", low=0)
    save_every: int = option(100, "Checkpoint every N steps.", low=1, cli=False)
    critic_steps: int = option(5, "Critic steps per generator step.", low=1, cli=False)
    gp_weight: float = option(10.0, "Gradient-penalty weight.", low=0, cli=False)

    def __post_init__(self):
        check_options(self)

    def to_dict(self) -> dict:
        return asdict(self)


class TemporalNetwork(nn.Module):
    """One z to one vector per bar: (B, z_dim) -> (B, n_bars, z_dim), by transposed conv over bars."""

    def __init__(self, cfg: MuseGANConfig):
        super().__init__()
        hidden = cfg.ch(1024)
        self.net = nn.Sequential(
            nn.ConvTranspose1d(cfg.z_dim, hidden, kernel_size=cfg.n_bars),  # length 1 -> n_bars
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Conv1d(hidden, cfg.z_dim, kernel_size=1),
            nn.BatchNorm1d(cfg.z_dim),
            nn.ReLU(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z.unsqueeze(-1))  # (B, z_dim, n_bars)
        return out.transpose(1, 2)  # (B, n_bars, z_dim)


class BarGenerator(nn.Module):
    """One bar of one track from its input vector: (N, 4*z_dim + n_conditions) -> (N, channels,
    steps, pitches).

    Dense to (2 steps, 1), transposed convs doubling time to ``steps_per_bar``, then over pitch by a
    factor of octaves (``n_pitches // 12``) and 12 (semitones within an octave).
    """

    def __init__(self, cfg: MuseGANConfig):
        super().__init__()
        assert cfg.steps_per_bar % 2 == 0 and cfg.n_pitches % 12 == 0
        c1, c2, c3 = cfg.ch(512), cfg.ch(256), cfg.ch(256)
        self.c1 = c1
        self.dense = nn.Sequential(
            nn.Linear(4 * cfg.z_dim + cfg.n_conditions, 2 * c1), nn.BatchNorm1d(2 * c1), nn.ReLU()
        )
        time_layers, steps, ch = [], 2, c1
        while steps < cfg.steps_per_bar:
            time_layers += [nn.ConvTranspose2d(ch, c2, (2, 1), (2, 1)), nn.BatchNorm2d(c2), nn.ReLU()]
            steps, ch = steps * 2, c2
        assert steps == cfg.steps_per_bar, "steps_per_bar must be 2 times a power of two"
        octaves = cfg.n_pitches // 12
        self.time = nn.Sequential(*time_layers)
        self.pitch = nn.Sequential(
            nn.ConvTranspose2d(ch, c3, (1, octaves), (1, octaves)),
            nn.BatchNorm2d(c3),
            nn.ReLU(),
            nn.ConvTranspose2d(c3, cfg.n_channels, (1, 12), (1, 12)),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dense(x).view(-1, self.c1, 2, 1)  # (N, C, 2 steps, 1 pitch)
        h = self.time(h)  # (N, C, steps, 1)
        return self.pitch(h)  # (N, channels, steps, pitches)


class Generator(nn.Module):
    """Four latents -> a phrase: values in [-1, 1], shape (B, n_bars, steps, pitches, tracks,
    channels).

    Inputs: chords (B, z), style (B, z), melody (B, tracks, z), groove (B, tracks, z), and with
    ``n_conditions`` a condition (B, n_conditions).
    """

    def __init__(self, cfg: MuseGANConfig):
        super().__init__()
        self.cfg = cfg
        self.chords = TemporalNetwork(cfg)
        self.melody = nn.ModuleList(TemporalNetwork(cfg) for _ in range(cfg.n_tracks))
        self.bars = nn.ModuleList(BarGenerator(cfg) for _ in range(cfg.n_tracks))

    def forward(self, chords, style, melody, groove, condition=None) -> torch.Tensor:
        cfg = self.cfg
        b, nb = chords.shape[0], cfg.n_bars
        extra = [] if not cfg.n_conditions else [condition.unsqueeze(1).expand(b, nb, cfg.n_conditions)]
        chords_t = self.chords(chords)  # (B, bars, z)
        style_t = style.unsqueeze(1).expand(b, nb, cfg.z_dim)  # (B, bars, z)
        tracks = []
        for t in range(cfg.n_tracks):
            melody_t = self.melody[t](melody[:, t])  # (B, bars, z)
            groove_t = groove[:, t].unsqueeze(1).expand(b, nb, cfg.z_dim)  # (B, bars, z)
            x = torch.cat([chords_t, style_t, melody_t, groove_t, *extra], dim=-1)  # (B, bars, 4z+c)
            bars = self.bars[t](x.reshape(b * nb, -1))  # (B*bars, channels, steps, pitches)
            bars = bars.view(b, nb, cfg.n_channels, cfg.steps_per_bar, cfg.n_pitches)
            tracks.append(bars.permute(0, 1, 3, 4, 2))  # (B, bars, steps, pitches, channels)
        return torch.stack(tracks, dim=-2)  # (B, bars, steps, pitches, tracks, channels)


class Critic(nn.Module):
    """WGAN critic: (B, bars, steps, pitches, tracks, channels) [, condition (B, n_conditions)] ->
    (B,) unbounded scores. No batch norm.

    Tracks times channels are the input channels of 3D convolutions over (bars, steps, pitches): the first layers
    collapse bars, the next pitch (12 semitones, then octaves), the last time.
    """

    def __init__(self, cfg: MuseGANConfig):
        super().__init__()
        c, cd = cfg.ch(128), cfg.ch(1024)
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        layers = [nn.Conv3d(cfg.n_tracks * cfg.n_channels, c, (2, 1, 1)), act()]  # bars -> bars - 1
        if cfg.n_bars > 2:
            layers += [nn.Conv3d(c, c, (cfg.n_bars - 1, 1, 1)), act()]  # -> 1
        octaves = cfg.n_pitches // 12
        layers += [
            nn.Conv3d(c, c, (1, 1, 12), (1, 1, 12)),  # pitches -> octaves
            act(),
            nn.Conv3d(c, c, (1, 1, octaves), (1, 1, octaves)),  # -> 1
            act(),
        ]
        steps = cfg.steps_per_bar
        while steps > 4:
            layers += [nn.Conv3d(c, c, (1, 2, 1), (1, 2, 1)), act()]  # time / 2
            steps //= 2
        layers += [nn.Conv3d(c, 2 * c, (1, steps, 1)), act()]  # -> 1
        self.conv = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * c + cfg.n_conditions, cd), act(), nn.Linear(cd, 1)
        )

        self.n_conditions = cfg.n_conditions

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(4).permute(0, 4, 1, 2, 3)  # (B, tracks*channels, bars, steps, pitches)
        h = self.conv(h).flatten(1)  # (B, 2c)
        if self.n_conditions:
            h = torch.cat([h, condition], dim=1)  # (B, 2c + n_conditions)
        return self.head(h).squeeze(-1)  # (B,)


def sample_latents(cfg: MuseGANConfig, batch: int, generator: torch.Generator | None = None) -> dict:
    """Standard-normal latents: chords/style (B, z), melody/groove (B, tracks, z)."""
    z, t = cfg.z_dim, cfg.n_tracks
    shapes = {"chords": (batch, z), "style": (batch, z), "melody": (batch, t, z), "groove": (batch, t, z)}
    return {k: torch.randn(s, generator=generator) for k, s in shapes.items()}


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor, *cond):
    """WGAN-GP penalty: mean over the batch of (||d critic / d x||_2 - 1)^2 at x = eps*real + (1-eps)*fake.

    ``eps`` has shape (B,) in [0, 1]; ``cond`` is passed on to the critic. The caller multiplies by
    the weight (10).
    """
    e = eps.view(-1, *([1] * (real.dim() - 1)))
    x = (e * real + (1 - e) * fake).requires_grad_(True)
    score = critic(x, *cond)
    (grad,) = torch.autograd.grad(score.sum(), x, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)  # (B,)
    return ((norm - 1) ** 2).mean()
