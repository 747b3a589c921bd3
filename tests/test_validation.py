"""The shared validation helpers: every message names the argument, the value and the valid range."""

import math

import pytest
import torch

from course_lib._validation import (
    check_bool,
    check_callable,
    check_choice,
    check_increasing_ints,
    check_int,
    check_name,
    check_number,
    check_pair,
    describe_range,
)


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (
            lambda: check_number("lr", -0.1, low=0.0),
            ValueError,
            "lr must be a finite number >= 0, got -0.1",
        ),
        (
            lambda: check_number("lr", math.nan, low=0.0),
            ValueError,
            "lr must be a finite number >= 0, got nan",
        ),
        (lambda: check_number("eps", math.inf), ValueError, "eps must be a finite number, got inf"),
        (
            lambda: check_number("lr", "0.1", low=0.0),
            TypeError,
            "lr must be a finite number >= 0, got '0.1' of type str",
        ),
        (
            lambda: check_number("lr", True),
            TypeError,
            "lr must be a finite number, got True of type bool",
        ),
        (
            lambda: check_number("momentum", 1.0, low=0.0, high=1.0, high_inclusive=False),
            ValueError,
            "momentum must be a finite number in [0, 1), got 1.0",
        ),
        (
            lambda: check_number(
                "pct_start", 0.0, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
            ),
            ValueError,
            "pct_start must be a finite number in (0, 1), got 0.0",
        ),
        (lambda: check_int("T_0", 0, low=1), ValueError, "T_0 must be an integer >= 1, got 0"),
        (
            lambda: check_int("T_0", 2.0, low=1),
            TypeError,
            "T_0 must be an integer >= 1, got 2.0 of type float",
        ),
        (
            lambda: check_bool("nesterov", 1),
            TypeError,
            "nesterov must be True or False, got 1 of type int",
        ),
        (
            lambda: check_choice("mode", "mn", ("min", "max")),
            ValueError,
            "mode must be one of 'min', 'max', got 'mn'",
        ),
        (
            lambda: check_pair("betas", (0.9, 1.0), low=0.0, high=1.0, high_inclusive=False),
            ValueError,
            r"betas\[1\] must be a finite number in [0, 1), got 1.0",
        ),
        (
            lambda: check_pair("betas", 0.9),
            TypeError,
            "betas must be a tuple of two numbers, got 0.9",
        ),
    ],
)
def test_bad_values_raise_with_name_value_and_range(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message.replace("\\", "")


def test_good_values_are_returned_unchanged():
    assert check_number("lr", 0.0, low=0.0) == 0.0
    t = torch.tensor(0.5)
    assert check_number("lr", t, low=0.0) is t
    assert check_int("n", 3, low=1) == 3
    assert check_pair("betas", [0.9, 0.99], low=0.0, high=1.0) == (0.9, 0.99)
    assert check_choice("mode", "min", ("min", "max")) == "min"


def test_describe_range_forms():
    assert describe_range() == ""
    assert describe_range(0.0) == ">= 0"
    assert describe_range(None, 1.0, high_inclusive=False) == "< 1"
    assert describe_range(1e-8, 1.0, low_inclusive=False) == "in (1e-08, 1]"


def test_check_name_finds_any_case_and_lists_the_keys_otherwise():
    choices = {"AdamW": 1, "SGD": 2}
    assert check_name("name", "adamw", choices) == 1
    assert check_name("name", "SGD", choices) == 2
    for bad in ("Adam", None, 3):
        with pytest.raises(ValueError) as info:
            check_name("name", bad, choices)
        assert str(info.value) == f"name must be one of 'AdamW', 'SGD' (any case), got {bad!r}"


def test_check_increasing_ints_names_the_element():
    assert check_increasing_ints("milestones", [1, 3, 7]) == (1, 3, 7)
    assert check_increasing_ints("milestones", range(2, 5), low=2) == (2, 3, 4)
    with pytest.raises(ValueError, match=r"^milestones\[0\] must be an integer >= 1, got 0$"):
        check_increasing_ints("milestones", [0, 2], low=1)
    with pytest.raises(ValueError, match=r"\(milestones\[2\]=3 after 5\)$"):
        check_increasing_ints("milestones", [1, 5, 3])
    with pytest.raises(TypeError, match=r"^milestones\[1\] must be an integer"):
        check_increasing_ints("milestones", [1, 2.5])
    for not_a_list in ("12", 5):
        with pytest.raises(TypeError, match=r"^milestones must be a list of integers >= 0"):
            check_increasing_ints("milestones", not_a_list)


def test_check_callable_says_what_was_expected():
    check_callable("schedule", abs, "a schedule")
    with pytest.raises(TypeError, match=r"^schedule must be callable \(a schedule\), got 0\.1$"):
        check_callable("schedule", 0.1, "a schedule")
    with pytest.raises(TypeError, match=r"^fn must be callable, got None$"):
        check_callable("fn", None)
