"""The environment files agree, and torch is pinned exactly (FACTS.md: otherwise pip pulls a CUDA build)."""

from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("- ").strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_requirements_and_environment_yml_have_the_same_pins():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = _pins((ROOT / "environment.yml").read_text().splitlines())
    assert req == env


def test_torch_is_pinned_exactly_everywhere_and_installed():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    assert req["torch"] == constraints["torch"] == "2.13.0"
    assert torch.__version__.split("+")[0] == "2.13.0"


def test_every_requirement_is_pinned_in_constraints():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    for name, version in req.items():
        assert constraints.get(name) == version, name
