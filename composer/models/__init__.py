"""Neural network modules and their config dataclasses only: no I/O, no training, no sampling."""
