"""What the probe files share: one answer to one exercise, and the verdict a teacher would give it.

A probe file makes ``PROBES = ProbeCorpus()``, adds answers with ``PROBES.add(...)`` and runs each
through :func:`assert_teachers_verdict`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from helpers.course.checks import CheckResult


@dataclass
class Probe:
    """One answer to one exercise: the check, the exercise's data, the answer, and the verdict it deserves."""

    name: str
    check: Callable
    data: Callable[[], tuple]
    answer: Callable[..., object]
    right: bool
    hint_word: str = ""
    """For a wrong answer, a word its hint must contain (the hint names the mistake)."""


class ProbeCorpus(list[Probe]):
    """The probes of one file, in the order they were added."""

    def add(self, name: str, check: Callable, data: Callable[[], tuple], answer: Callable[..., object], right: bool,
            hint_word: str = "") -> None:
        self.append(Probe(name, check, data, answer, right, hint_word))

    def counts(self) -> tuple[int, int]:
        """Return (right answers, wrong answers)."""
        right = sum(entry.right for entry in self)
        return right, len(self) - right


def nothing() -> tuple:
    """The data of an exercise whose check needs none besides the answer."""
    return ()


def assert_teachers_verdict(entry: Probe) -> None:
    """Judge ``entry``'s answer: a right one must pass, a wrong one fail with a hint naming the mistake."""
    data = entry.data()
    result = entry.check.result(entry.answer(*data), *data)
    assert isinstance(result, CheckResult)
    if entry.right:
        assert result.passed, f"{entry.name}: a right answer was rejected with: {result.hint}"
    else:
        assert not result.passed, f"{entry.name}: a wrong answer was accepted"
        assert entry.hint_word.lower() in result.hint.lower(), f"{entry.name}: {result.hint!r} lacks {entry.hint_word!r}"
