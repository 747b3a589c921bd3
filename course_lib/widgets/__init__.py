"""The ipywidgets explorers of the course, one submodule per notebook topic.

Each explorer is a thin shell around a pure ``compute_*`` function (unit-tested directly). An explorer
returns an ``ipywidgets`` box whose ``result`` attribute holds the latest computed result, so a notebook
test cell can move a slider (``w.children[i].value = ...``) and assert on ``w.result``. Explorers never
raise: a diverging setting is reported as text ("diverged at step k").
"""
