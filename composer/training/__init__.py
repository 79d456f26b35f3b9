"""Training loops (one module per model) and the helpers they share (loop.py)."""
