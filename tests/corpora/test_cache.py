"""A damaged corpus cache entry is a miss: rebuilt, replaced and announced in one line, never a traceback.

Each case damages the entry a small folder corpus wrote, loads again, and checks that the pieces equal
a fresh preparation, that one CacheWarning was given, and that the next load is a silent hit.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from composer import load_corpus, write_midi
from composer.cli import main
from composer.corpora import cache, midi_folder
from composer.corpora.cache import CacheWarning
from composer.corpora.cache_check import meta_digest
from composer.music import Note, Score, Track


def _songs(root):
    root.mkdir()
    for i in range(3):
        notes = [Note(4 * k, 4, 60 + i + k) for k in range(4)]
        write_midi(
            Score([Track("Lead", i, False, notes), Track("Bass", 33, False, [Note(0, 16, 36)])]),
            root / f"{i}.mid",
        )
    return root


@pytest.fixture
def entry(tmp_path, cache_dir):
    """(folder, fresh corpus, json path, npz path) of a freshly written cache entry."""
    folder = _songs(tmp_path / "songs")
    fresh = load_corpus(folder)
    (json_path,) = cache_dir.glob("*.json")
    return folder, fresh, json_path, json_path.with_suffix(".npz")


def _heals(folder, fresh, json_path, why: str):
    """The damaged entry gives one notice naming ``why``, the same pieces, and a whole entry again."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = load_corpus(folder)
        assert again.pieces == fresh.pieces and again.ids == fresh.ids
    notices = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
    assert len(notices) == 1 and why in notices[0] and "rebuilding it" in notices[0], notices
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the replaced entry is a silent hit
        hit = load_corpus(folder)
        assert hit._pieces is None and hit.pieces == fresh.pieces


def _meta(json_path) -> dict:
    return json.loads(json_path.read_text())


