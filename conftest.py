"""Settings for the whole test run.

Anything that asks for the preset without naming one (a test calling
``resolve_settings()``, a notebook kernel) gets ``smoke`` unless COURSE_PRESET
says otherwise. Checkpoints go to a fresh temporary folder, so a test run never
resumes a learner's training (or an earlier test run's).
"""

import os
import tempfile

os.environ.setdefault("COURSE_PRESET", "smoke")
os.environ.setdefault("COURSE_CHECKPOINT_DIR", tempfile.mkdtemp(prefix="course-checkpoints-"))
