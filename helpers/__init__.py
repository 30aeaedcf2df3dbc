"""The runnable PyTorch cheat sheet's helper package.

Each module of ``helpers`` holds the code one notebook taught, tidied
(``helpers.data`` after notebook 03, ``helpers.engine`` after notebook 06, ...):
the learner's library. The course runtime (presets, recorded figures, exercise
checks, folders) lives in ``helpers.course`` and the instructor tools (command
line, runner, report, doctor) in ``helpers.tools``; the library imports neither.

Importing ``helpers`` is cheap: it does not import torch, so ``python -m helpers
doctor`` can still report a broken torch installation.
"""

__version__ = "0.1.0"
