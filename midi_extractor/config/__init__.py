"""One dataclass per ``params.yaml`` section, and a loader that reads it right.

* :mod:`.fields`: coercion by field type and the check every section runs when it is built
  (:class:`ConfigError` names the key);
* :mod:`.dataset`: ``dataset``;
* :mod:`.sections`: ``features``, ``model``, ``index`` (``drum_split``), ``decoding``, ``tracking``,
  and the defaults shared by several of them;
* :mod:`.training`: ``roles``, ``stems``, ``stem_songs``, ``pretrain``;
* :mod:`.params`: :class:`Params` (the whole file), :func:`load_params`, :func:`resolve_params`.

Import from here: ``from midi_extractor.config import Params, load_params``.
"""
from midi_extractor.config.fields import ConfigError, from_dict, replace
from midi_extractor.config.params import Params, load_params, resolve_params
from midi_extractor.config.dataset import DATASET_KINDS, SLAKH_KINDS, DatasetConfig, bass_octave_switch
from midi_extractor.config.sections import (AUTO, DEFAULT_FRAME_GRID, DEFAULT_ONSET_GRID, DEFAULT_SAMPLE_RATE_HZ,
                                            FRONT_END_KINDS, SILENCE_DB, DecodingConfig, DrumSplitConfig,
                                            FilterConfig, FrontEndConfig, IndexConfig, ModelConfig, TrackingConfig)
from midi_extractor.config.training import (LOSS_WEIGHT_KEYS, AugmentConfig, PretrainConfig, RoleConfig, StemConfig,
                                             StemSongsConfig)

__all__ = ["AUTO", "DATASET_KINDS", "DEFAULT_FRAME_GRID", "DEFAULT_ONSET_GRID", "DEFAULT_SAMPLE_RATE_HZ",
           "FRONT_END_KINDS", "LOSS_WEIGHT_KEYS", "SILENCE_DB", "SLAKH_KINDS", "AugmentConfig", "ConfigError", "DatasetConfig",
           "DecodingConfig", "DrumSplitConfig", "FilterConfig", "FrontEndConfig", "IndexConfig", "ModelConfig",
           "Params",
           "PretrainConfig", "RoleConfig", "StemConfig", "StemSongsConfig", "TrackingConfig", "bass_octave_switch",
           "from_dict", "load_params", "replace", "resolve_params"]
