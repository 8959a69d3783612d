"""The test suite, one folder per subpackage of midi_extractor (dataset, synth, model, train, infer,
evaluate); tests of top-level modules and of the pipeline, DVC, CLI and install sit here. Each
folder is a package so that test files of the same name in two folders do not collide; shared
helpers are the ``helpers_*`` modules, imported as plain modules (conftest.py puts this folder on
``sys.path``), and shared fixtures are in conftest.py."""
