"""scripts/claims.py: the condition matrix, the failure line it prints, and its table."""

import pytest


@pytest.fixture(scope="module")
def claims(load_script):
    return load_script("scripts/claims.py")


ERROR = """cell 53 (In [31]) raised AssertionError: Adagrad's seeds spread the most
  source:
    assert max(stds, key=stds.get) == "Adagrad", "Adagrad's seeds spread the most"
  traceback:
---------------------------------------------------------------------------
AssertionError                            Traceback (most recent call last)
Cell In[31], line 19
     18 stds = {n: cs.std(n, "test_acc") for n in names}
---> 19 assert max(stds, key=stds.get) == "Adagrad", "Adagrad's seeds spread the most"
"""


def test_failing_line_names_the_cell_the_exception_and_the_statement(claims):
    line = claims.failing_line(ERROR)
    assert line.startswith("cell 53: AssertionError: Adagrad's seeds spread the most")
    assert line.endswith(
        '[assert max(stds, key=stds.get) == "Adagrad", "Adagrad\'s seeds spread the most"]'
    )


def test_failing_line_of_an_assert_without_message_still_shows_the_statement(claims):
    error = "cell 4 (In [2]) raised AssertionError: \n---> 7 assert x < 0.05\n"
    assert claims.failing_line(error) == "cell 4: AssertionError [assert x < 0.05]"
    assert claims.failing_line("NotebookTimeout: ran longer than 1800 s") == (
        "NotebookTimeout: ran longer than 1800 s"
    )


def test_the_portable_condition_sets_the_three_variables_facts_md_names(claims):
    assert claims.KERNELS["native"] == {}
    assert claims.KERNELS["portable"] == {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_CBWR": "COMPATIBLE",
    }
    kernels = {k for k, _ in claims.CI_CONDITIONS}
    seeds = {s for _, s in claims.CI_CONDITIONS}
    assert "portable" in kernels and seeds - {0}, "CI covers other kernels and another seed"


def test_table_has_a_row_per_notebook_and_a_column_per_condition(claims):
    ok = claims.runner.Result("a.ipynb", True, 1.0, "out")
    bad = claims.runner.Result("a.ipynb", False, 1.0, "out", ERROR)
    text = claims.table(
        {"a.ipynb": {"native-seed1": ok, "portable-seed0": bad}}, ["native-seed1", "portable-seed0"]
    )
    lines = text.splitlines()
    assert lines[0] == "| notebook | native-seed1 | portable-seed0 |"
    assert lines[2].startswith("| a.ipynb | pass | FAIL cell 53: AssertionError")
    assert claims.condition_name("portable", 2) == "portable-seed2"
