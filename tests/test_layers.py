"""The library's layers point down: no module imports one of a higher layer.

The layers, bottom to top (a module may import its own layer and the ones below):

0. infrastructure: argument checks, files and provenance, the one cache, the paper's
   published numbers, text formatting, float flags;
1. data: MNIST, the data sets, the novel scenes;
2. the DAE;
3. training and the random search's configurations;
4. reconstruction clustering and the metrics;
5. specifications, profiles and the experiments a profile specifies;
6. the pipeline (a profile's results, `rc.Results`);
7. figures, claims and stored models (plotting style, the claim rules, ``rc.pretrained``);
8. the paper's elements (``rc.paper``) and RC in motion (``rc.animation``);
9. beyond the paper (``rc.beyond``);
10. the scorecard, the protocol runner, the command line and live sessions;
11. the package itself (``rc/__init__.py``, ``rc/__main__.py``).

Imports inside functions count too. The layers below the figures (0-6) must not import
matplotlib at all, so that computing never needs a plotting library.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

RC = Path(__file__).resolve().parents[1] / "rc"

LAYERS = {
    0: ["_checks", "storage", "cache", "published", "report", "denormals"],
    1: ["mnist", "data_cache", "datasets", "novel"],
    2: ["dae"],
    3: ["training_inputs", "batched_dae", "training_loop", "module_training", "training",
        "search", "cost"],
    4: ["clustering", "metrics"],
    5: ["specs", "config", "experiments", "tasks"],
    6: ["pipeline"],
    7: ["plots", "claims", "pretrained_daes"],
    8: ["paper", "animation"],
    9: ["beyond"],
    10: ["scorecard", "protocol", "cluster", "cli", "examples", "live"],
    11: ["__init__", "__main__"],
}
RANK = {name: rank for rank, names in LAYERS.items() for name in names}
#: The highest layer that may not import matplotlib.
NO_PLOTTING_BELOW = 7


def _module_name(path: Path) -> str:
    parts = path.relative_to(RC).with_suffix("").parts
    return ".".join(parts)


def _layer(module: str) -> int:
    """The layer of ``rc.<module>`` (a subpackage's modules share its layer)."""
    top = module.split(".")[0]
    if top not in RANK:
        raise AssertionError(f"rc/{module.replace('.', '/')}.py has no layer in "
                             f"tests/test_layers.py: add it to LAYERS")
    return RANK[top]


def _imports(path: Path) -> set[str]:
    """Modules of rc (relative to rc) and 'matplotlib' that ``path`` imports anywhere."""
    module = _module_name(path)
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [f"{target}.{a.name}".strip(".")
                                                       for a in node.names]
                found.update(n for n in names if n)
            elif node.module and node.module.split(".")[0] == "rc":
                found.add(node.module.partition(".")[2] or "__init__")
            elif node.module and node.module.split(".")[0] == "matplotlib":
                found.add("matplotlib")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "matplotlib":
                    found.add("matplotlib")
                elif alias.name.split(".")[0] == "rc" and "." in alias.name:
                    found.add(alias.name.partition(".")[2])
    return found


MODULES = sorted(p for p in RC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_point_down(path):
    module = _module_name(path)
    own = _layer(module)
    for target in sorted(_imports(path)):
        if target == "matplotlib":
            assert own >= NO_PLOTTING_BELOW, f"rc.{module} (layer {own}) imports matplotlib"
            continue
        if target.split(".")[0] in ("", "__init__"):
            continue
        assert _layer(target) <= own, (f"rc.{module} (layer {own}) imports rc.{target} "
                                       f"(layer {_layer(target)})")


def test_every_module_has_a_layer():
    missing = [_module_name(p) for p in MODULES if _module_name(p).split(".")[0] not in RANK]
    assert not missing, f"modules of rc without a layer in LAYERS: {missing}"
    assert all(0 <= _layer(_module_name(p)) < len(LAYERS) for p in MODULES)


def test_computing_a_specification_loads_no_plotting_and_no_paper_element():
    """The pipeline alone (a spec, a cache path) pulls in neither matplotlib nor any figure
    module of rc.paper or rc.beyond."""
    code = ("import sys, rc; p = rc.Results('ci', may_compute=False, progress=False); "
            "s = p.table_spec('shapes', 2); p.eval_spec('bars'); "
            "bad = sorted(m for m in sys.modules if m.startswith(('matplotlib', "
            "'rc.paper.', 'rc.beyond'))); print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
