"""The capstone's promises: its smoke run, and the class-preset figures committed in the notebook."""

import math

import nbformat

from helpers.course import facts
from helpers.tools.executor import STAMP_KEY
from helpers.course.records import read_records

CAPSTONE = "11_capstone_malaria.ipynb"


def test_11_runs_end_to_end_in_smoke(smoke_run):
    records = smoke_run(CAPSTONE).records
    assert records["test_images"] >= 10
    assert 0 <= records["test_accuracy"] <= 1 and math.isfinite(records["test_auc"])
    assert records["export_max_abs_diff"] < 1e-5
    assert records["chosen_model"] in {"small CNN (from scratch)", records["transfer_model"]}
    assert records["onnx_max_abs_diff"] < 1e-4 and records["onnx_same_predictions"] is True
    assert records["grid_true_classes"] == ["Parasitized", "Uninfected"]
    low, high = records["test_accuracy_interval"]
    assert low <= records["test_accuracy"] <= high
    assert records["test_majority_baseline"] == max(records["test_class_balance"].values())
    assert set(records["candidate_costs"]) == {"small CNN (from scratch)", records["transfer_model"]}
    folders = records["run_folders"]
    assert len(folders) == 2 and all(len(name.rsplit("_", 1)[1]) == 10 for name in folders)
    # the same CNN recipe on a random split: some of its test patients also have cells in training
    assert records["random_split_test_patients_seen"] >= 1
    assert 0 <= records["random_split_cnn_test_accuracy"] <= 1
    assert 0.5 <= records["random_split_valid_majority_baseline"] <= 1


def test_11_class_preset_figures_resolve_differences_and_follow_the_notebooks_rule():
    """The committed outputs are the executor's class-preset run: harder data, a large test split, an honest choice."""
    notebook = nbformat.read(facts.NOTEBOOKS_DIR / CAPSTONE, as_version=4)
    assert notebook.metadata[STAMP_KEY]["preset"] == "class"
    records = read_records(notebook)
    assert records["test_images"] >= 1000
    assert records["test_accuracy"] >= records["test_majority_baseline"] + 0.30
    assert records["test_accuracy"] < 0.975  # below the label-noise ceiling, where choices show
    low, high = records["test_accuracy_interval"]
    assert high - low < 0.05  # 1,000 images resolve a few points
    costs = records["candidate_costs"]
    if records["model_choice_is_tie"]:  # the notebook's rule: a tie ships the smaller, faster model
        smallest = min(costs, key=lambda name: (costs[name]["parameters"], costs[name]["cpu_ms_per_image"]))
        assert records["chosen_model"] == smallest
    else:
        assert records["chosen_model"] == records["lowest_valid_loss_model"]
    # a lower threshold finds more parasitized cells and flags more healthy ones
    assert records["recall_at_0_3"] >= records["recall_at_0_5"]
    assert records["false_alarms_at_0_3"] >= records["false_alarms_at_0_5"]
    assert records["test_mislabelled_images"] > 0  # the generator's flipped labels are in the test split
    # most of the random split's test patients have cells in training, and its CNN still learns
    assert records["random_split_test_patients_seen"] > 100
    assert records["random_split_cnn_valid_accuracy"] >= records["random_split_valid_majority_baseline"] + 0.30
