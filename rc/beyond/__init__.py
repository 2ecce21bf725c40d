"""Beyond the paper: questions the paper raises or points to, each answered by a
measurement, one module per question (``compute(pipe)``, ``draw...(result)``, tables).

* :mod:`rc.beyond.robustness` — how robust are the paper's numbers? ARI beside AMI, the
  spread over trainings and RC restarts, bootstrap intervals, and the optimism of picking
  the best search run by its test score.
* :mod:`rc.beyond.grey` — does binding survive grey levels?
* :mod:`rc.beyond.conv` — does a convolutional DAE bind better?
* :mod:`rc.beyond.rc_training` — does training the DAE through RC close the gap between
  multi-object and single-object training?
* :mod:`rc.beyond.choose_k` — can RC tell how many objects an image holds?
"""
