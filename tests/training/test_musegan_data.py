"""MuseGAN training data: voice order (drums kept out of the voices) and phrases."""

from __future__ import annotations

import numpy as np
import pytest

from composer.errors import CorpusError
from composer.evaluate.compare import CopyIndex
from composer.midi_io import read_midi, write_midi
from composer.music import Score, Track
from composer.representations.pianoroll import RollCodec, in_voice_order
from composer.training.musegan_data import to_phrases
from tests.helpers import quarter_notes


@pytest.fixture
def drum_file(tmp_path):
    """A 4-track file: bass (program 32), drums, soprano (73), alto (71), in that order."""
    tracks = [
        Track("bass", 32, False, quarter_notes(40)),
        Track("drums", 0, True, quarter_notes(36) + quarter_notes(42)),
        Track("soprano", 73, False, quarter_notes(76)),
        Track("alto", 71, False, quarter_notes(67)),
    ]
    path = tmp_path / "drums.mid"
    write_midi(Score(tracks=tracks), path)
    return path


def test_a_four_track_file_with_drums_keeps_drums_out_of_the_voices(drum_file):
    score = read_midi(drum_file)
    assert len(score.tracks) == 4 and [t.is_drum for t in score.tracks] == [False, True, False, False]
    with pytest.raises(CorpusError, match="with 4 pitched tracks in this corpus"):
        to_phrases(RollCodec(), [score], 2)  # three pitched tracks: not usable as four voices
    assert in_voice_order(score, 4) is None
    voiced = in_voice_order(score, 3)
    assert [t.name for t in voiced.tracks] == ["soprano", "alto", "bass"]
    codec = RollCodec.fit([score], n_tracks=3)
    assert codec.names == ("soprano", "alto", "bass") and codec.programs == (73, 71, 32)
    rolls, last = to_phrases(codec, [score], 2)  # (phrases, bars, 16, 48, 3, 2), lowest pitch 36
    assert rolls.shape == (1, 2, 16, 48, 3, 2) and last.tolist() == [True]
    # the final bass note E2 becomes C2: everything moves down a major third
    assert [sorted(set(np.nonzero(rolls[0, ..., t, 0])[2] + 36)) for t in range(3)] == [[72], [63], [36]]
    assert CopyIndex([score], ["drums"], n_voices=3).nearest(score)["max_verbatim_bars"] == 2
    assert (
        CopyIndex([score], ["drums"], n_voices=3).nearest(Score(tracks=score.tracks[1:2]))["nearest"] is None
    )
