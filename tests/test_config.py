"""Where the registry lives: a folder name is a path, never part of a URL."""

from __future__ import annotations

import pytest

from jupyter_modelservice import ModelService

FOLDER_NAMES = ["team%41", "exp?1", "a#b", "with space", "ünïcødé 模型", "50%", "x%2Fy", "q?a=1&b=2#frag"]


@pytest.mark.parametrize("name", FOLDER_NAMES)
def test_the_registry_file_lands_inside_exactly_that_folder(tmp_path, name):
    folder = tmp_path / name
    with ModelService(models_directory=folder) as service:
        service.registry.add_version({"model_id": "rf", "model_class": "RandomForestClassifier"})
    assert (folder / "registry.db").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no teamA, no file named "exp"
    with ModelService(models_directory=folder) as again:  # and it opens the same registry
        assert [r["model_id"] for r in again.list_models()] == ["rf"]
