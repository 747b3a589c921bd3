"""The two tests every self-check module gets: its reference solutions pass, and no answer crashes it.

A test file builds them from its own solutions and the junk answers that matter for its checks:

    test_check_accepts_the_reference_solution, test_check_rejects_none_and_junk = answer_tests(
        SOLUTIONS, junk=("abc", True, float("nan"))
    )
"""

import pytest


def answer_tests(solutions: dict, junk: tuple):
    """Two parametrized tests over the checks in ``solutions`` (check -> reference answer)."""
    checks = pytest.mark.parametrize("check", list(solutions), ids=lambda f: f.__name__)

    @checks
    def accepts_the_reference_solution(check, capsys):
        assert check(solutions[check]) is True
        assert "Correct" in capsys.readouterr().out

    @checks
    def asks_for_an_answer_when_given_none_and_never_raises_on_junk(check, capsys):
        assert check(None) is False
        assert "Fill in your answer" in capsys.readouterr().out
        for answer in junk:
            assert check(answer) is False
        assert "Answer with" in capsys.readouterr().out

    return (
        accepts_the_reference_solution,
        asks_for_an_answer_when_given_none_and_never_raises_on_junk,
    )


def rejects_with_hint(check, wrong, hint: str, capsys) -> str:
    """Assert that ``check(wrong)`` returns False, prints ``hint`` and no praise; return the output."""
    assert check(wrong) is False
    out = capsys.readouterr().out
    assert hint in out
    assert "Correct" not in out
    return out