def _write_npz(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _notes(npz_path) -> np.ndarray:
    with np.load(npz_path) as z:
        return z["notes"]


def _signed(meta: dict) -> str:
    """The JSON with a checksum that matches it: damage the checksum cannot catch (another writer)."""
    if isinstance(meta.get("checksums"), dict):
        meta["checksums"] = {**meta["checksums"], "meta": meta_digest(meta)}
    return json.dumps(meta)


def _resign(json_path, npz_path) -> None:
    """Make the JSON's checksums match the (damaged) npz beside it."""
    meta = _meta(json_path)
    meta["checksums"]["npz"] = hashlib.sha256(npz_path.read_bytes()).hexdigest()
    json_path.write_text(_signed(meta))


JSON_DAMAGE = {  # a description -> (what to write, the reason the notice must hold)
    "not JSON": (lambda m: "{not json", "JSONDecodeError"),
    "nested 100,000 deep": (lambda m: "[" * 100_000 + "]" * 100_000, "RecursionError"),
    "not an object": (lambda m: "[1, 2]", "not an object"),
    "old format": (lambda m: _signed({**m, "format": 1}), "format 1"),
    "ids not names": (lambda m: _signed({**m, "ids": [1, 2, 3]}), "ids"),
    "one piece missing": (lambda m: _signed({**m, "pieces": m["pieces"][1:]}), "pieces do not match"),
    "bpm text": (
        lambda m: _signed({**m, "pieces": [{**m["pieces"][0], "bpm": "fast"}] + m["pieces"][1:]}),
        "bad field",
    ),
    "program 500": (
        lambda m: _signed(
            {
                **m,
                "pieces": [
                    {**m["pieces"][0], "tracks": [{"name": "x", "program": 500, "is_drum": False}] * 2}
                ]
                + m["pieces"][1:],
            }
        ),
        "bad track",
    ),
    "no summary": (lambda m: _signed({k: v for k, v in m.items() if k != "summary"}), "summary"),
    "a flipped letter": (
        lambda m: json.dumps(m).replace('"Lead"', '"LeaD"', 1),
        "does not match its checksum",
    ),
    "skipped not pairs": (lambda m: _signed({**m, "skipped": [["only one"]]}), "skipped"),
}


@pytest.mark.parametrize("case", sorted(JSON_DAMAGE))
def test_damaged_json_is_rebuilt(entry, case):
    folder, fresh, json_path, _ = entry
    damage, why = JSON_DAMAGE[case]
    json_path.write_text(damage(_meta(json_path)))
    _heals(folder, fresh, json_path, why)


def test_oversized_json_is_refused_before_reading(entry, monkeypatch):
    folder, fresh, json_path, _ = entry
    monkeypatch.setattr("composer.corpora.cache_check.MAX_META_BYTES", 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_corpus(folder).pieces == fresh.pieces
    assert "over the 100-byte limit" in str(caught[0].message)


def test_missing_truncated_or_foreign_npz_is_rebuilt(entry):
    folder, fresh, json_path, npz = entry
    good = npz.read_bytes()
    npz.unlink()
    _heals(folder, fresh, json_path, "FileNotFoundError")
    flipped = bytearray(good)
    flipped[len(good) // 3] ^= 0xFF  # inside the deflated data
    npz.write_bytes(bytes(flipped))
    _heals(folder, fresh, json_path, "does not match its checksum")
    # The same damage with checksums that match it (written by another tool): the structure is checked.
    npz.write_bytes(good[: len(good) // 2])
    _resign(json_path, npz)
    _heals(folder, fresh, json_path, "BadZipFile")
    for members, why in [
        (
            {"notes.npy": _npy(_notes(npz)), "extra.npy": _npy(np.zeros(3))},
            "members ['notes.npy', 'extra.npy']",
        ),
        ({"notes.npy": _npy(_notes(npz).astype(np.float64))}, "float64, not int32"),
        ({"notes.npy": _npy(_notes(npz)[:-1])}, "shape (14, 6), not (15, 6)"),
    ]:
        _write_npz(npz, members)
        _resign(json_path, npz)
        _heals(folder, fresh, json_path, why)


def test_an_npz_bomb_is_refused_from_its_headers(entry):
    """16 MiB of zeros behind the right npy header: the member's recorded size gives it away, and no
    array is allocated (benchmarks/bench_fuzz.py builds a 2 MB file that inflates to 2 GiB)."""
    folder, fresh, json_path, npz = entry
    npz_bytes = _npy(_notes(npz))
    _write_npz(npz, {"notes.npy": npz_bytes + bytes(16 * 2**20)})
    _resign(json_path, npz)
    assert npz.stat().st_size < 2**16
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.warns(CacheWarning, match="inflate to 16,777,"):
        assert cache.read_cache_meta(json_path.stem) is None
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2**20 and seconds < 1.0, (peak, seconds)
    _heals(folder, fresh, json_path, "inflate to 16,777,")


def test_an_npz_far_bigger_than_its_notes_is_refused_before_reading(entry):
    folder, fresh, json_path, npz = entry
    _write_npz(npz, {"notes.npy": _npy(_notes(npz)), "pad.npy": np.random.default_rng(0).bytes(2**17)})
    _resign(json_path, npz)
    _heals(folder, fresh, json_path, "too big for 15 notes")


def test_a_header_claiming_a_huge_shape_is_refused_before_allocation(entry):
    folder, fresh, json_path, npz = entry
    header = _npy(np.zeros((0, 6), np.int32)).replace(b"(0, 6)", b"(268435456, 6)")
    _write_npz(npz, {"notes.npy": header})
    _resign(json_path, npz)
    _heals(folder, fresh, json_path, "shape (268435456, 6)")


ROW_DAMAGE = {  # column, value, the reason the notice must hold
    "piece 99": (0, 99, "piece that does not exist"),
    "track 5": (1, 5, "track that does not exist"),
    "start -1": (2, -1, "negative start"),
    "duration 0": (3, 0, "no duration"),
    "pitch 200": (4, 200, "pitch outside 0-127"),
    "velocity 0": (5, 0, "velocity outside 1-127"),
}


@pytest.mark.parametrize("case", sorted(ROW_DAMAGE))
def test_rows_out_of_range_are_rebuilt_when_pieces_are_read(entry, case):
    folder, fresh, json_path, npz = entry
    column, value, why = ROW_DAMAGE[case]
    notes = _notes(npz)
    notes[5, column] = value
    _write_npz(npz, {"notes.npy": _npy(notes)})
    _resign(json_path, npz)
    _heals(folder, fresh, json_path, why)


def test_an_entry_damaged_after_load_heals_when_pieces_are_read(entry):
    folder, fresh, json_path, npz = entry
    lazy = load_corpus(folder)
    assert lazy._pieces is None
    npz.write_bytes(b"PK\x03\x04 damaged")
    with pytest.warns(CacheWarning, match="unusable .*rebuilding it"):
        assert lazy.pieces == fresh.pieces
    assert cache.read_cache_meta(json_path.stem) is not None


def test_a_file_that_vanished_mid_run_is_not_cached_as_unreadable(tmp_path, cache_dir, monkeypatch):
    folder = _songs(tmp_path / "songs")
    data = (folder / "1.mid").read_bytes()
    real = cache.fingerprint

    def vanish_after_hashing(files, root):
        digest = real(files, root)
        (folder / "1.mid").unlink()  # gone between the fingerprint and the read
        return digest

    monkeypatch.setattr(cache, "fingerprint", vanish_after_hashing)
    with pytest.warns(CacheWarning, match="not written: 1 file.s. could not be read now"):
        first = load_corpus(folder)
    assert first.ids == ["0.mid", "2.mid"]
    assert dict(first.skipped)["1.mid"].startswith(midi_folder.UNREADABLE)
    assert not list(cache_dir.glob("*.json"))
    monkeypatch.setattr(cache, "fingerprint", real)
    (folder / "1.mid").write_bytes(data)  # back, with the same bytes: the same cache key
    assert load_corpus(folder).ids == ["0.mid", "1.mid", "2.mid"]


def test_cli_prints_one_notice_line_and_succeeds(entry):
    folder, fresh, json_path, _ = entry
    json_path.write_text("{not json")
    result = CliRunner().invoke(main, ["corpus", "info", str(folder)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("composer: notice: corpus cache entry ")
    assert "rebuilding it" in lines[0]
    assert "pieces      3  (skipped 0)" in result.stdout
