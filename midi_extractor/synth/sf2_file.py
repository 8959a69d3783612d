"""Reading a SoundFont 2 file's records: what each preset plays, and digests of its samples.

:func:`read_presets` reads the RIFF ``pdta`` chunk's preset, instrument and generator records
(sample data skipped), so a program the file lacks and a key no zone covers are known before
rendering; :func:`sample_digests` tells whether two files share samples byte for byte
(``synth.sources.shared_samples``: a held-out source should share none with the training pool).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


class SoundFontError(ValueError):
    """A file that is not a SoundFont 2 file, or whose preset records are broken (names the file)."""


@dataclass(frozen=True)
class Preset:
    bank: int
    program: int
    name: str
    keys: frozenset[int]   # MIDI keys some zone of the preset plays


def _pdta(path: Path) -> dict[bytes, bytes]:
    """The sub-chunks of the ``pdta`` list of a SoundFont 2 file (sample data skipped)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
            raise SoundFontError(f"{path}: not a SoundFont 2 file (no RIFF sfbk header)")
        end = 8 + struct.unpack("<I", head[4:8])[0]
        while f.tell() < end:
            hdr = f.read(8)
            if len(hdr) < 8:
                break
            cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if cid == b"LIST" and f.read(4) == b"pdta":
                data, stop = {}, f.tell() + size - 4
                while f.tell() + 8 <= stop:
                    sid, ssize = struct.unpack("<4sI", f.read(8))
                    data[sid] = f.read(ssize)
                return data
            f.seek(size - (4 if cid == b"LIST" else 0) + (size & 1), 1)
    raise SoundFontError(f"{path}: SoundFont has no preset data (pdta chunk)")


def _records(data: bytes, size: int, fmt: str) -> list[tuple]:
    return [struct.unpack(fmt, data[i:i + struct.calcsize(fmt)]) for i in range(0, len(data) - size + 1, size)]


def _zone_keys(bags: list[tuple], gens: list[tuple], first: int, last: int) -> list[tuple[range, int | None]]:
    """(key range, instrument-or-sample index) of the zones ``first..last-1``; a zone
    without a key-range generator (43) covers every key."""
    out = []
    for z in range(first, last):
        g = {op: amount for op, amount in gens[bags[z][0]:bags[z + 1][0]]}
        kr = g.get(43)
        keys = range(kr & 0xFF, (kr >> 8) + 1) if kr is not None else range(128)
        out.append((keys, g.get(41, g.get(53))))
    return out


@lru_cache(maxsize=16)
def read_presets(path: str | Path) -> dict[tuple[int, int], Preset]:
    """(bank, program) -> :class:`Preset` of a SoundFont, with the keys it plays
    (preset zone ranges intersected with its instruments' sample zone ranges)."""
    d = _pdta(Path(path))
    try:
        phdr = _records(d[b"phdr"], 38, "<20sHHH")
        pbag, pgen = _records(d[b"pbag"], 4, "<HH"), _records(d[b"pgen"], 4, "<HH")
        inst = _records(d[b"inst"], 22, "<20sH")
        ibag, igen = _records(d[b"ibag"], 4, "<HH"), _records(d[b"igen"], 4, "<HH")
    except (KeyError, struct.error) as exc:
        raise SoundFontError(f"{path}: broken SoundFont preset data ({exc})") from None
    inst_keys: dict[int, set[int]] = {}
    for i in range(len(inst) - 1):
        keys: set[int] = set()
        for kr, sample in _zone_keys(ibag, igen, inst[i][1], inst[i + 1][1]):
            if sample is not None:
                keys.update(kr)
        inst_keys[i] = keys
    presets = {}
    for k in range(len(phdr) - 1):
        name, program, bank, bag0 = phdr[k]
        keys = set()
        for kr, instrument in _zone_keys(pbag, pgen, bag0, phdr[k + 1][3]):
            if instrument is not None:
                keys.update(set(kr) & inst_keys.get(instrument, set()))
        label = name.split(b"\0")[0].decode("latin-1").strip()
        presets[(bank, program)] = Preset(bank, program, label, frozenset(keys))
    return presets


@lru_cache(maxsize=8)
def sample_digests(path: Path) -> frozenset[bytes]:
    """Digests of the sample data of every sample header of a SoundFont."""
    import hashlib

    shdr = _records(_pdta(path)[b"shdr"], 46, "<20sIIIIIBbHH")[:-1]
    with open(path, "rb") as f:
        data = f.read()
    at = data.find(b"smpl")
    if at < 0:
        return frozenset()
    smpl = memoryview(data)[at + 8: at + 8 + struct.unpack("<I", data[at + 4:at + 8])[0]]
    return frozenset(hashlib.blake2b(smpl[2 * r[1]:2 * r[2]], digest_size=16).digest()
                     for r in shdr if r[2] > r[1])
