"""``python -m midi_extractor ...`` runs the command line."""
import sys

from midi_extractor.cli import main

sys.exit(main())
