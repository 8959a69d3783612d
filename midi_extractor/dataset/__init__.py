"""The data set: reading Slakh-format folders (``slakh``), the per-stem index (``indexing``)
with its drums/high_percs audio split (``drum_split``), the filter (``filtering``), and the
embedded generated set (``songs`` composes, ``synth`` renders). Never imports ``train``,
``infer`` or ``evaluate``."""
