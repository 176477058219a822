"""Package boundaries (docs/architecture.md): executables live in geolid/bin or the
``geolid`` CLI, the model packages import neither the task layer nor the demo support,
and nothing reaches into another module's private names."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "geolid"
ENTRY_POINT_DIRS = {"bin", "cli"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE), ast.parse(path.read_text(encoding="utf-8"))


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                yield node.module, alias.name


def _is_main_guard(node):
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def test_executables_live_in_bin_or_cli():
    scripts = [str(rel) for rel, tree in _modules()
               if any(_is_main_guard(n) for n in tree.body) and rel.parts[0] not in ENTRY_POINT_DIRS]
    assert scripts == []


def test_model_packages_import_no_task_layer():
    bad = [(str(rel), mod) for rel, tree in _modules() if rel.parts[0] in ("lid", "layers")
           for mod, _ in _imports(tree) if mod.startswith("geolid.tasks")]
    assert bad == []


def test_the_runtime_package_holds_no_demo_support():
    """espeak-ng synthesis, the demo corpus and tiny test models are the separate
    distribution geolid-demo (demo/geolid_demo), not part of the runtime wheel."""
    assert not (PACKAGE / "demo").exists()
    bad = [(str(rel), mod) for rel, tree in _modules() for mod, _ in _imports(tree)
           if mod.startswith("geolid_demo")]
    assert bad == []
    import tomllib

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["geolid", "geolid.*"]


def test_export_and_inference_do_not_import_each_other_in_a_cycle():
    export = {mod for rel, tree in _modules() if rel.parts[0] == "export" for mod, _ in _imports(tree)}
    assert not any(m.startswith("geolid.inference") for m in export)


def test_no_private_names_imported_across_modules():
    bad = [(str(rel), mod, name) for rel, tree in _modules() for mod, name in _imports(tree)
           if mod.startswith("geolid") and name and name.startswith("_") and name != "__version__"]
    assert bad == []


def test_cli_does_not_import_bin():
    """The console script is the user-facing layer; geolid/bin holds the recipe's entry
    points, which may use geolid/cli (``data_prep`` mounts ``geolid.cli.prepare``), not
    the other way round."""
    bad = [(str(rel), mod) for rel, tree in _modules() if rel.parts[0] == "cli"
           for mod, _ in _imports(tree) if mod.startswith("geolid.bin")]
    assert bad == []
