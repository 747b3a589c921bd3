"""Answer keys for the notebooks' coding exercises, one module per notebook; the tests run each
through its checker.

``reference`` holds plain from-scratch optimizers and ``LambdaLR`` factor functions written the way a
learner is expected to write them (the checkers' own tests, ``tests/test_checkers.py``, run them);
``nbNN`` holds the answers to notebook NN's coding exercises.
"""
