"""How good a model or its music is: nothing here trains or samples, and nothing below imports it.

- ``likelihood``: per-event NLL and accuracy of an LSTM checkpoint on a corpus split (`composer evaluate
  --model lstm`), beside the count-based baselines of ``baselines``;
- ``metrics``: objective music metrics, f(score) -> float (MuseGAN paper, muspy);
- ``chorale``: what a musician checks in a four-part chorale, pooled over pieces;
- ``compare``: samples against a reference corpus (`composer evaluate FILE.mid... --reference`).

The submodules are imported by name (``from composer.evaluate.compare import evaluate_scores``), so
that the torch-free metrics do not pull in torch through ``likelihood``.
"""
