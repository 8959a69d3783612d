"""What a file's name says, for the transcription API (:mod:`midi_extractor.infer.api`): the stem
of ``bass.wav`` / ``Track1_drums.flac`` / ``keys.mp3`` / ``Song - Bass.wav``, the General MIDI program (0-127) of the
track written for a stem or instrument name, and the ``{stem: file}`` of a folder of separated
stems. Names resolve through ``taxonomy.resolve_stem_name`` (stem names, aliases, GM names)."""
from __future__ import annotations

import re
from pathlib import Path

from midi_extractor import taxonomy as tx


def stem_from_filename(path: str | Path, switches: tx.TaxonomySwitches = tx.DEFAULT_SWITCHES) -> str:
    """The stem a file's name says (``bass.wav``, ``Track1_drums.flac``, ``keys.mp3``,
    ``bass_2.wav``, separators' ``Song - Bass.wav`` / ``1_Song_(Drums).wav``; numbers in a
    name are never read as GM programs): the whole name, else its words from the last, each
    pair of words (``hi hat``, ``bass guitar``) before the last word of it.
    Raises ``KeyError`` when the name says none, or names the mix without a stem
    (Demucs' ``no_vocals.wav``, ``no_bass.wav``)."""
    name = Path(path).stem
    words = [w for w in re.split(r"[\W_]+", name) if w]
    candidates = [(name, -1)]
    for at in range(len(words) - 1, -1, -1) if len(words) > 1 else ():
        candidates += [(f"{words[at - 1]} {words[at]}", at - 1)] if at else []
        candidates.append((words[at], at))
    for candidate, at in candidates:
        if candidate.strip().isdigit():  # "bass_2.wav": a take number, not GM program 2
            continue
        try:
            stem = tx.resolve_stem_name(candidate, switches)
        except KeyError:
            continue
        if at > 0 and words[at - 1].lower() == "no":  # demucs --two-stems: no_drums.wav is the rest of the mix
            said = candidate.lower()
            raise KeyError(f"{path}: holds everything but the {said} (a separator's "
                           f"no_{said.replace(' ', '_')} file, a mix of the other stems), not a {stem} stem; "
                           f"pass --stem to transcribe it anyway")
        return stem
    raise KeyError(f"{path}: cannot tell the stem from the file name; name it like bass.wav or pass --stem")


def track_program(name: str | int, stem: str) -> int:
    """GM program of the output track: the program named (number or GM name) if any, else the stem's default."""
    if isinstance(name, int) or (isinstance(name, str) and name.strip().isdigit()):
        return int(name)
    import pretty_midi

    key = " ".join(str(name).strip().lower().split())
    for program, gm in enumerate(pretty_midi.constants.INSTRUMENT_MAP):
        if gm.lower() == key:
            return program
    return tx.default_program(stem)


def stem_files(folder: str | Path,
               switches: tx.TaxonomySwitches = tx.DEFAULT_SWITCHES) -> tuple[dict[str, Path], list[str]]:
    """``{stem: file}`` of a folder of separated stems, in taxonomy order, and
    a message for each audio file whose name names no stem (or a second file of a stem)."""
    from midi_extractor.audio import AUDIO_EXTENSIONS

    found: dict[str, Path] = {}
    problems: list[str] = []
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file() or path.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        try:
            stem = stem_from_filename(path, switches)
        except KeyError as exc:
            problems.append(str(exc.args[0]))
            continue
        if stem in found:
            problems.append(f"{path}: skipped, {found[stem].name} already holds stem {stem!r}")
            continue
        found[stem] = path
    order = {s: i for i, s in enumerate(tx.STEM_NAMES)}
    return dict(sorted(found.items(), key=lambda kv: order[kv[0]])), problems
