"""The commands of `composer`, one module each; composer.cli gathers them into the click group.

Each command parses its options, calls the library and prints. Heavy modules (torch, music21,
matplotlib) are imported inside the command bodies, so `composer --help` starts fast.
"""
