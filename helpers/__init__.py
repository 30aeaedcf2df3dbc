"""The runnable PyTorch cheat sheet's helper package.

Each teaching module holds the code one notebook taught, tidied
(``helpers.data`` after notebook 03, ``helpers.engine`` after notebook 06, ...).
The course machinery (presets, recorded figures, the headless runner, the
doctor) lives in its own modules so the teaching modules stay short.

Importing ``helpers`` is cheap: it does not import torch, so ``python -m helpers
doctor`` can still report a broken torch installation.
"""

__version__ = "0.1.0"
