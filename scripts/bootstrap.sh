#!/usr/bin/env bash
# Set up everything midi-extractor needs on a fresh machine, idempotently:
#   the FluidSynth system library, a Python >= 3.11 virtual environment in .venv,
#   torch + torchaudio, and the package with all its extras (all,test).
# Sourced by scripts/repro.sh and scripts/test.sh; safe to run again (fast when done).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '[setup] %s\n' "$*" >&2; }

# ---- FluidSynth and the SoundFonts (render the embedded generated data set) ---
# The sound-source pool (midi_extractor/synth/sources.py): file -> Debian package.
SF2_DIR=/usr/share/sounds/sf2
SOUNDFONTS="FluidR3_GM.sf2:fluid-soundfont-gm OPL-3_FM_128M.sf2:opl3-soundfont sf_GMbank.sf2:csound-soundfont
Black_Pearl_4_LV2.sf2:avldrums.lv2-soundfont Red_Zeppelin_4_LV2.sf2:avldrums.lv2-soundfont"
have_fluidsynth() {
  local py; py="$(command -v python3 || command -v python)" || return 1
  "$py" -c 'import ctypes.util, sys; sys.exit(ctypes.util.find_library("fluidsynth") is None)'
}
have_sf2() {  # a SoundFont file in $MIDI_EXTRACTOR_SF2_PATH or where the packages put it
  local d extra="${MIDI_EXTRACTOR_SF2_PATH:-}"
  for d in ${extra//:/ } "$SF2_DIR" /usr/share/soundfonts; do
    [ -f "$d/$1" ] && return 0
  done
  return 1
}
MISSING_PKGS=""
have_fluidsynth || MISSING_PKGS="libfluidsynth3"
MISSING_SF2=""
for entry in $SOUNDFONTS; do
  if ! have_sf2 "${entry%%:*}"; then
    MISSING_SF2="$MISSING_SF2 ${entry%%:*}"
    case " $MISSING_PKGS " in *" ${entry#*:} "*) ;; *) MISSING_PKGS="$MISSING_PKGS ${entry#*:}";; esac
  fi
done
# The sampled drum kits of the training pool (midi_extractor/synth/sources.py, H2_*): one folder each
KIT_DIR=/usr/share/hydrogen/data/drumkits
have_kits() {
  local d extra="${MIDI_EXTRACTOR_SF2_PATH:-}"
  for d in ${extra//:/ } "$KIT_DIR" "$HOME/.hydrogen/data/drumkits"; do
    [ -f "$d/ForzeeStereo/drumkit.xml" ] && return 0
  done
  return 1
}
if ! have_kits; then
  MISSING_SF2="$MISSING_SF2 hydrogen-kits"
  MISSING_PKGS="$MISSING_PKGS hydrogen-drumkits"
fi
# The GUS patches of the calibration tracks (FreePats: a TiMidity configuration and its .pat files;
# a removed, unpurged package leaves the configuration behind, so a patch is looked for too)
have_patches() {
  local d extra="${MIDI_EXTRACTOR_SF2_PATH:-}"
  for d in ${extra//:/ } /etc/timidity /usr/share/midi/freepats; do
    [ -f "$d/freepats.cfg" ] || continue
    grep -q '^dir ' "$d/freepats.cfg" && d="$(sed -n 's/^dir  *//p' "$d/freepats.cfg" | head -1)"
    [ -f "$d/Tone_000/000_Acoustic_Grand_Piano.pat" ] && return 0
  done
  return 1
}
if ! have_patches; then
  MISSING_SF2="$MISSING_SF2 freepats.cfg"
  MISSING_PKGS="$MISSING_PKGS freepats"
fi
MISSING_PKGS="${MISSING_PKGS# }"
if [ -n "$MISSING_PKGS" ]; then
  if [ "$(uname)" = "Darwin" ] && command -v brew >/dev/null; then
    if ! have_fluidsynth; then say "installing FluidSynth with Homebrew"; brew install fluid-synth; fi
    if [ -n "$MISSING_SF2" ]; then
      say "SoundFonts of the generated data set not found:$MISSING_SF2"
      say "(Debian packages: ${MISSING_PKGS#libfluidsynth3 }). Copy them from a Debian/Ubuntu machine"
      say "($SF2_DIR) into a folder and export MIDI_EXTRACTOR_SF2_PATH=<folder>, or list only the sources"
      say "you have in params.yaml dataset.sound_sources / ood_sources."
    fi
  elif command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
    say "installing $MISSING_PKGS with apt-get"
    # shellcheck disable=SC2086
    if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $MISSING_PKGS; } >&2; then
      say "could not install $MISSING_PKGS. Install them yourself, then run this again:"
      say "  sudo apt-get update && sudo apt-get install -y $MISSING_PKGS   (Debian/Ubuntu)"
      exit 1
    fi
  elif ! have_fluidsynth; then
    say "FluidSynth's library is missing and no package manager I know is here. Install it"
    say "(Debian/Ubuntu: apt-get install libfluidsynth3; macOS: brew install fluid-synth;"
    say " Fedora: dnf install fluidsynth-libs), then run this again."
    exit 1
  else
    say "SoundFonts of the generated data set not found:$MISSING_SF2 (Debian packages: $MISSING_PKGS);"
    say "put them in a folder and export MIDI_EXTRACTOR_SF2_PATH=<folder>."
  fi
fi

# ---- Python virtual environment ---------------------------------------------
PY=""
for cand in python3.11 python3.12 python3.13 python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PY="$cand"; break
  fi
done
[ -n "$PY" ] || { say "Python >= 3.11 is required (python3.11 not found)"; exit 1; }
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PY"; "$PY" -m venv .venv
fi
VPY="$ROOT/.venv/bin/python"

# torchaudio's last release (2.11) needs a CUDA build of torch on Linux; torch 2.14.1 carries one
# (and runs on CPU). The CPU-only 2.13 wheel cannot load torchaudio.
if ! "$VPY" -c 'import torch, torchaudio' 2>/dev/null; then
  say "installing torch and torchaudio (about a minute from local wheels, longer from PyPI)"
  if [ "$(uname)" = "Linux" ] && [ "$(uname -m)" = "x86_64" ]; then
    "$VPY" -m pip install -q torch==2.14.1 'torchaudio==2.11.*' >&2
  else
    "$VPY" -m pip install -q torch torchaudio >&2
  fi
fi

STAMP=.venv/.midi-extractor-installed
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  say "installing midi-extractor and its dependencies into .venv"
  "$VPY" -m pip install -q -e '.[all,test]' >&2   # core + train, track, synth, onnx extras
  touch "$STAMP"
fi
"$VPY" -c 'import fluidsynth' 2>/dev/null || { say "pyfluidsynth cannot load the FluidSynth library"; exit 1; }
export PATH="$ROOT/.venv/bin:$PATH"
