"""The sound-source pool of the generated data set: which SoundFonts render which stems.

A :class:`SoundSource` is one SoundFont file (or, ``engine="hydrogen"``, one sampled drum kit
folder of Debian's ``hydrogen-drumkits``, played by :mod:`midi_extractor.synth.kits`; or,
``engine="gus"``, a TiMidity configuration of GUS patches, Debian's ``freepats``, played by
:mod:`midi_extractor.synth.patches`), the Debian package that installs it,
its licence, and what it can render: General MIDI melodic programs (bank 0, plus
GS/XG variation banks where the file has them) and/or drum kits. GM SoundFonts
hold their kits in bank 128; the AVL drum kits hold a single kit in bank 0
preset 0 (:attr:`SoundSource.drum_bank`), and map some keys off the GM drum
map (:attr:`SoundSource.drum_keys` lists the keys whose sound matches their GM
class; :func:`remap_drum_notes` moves the others to a key of the same class).

Source names (``params.yaml`` ``dataset.sound_sources`` / ``dataset.ood_sources``):
see :data:`SOURCES`. A SoundFont file is looked for in ``$MIDI_EXTRACTOR_SF2_PATH``
(folders separated by ``:``), then in the places the packages install it.

What a preset of a file holds is read from the file itself
(:func:`midi_extractor.synth.sf2_file.read_presets`), so a program the file lacks and a key no
zone covers are known before rendering.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pretty_midi

from midi_extractor import taxonomy as tx
from midi_extractor.synth import sf2_file
from midi_extractor.synth.sf2_file import Preset

SYSTEM_SF2_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts"),
                   Path("/usr/local/share/soundfonts"), Path("/opt/homebrew/share/soundfonts"))
#: where Hydrogen drum kit folders are installed (``hydrogen-drumkits``; a user's own kits)
SYSTEM_KIT_DIRS = (Path("/usr/share/hydrogen/data/drumkits"), Path.home() / ".hydrogen" / "data" / "drumkits")
#: where TiMidity configurations of GUS patch sets are installed (``freepats``)
SYSTEM_PATCH_DIRS = (Path("/etc/timidity"), Path("/usr/share/midi/freepats"))
ENV_PATH = "MIDI_EXTRACTOR_SF2_PATH"
#: the params lists that name sources (a missing source's message points at them)
SOURCE_LISTS = "dataset.sound_sources, ood_sources, kit_sources, calibration_sources or timbre_sources"
#: engines whose sounds are drawn, not read from a file
PROCEDURAL_ENGINES = frozenset({"additive", "subbass", "drumsynth"})
#: GS kit numbers worth rendering (56 is GS's sound-effects kit, 127 the CM-64 map)
GS_KIT_MAX = 55
#: GS/XG variation banks considered for melodic programs (bank 0 is the GM capital)
VARIATION_BANKS = range(1, 64)


class SourceError(RuntimeError):
    """A sound source that cannot be used (unknown name, missing or unreadable file)."""


@dataclass(frozen=True)
class SoundSource:
    """One SoundFont of the pool.

    ``drum_bank``/``drum_programs``: where its drum kits are (None: bank 128, every
    kit number the file has up to :data:`GS_KIT_MAX`). ``drum_keys``: GM drum keys
    that sound as their GM class (None: every key a zone covers)."""

    name: str
    file: str
    package: str | None          # Debian package that installs the file (None: user-supplied)
    licence: str
    melodic: bool = True
    drums: bool = True
    drum_bank: int | None = None
    drum_programs: tuple[int, ...] | None = None
    drum_keys: frozenset[int] | None = None
    bundled: Path | None = None  # a copy shipped inside a Python package (looked at first)
    path_override: Path | None = field(default=None, compare=False)
    engine: str = "sf2"          # sf2 (FluidSynth) | hydrogen (a kit folder, synth/kits.py) |
                                 # gus (a TiMidity .cfg of .pat files, synth/patches.py) |
                                 # additive (procedural timbres, synth/additive.py; no file) |
                                 # drumsynth (procedural kits, synth/drum_synth.py; no file)

    def can_render(self, is_drum: bool) -> bool:
        return self.drums if is_drum else self.melodic

    def locate(self) -> Path | None:
        """The SoundFont file (a hydrogen kit's folder) on this machine, ``None`` for a source
        with no file (``additive``, ``drumsynth``); :class:`SourceError` naming the package otherwise."""
        if self.engine == "hydrogen":
            return self._locate_kit()
        if self.engine in PROCEDURAL_ENGINES:
            return None   # nothing to find: the timbres are drawn, not read
        dirs = SYSTEM_PATCH_DIRS if self.engine == "gus" else SYSTEM_SF2_DIRS
        if self.path_override is not None:
            if not self.path_override.is_file():
                raise SourceError(f"SoundFont not found: {self.path_override}")
            return self.path_override
        candidates = [self.bundled] if self.bundled else []
        candidates += [Path(d) / self.file for d in os.environ.get(ENV_PATH, "").split(":") if d]
        candidates += [d / self.file for d in dirs]
        for path in candidates:
            if path.is_file():
                return path
        hint = (f"install the Debian package {self.package} (apt-get install -y {self.package}), "
                if self.package else "")
        what = "patch set" if self.engine == "gus" else "SoundFont"
        raise SourceError(f"sound source {self.name}: {what} {self.file} not found (looked in "
                          f"{', '.join(str(c.parent) for c in candidates)}); {hint}point ${ENV_PATH} at the "
                          f"folder holding it, or remove {self.name} from {SOURCE_LISTS}")


    def _locate_kit(self) -> Path:
        dirs = [Path(d) for d in os.environ.get(ENV_PATH, "").split(":") if d] + list(SYSTEM_KIT_DIRS)
        for d in dirs:
            if (d / self.file / "drumkit.xml").is_file():
                return d / self.file
        raise SourceError(f"sound source {self.name}: drum kit {self.file!r} not found (looked in "
                          f"{', '.join(map(str, dirs))}); install the Debian package {self.package} "
                          f"(apt-get install -y {self.package}), point ${ENV_PATH} at the folder holding "
                          f"the kit, or remove {self.name} from {SOURCE_LISTS}")


def _hydrogen(name: str, folder: str) -> SoundSource:
    return SoundSource(f"H2_{name}", folder, "hydrogen-drumkits", "GPL/CC (hydrogen-drumkits; see the kit's drumkit.xml)",
                       melodic=False, engine="hydrogen")


# AVL kits: keys whose samples match the GM class (their 48/50/58/60/61 are hat swish,
# cymbal chokes and a china, not toms or bongos; no 35, no Latin percussion but cowbell).
_AVL_KEYS = frozenset({36, 37, 38, 39, 40, 41, 43, 45, 47, 42, 44, 46, 49, 51, 52, 53, 55, 57, 59, 54, 56})

SOURCES: dict[str, SoundSource] = {s.name: s for s in (
    SoundSource("TimGM6mb", "TimGM6mb.sf2", "timgm6mb-soundfont", "GPL-2 (Tim Brechbill)",
                bundled=Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"),
    SoundSource("FluidR3_GM", "FluidR3_GM.sf2", "fluid-soundfont-gm", "MIT (Frank Wen)"),
    SoundSource("OPL3_FM", "OPL-3_FM_128M.sf2", "opl3-soundfont", "CC-BY-SA-4.0 (Zandro Reveille)"),
    SoundSource("csound_GMbank", "sf_GMbank.sf2", "csound-soundfont", "public domain (csound)"),
    SoundSource("AVL_BlackPearl", "Black_Pearl_4_LV2.sf2", "avldrums.lv2-soundfont",
                "CC-BY-SA-3.0 (Glen MacArthur)", melodic=False, drum_bank=0, drum_programs=(0,),
                drum_keys=_AVL_KEYS),
    SoundSource("AVL_RedZeppelin", "Red_Zeppelin_4_LV2.sf2", "avldrums.lv2-soundfont",
                "CC-BY-SA-3.0 (Glen MacArthur)", melodic=False, drum_bank=0, drum_programs=(0,),
                drum_keys=_AVL_KEYS),
    # sampled kits of hydrogen-drumkits with a kick, a snare and hats (The Black Pearl 1.0 is
    # AVL_BlackPearl's kit; circAfrique names no GM instrument), and Gimme A Hand: hand percussion
    # with no kit (claps, a maraca, a tambourine, bongos, a cowbell)
    _hydrogen("BJA_Pacific", "BJA_Pacific"), _hydrogen("Colombo", "ColomboAcousticDrumkit"),
    _hydrogen("Forzee", "ForzeeStereo"), _hydrogen("Millo1", "Millo-Drums_v.1"),
    _hydrogen("Millo2", "Millo_MultiLayered2"), _hydrogen("Millo3", "Millo_MultiLayered3"),
    _hydrogen("Rumpf", "rumpf_kit_z01_h2"), _hydrogen("VariBreaks", "VariBreaks"),
    _hydrogen("Audiophob", "Audiophob"), _hydrogen("ElectricEmpire", "ElectricEmpireKit"),
    _hydrogen("HardElectro", "HardElectro1"), _hydrogen("GimmeAHand", "Gimme A Hand 1.0"),
    # GUS patches of FreePats (72 GM programs: sampled pianos, strings, brass, a few synths; a kit
    # with hats, cymbals and shakers)
    SoundSource("FreePats", "freepats.cfg", "freepats", "GPL-2+ with a patch exception (FreePats)",
                engine="gus"),
    # procedural timbres (synth/additive.py): no file, a new instrument drawn for every part
    SoundSource("Additive", "", None, "procedural (midi-extractor)", drums=False, engine="additive"),
    # a sub bass for every part (synth/additive.draw_sub_bass): nearly a sine, the pitch in one partial
    SoundSource("SubBass", "", None, "procedural (midi-extractor)", drums=False, engine="subbass"),
    # procedural kits (synth/drum_synth.py): no file, a new kit drawn for every drum part
    SoundSource("SynthKit", "", None, "procedural (midi-extractor)", melodic=False, engine="drumsynth"),
)}
#: training pool and held-out sources; csound_GMbank shares most of its samples with TimGM6mb
#: (:func:`shared_samples`), so the two stay on one side, and FluidR3_GM is held out
DEFAULT_POOL = ("TimGM6mb", "csound_GMbank", "OPL3_FM", "AVL_BlackPearl")
DEFAULT_OOD = ("FluidR3_GM", "AVL_RedZeppelin")
DEBIAN_PACKAGES = tuple(sorted({s.package for s in SOURCES.values() if s.package}))


def custom_source(path: str | Path) -> SoundSource:
    """A user-supplied GM SoundFont (``--sf2``/``dataset.sf2``), named after its file."""
    path = Path(path)
    return SoundSource(path.name, path.name, None, "user-supplied", path_override=path)


def resolve(names, what: str = "dataset.sound_sources") -> list[SoundSource]:
    """Source names -> :class:`SoundSource` (in the given order); unknown names are an error naming them."""
    names = [names] if isinstance(names, str) else list(names or [])
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise SourceError(f"{what}: unknown sound source(s) {', '.join(map(str, unknown))}; "
                          f"known: {', '.join(SOURCES)}")
    return [SOURCES[n] for n in dict.fromkeys(names)]


# ---------------------------------------------------------------- choosing
def drum_presets(source: SoundSource, presets: dict[tuple[int, int], Preset]) -> list[tuple[int, int]]:
    """(bank, program) of the drum kits of ``source`` present in its file."""
    if source.drum_bank is not None:
        wanted = [(source.drum_bank, p) for p in (source.drum_programs or (0,))]
    else:
        wanted = sorted(k for k in presets if k[0] == 128 and k[1] <= GS_KIT_MAX)
    return [k for k in wanted if k in presets]


def melodic_banks(program: int, presets: dict[tuple[int, int], Preset]) -> list[int]:
    """Banks holding ``program``: 0 first, then GS/XG variation banks of the file."""
    return [b for b in (0, *VARIATION_BANKS) if (b, program) in presets]


def drum_keys_of(source: SoundSource, preset: Preset) -> frozenset[int]:
    keys = preset.keys
    return keys & source.drum_keys if source.drum_keys is not None else keys


def remap_drum_notes(notes: list[tuple], keys: frozenset[int]) -> tuple[list[tuple], int]:
    """Move each drum note whose key the kit lacks to the nearest key of the same GM
    drum class the kit has; drop it when the kit has none. Returns (notes, dropped)."""
    out, dropped = [], 0
    for s, e, p, v in notes:
        if p not in keys:
            same = [k for k in tx.DRUM_CLASSES.get(tx.drum_class(p), ()) if k in keys]
            if not same:
                dropped += 1
                continue
            p = min(same, key=lambda k: (abs(k - p), k))
        out.append((s, e, p, v))
    return sorted(set(out)), dropped


def plugin_name(source: SoundSource, bank: int, program: int) -> str:
    """What metadata.yaml records per stem, e.g. ``FluidR3_GM:bank0:prog33``."""
    return f"{source.name}:bank{bank}:prog{program}"


def shared_samples(a: SoundSource, b: SoundSource) -> int:
    """How many of ``a``'s samples occur byte for byte in ``b`` (a held-out source should share none)."""
    return len(sf2_file.sample_digests(a.locate()) & sf2_file.sample_digests(b.locate()))
