"""Beyond the paper: questions the paper raises or points to, each answered by a
measurement, one module per question (``compute(pipe)``, ``draw...(result)``, tables).

* :mod:`rc.beyond.robustness` — how robust are the paper's numbers? ARI beside AMI, the
  spread over trainings and RC restarts, bootstrap intervals, and the optimism of picking
  the best search run by its test score.
"""
