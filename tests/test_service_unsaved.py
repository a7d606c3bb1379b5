"""A session holds a bounded number of unsaved models: a training loop does not keep them all."""

from __future__ import annotations

import gc
import weakref

import pytest
from sklearn.tree import DecisionTreeClassifier

from jupyter_modelservice import ModelService, NoModelError, UnsavedModelsDroppedWarning


def test_a_loop_of_unsaved_trainings_keeps_only_the_newest(tmp_path, iris):
    X, y = iris
    alive = []
    with ModelService(models_directory=tmp_path / "models", max_unsaved=3) as service:
        for depth in range(1, 4):
            service.train_model(DecisionTreeClassifier, X, y, model_id="tree", max_depth=depth, random_state=0)
            alive.append(weakref.ref(service.current_model))
        with pytest.warns(UnsavedModelsDroppedWarning, match=r"let go of tree:1,.*save_model right after training"):
            service.train_model(DecisionTreeClassifier, X, y, model_id="tree", max_depth=4, random_state=0)
        for depth in range(5, 9):  # one more version each time: the oldest held one goes
            with pytest.warns(UnsavedModelsDroppedWarning, match=f"let go of tree:{depth - 3},"):
                service.train_model(DecisionTreeClassifier, X, y, model_id="tree", max_depth=depth,
                                    random_state=0)
        gc.collect()
        assert alive[0]() is None  # nothing in the service refers to the dropped model any more
        with pytest.raises(NoModelError, match="never saved"):
            service.get_model("tree:1")
        assert [service.get_model(f"tree:{v}").max_depth for v in (6, 7, 8)] == [6, 7, 8]
        assert service.save_model("tree:6") is True  # a held one can still be saved


def test_saving_right_after_training_never_drops_anything(tmp_path, iris, recwarn):
    X, y = iris
    with ModelService(models_directory=tmp_path / "models", max_unsaved=2) as service:
        for depth in range(1, 7):
            service.train_model(DecisionTreeClassifier, X, y, model_id="tree", max_depth=depth, random_state=0)
            service.save_model("tree")
        assert [service.get_model(f"tree:{v}").max_depth for v in range(1, 7)] == list(range(1, 7))
    assert not [w for w in recwarn if issubclass(w.category, UnsavedModelsDroppedWarning)]
