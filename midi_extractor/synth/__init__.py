"""The embedded generated data set, written in the Slakh layout: ``songs`` composes (with
``parts`` and ``drum_parts``), ``sources`` names the sound sources, ``fluid`` drives
FluidSynth, ``effects`` adds seeded effect chains, ``render`` renders a track's stems and mix,
and ``generate`` writes the whole set (the ``synth`` command and stage). Never imports
``dataset``, ``train``, ``infer`` or ``evaluate``."""
