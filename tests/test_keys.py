"""Key names: one spelling out ("Eb major", "F# minor"), every spelling in, through MIDI and the CLI."""

import pytest
from click.testing import CliRunner

from composer.cli import main
from composer.keys import MODES, estimate_key, key_name, spell_key
from composer.midi_io import read_midi, write_midi
from composer.music import Note, Score, Track


@pytest.mark.parametrize(
    "text, spelled",
    [
        ("E- major", "Eb major"),  # music21
        ("Ebm", "Eb minor"),  # mido
        ("D#m", "Eb minor"),
        ("Gb major", "F# major"),
        ("Cb", "B major"),
        ("C#", "Db major"),
        ("Abm", "G# minor"),
        ("f#", "F# minor"),  # a lone lower-case letter is minor
        ("Am", "A minor"),
        ("bb minor", "Bb minor"),
    ],
)
def test_spell_key(text, spelled):
    assert spell_key(text) == spelled


def _score(key):
    return Score([Track("v", 0, False, [Note(0, 4, 60)])], key=key)


@pytest.mark.parametrize("mode", MODES)
def test_every_key_survives_a_midi_round_trip_in_one_spelling(tmp_path, mode):
    for pc in range(12):
        write_midi(_score(key_name(pc, mode)), tmp_path / "k.mid")
        assert read_midi(tmp_path / "k.mid").key == key_name(pc, mode)


def test_music21_and_mido_spellings_read_back_in_composers(tmp_path):
    for written, read in [("E- major", "Eb major"), ("Gb major", "F# major"), ("A#m", "Bb minor")]:
        write_midi(_score(written), tmp_path / "k.mid")
        assert read_midi(tmp_path / "k.mid").key == read


def test_estimate_key_names_in_composers_spelling():
    e_flat = [Note(i * 4, 4, p) for i, p in enumerate((63, 65, 67, 68, 70, 72, 74, 75, 63))]
    assert estimate_key(e_flat) == "Eb major" and estimate_key([]) is None


@pytest.mark.parametrize("given, stored", [("E- major", "Eb major"), ("Eb", "Eb major"), ("Am", "A minor")])
def test_generate_key_in_any_spelling_is_written_in_one(tmp_path, given, stored):
    out = tmp_path / "out.mid"
    result = CliRunner().invoke(main, ["generate", "--bars", "1", "--key", given, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert read_midi(out).key == stored
