"""local.build.drop_layer_packages: a function's build keeps only what the layer does not already ship."""

from pathlib import Path

import pytest

from local.build import drop_layer_packages


def install(folder: Path, name: str, version: str, files: dict[str, str]) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    (info / "RECORD").write_text("".join(f"{path},sha256=x,1\n" for path in files) + f"{info.name}/RECORD,,\n")


def test_a_package_the_layer_ships_at_the_same_version_leaves_the_function(tmp_path: Path) -> None:
    layer, function = tmp_path / "layer", tmp_path / "function"
    install(layer, "pydantic", "2.14.4", {"pydantic/__init__.py": ""})
    install(function, "pydantic", "2.14.4", {"pydantic/__init__.py": "", "pydantic/main.py": ""})
    install(function, "supabase", "2.34.1", {"supabase/__init__.py": ""})
    (function / "app.py").write_text("")

    assert drop_layer_packages(function, layer) == ["pydantic"]
    assert sorted(p.name for p in function.iterdir()) == ["app.py", "supabase", "supabase-2.34.1.dist-info"]


def test_a_package_the_layer_ships_at_another_version_fails_the_build(tmp_path: Path) -> None:
    layer, function = tmp_path / "layer", tmp_path / "function"
    install(layer, "pydantic", "2.14.4", {"pydantic/__init__.py": ""})
    install(function, "pydantic", "2.9.0", {"pydantic/__init__.py": ""})

    with pytest.raises(RuntimeError, match="pin one version"):
        drop_layer_packages(function, layer)
    assert (function / "pydantic" / "__init__.py").exists()


def test_a_record_entry_outside_the_function_is_never_removed(tmp_path: Path) -> None:
    layer, function = tmp_path / "layer", tmp_path / "function"
    install(layer, "evil", "1.0", {"evil/__init__.py": ""})
    install(function, "evil", "1.0", {"evil/__init__.py": ""})
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    record = function / "evil-1.0.dist-info" / "RECORD"
    record.write_text(record.read_text() + "../outside.txt,,\n")

    drop_layer_packages(function, layer)

    assert outside.read_text() == "keep"
