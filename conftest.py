"""Settings for the whole test run, nbval's notebook collection included.

Notebooks run in the smoke preset unless COURSE_PRESET says otherwise: nbval
cannot inject parameters, so the preset comes from the environment.
"""

import os

os.environ.setdefault("COURSE_PRESET", "smoke")
