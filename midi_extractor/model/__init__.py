"""The model and its contracts: front end (``features``), architectures (``transcriber``),
label encoding (``labels``), note decoding (``decoding``) and the checkpoint format
(``checkpoint``). Imports only the top-level modules."""
