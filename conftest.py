"""Settings for the whole test run.

Anything that asks for the preset without naming one (a test calling
``resolve_settings()``, a notebook kernel) gets ``smoke`` unless COURSE_PRESET
says otherwise. Checkpoints go to a fresh temporary folder, so a test run never
resumes a learner's training (or an earlier test run's). And each test starts
with torch's compiler caches empty: torch 2.7's strict ``torch.export`` compiles
through dynamo, which gives up on a function (``nn.Sequential.forward``, shared by
every Sequential model) after 8 recompilations in one process.
"""

import os
import sys
import tempfile

import pytest

os.environ.setdefault("COURSE_PRESET", "smoke")
os.environ.setdefault("COURSE_CHECKPOINT_DIR", tempfile.mkdtemp(prefix="course-checkpoints-"))


@pytest.fixture(autouse=True)
def fresh_compiler_caches():
    """Empty dynamo's caches after each test that used them (never importing torch for the others)."""
    yield
    dynamo = sys.modules.get("torch._dynamo")
    if dynamo is not None:
        dynamo.reset()
