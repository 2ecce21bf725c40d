"""The locked environment: constraints.txt, environment.yml and what is installed agree."""
import re
import sys
from importlib import metadata
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_every_dependency_is_locked_to_one_version():
    pins = lock()
    assert len(pins) > 50 and all(re.fullmatch(r"[0-9][\w.+!]*", v) for v in pins.values())
    text = (REPO / "pyproject.toml").read_text()
    names = re.findall(r'^\s*"([A-Za-z0-9_.-]+)[<>=!~]', text, re.M)
    for name in names:
        if name != "rc":
            assert name.lower() in pins, f"{name} (pyproject.toml) is not in constraints.txt"


def test_environment_yml_holds_the_same_pins():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = dict(line.lower().split("==") for line in pip_section if "==" in line)
    assert pins == lock()
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    locked_python = re.search(r"for Python (\d+\.\d+)", (REPO / "constraints.txt").read_text())
    assert python == f"python={locked_python.group(1)}"


def test_the_installed_packages_are_the_locked_ones():
    """make test installs from the lock: what runs these tests is what is locked."""
    pins = lock()
    python = re.search(r"for Python (\d+\.\d+)", (REPO / "constraints.txt").read_text())
    assert "{}.{}".format(*sys.version_info[:2]) == python.group(1)
    differ = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"].lower()
        if name in pins and dist.version != pins[name]:
            differ.append(f"{name} {dist.version} (locked {pins[name]})")
    assert not differ, differ
