"""Settings for the whole test run, nbval's notebook collection included.

Notebooks run in the smoke preset unless COURSE_PRESET says otherwise: nbval
cannot inject parameters, so the preset comes from the environment. Checkpoints
go to a fresh temporary folder, so a test run never resumes a learner's training
(or an earlier test run's).
"""

import os
import tempfile

os.environ.setdefault("COURSE_PRESET", "smoke")
os.environ.setdefault("COURSE_CHECKPOINT_DIR", tempfile.mkdtemp(prefix="course-checkpoints-"))
