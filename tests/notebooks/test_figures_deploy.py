"""The promises of notebooks 07, 09 and 10, checked on their smoke runs and on the committed class-preset outputs."""

import nbformat

from helpers.course import facts
from helpers.course.records import read_records
from helpers.tools.executor import STAMP_KEY


def committed_class_records(name: str) -> dict:
    """The figures of the committed notebook, which the executor ran in the class preset."""
    notebook = nbformat.read(facts.NOTEBOOKS_DIR / name, as_version=4)
    assert notebook.metadata[STAMP_KEY]["preset"] == "class"
    return read_records(notebook)


def test_07_device_mismatch_is_shown_live(smoke_run):
    records = smoke_run("07_cuda_and_devices.ipynb").records
    assert records["device_mismatch_error_raised"] is True
    assert records["batch_224_megabytes"] == 64 * 3 * 224 * 224 * 4 / 2**20


def test_07_timings_and_autocast_are_measured(smoke_run):
    records = smoke_run("07_cuda_and_devices.ipynb").records
    assert records["cpu_matmul_gflops"] > 0 and records["cpu_training_step_ms"] > 0
    assert records["autocast_speedup"] > 0
    assert 0 < records["autocast_relative_difference"] < 0.02  # 16-bit rounding: small, never zero
    assert records["autocast_cnn_max_logit_difference"] < 0.1
    assert records["autocast_cnn_same_prediction_fraction"] >= 0.9


def test_07_mixed_precision_step_runs_with_the_devices_own_type(smoke_run):
    records = smoke_run("07_cuda_and_devices.ipynb").records
    assert records["autocast_dtype"] in {"torch.bfloat16", "torch.float16"}
    assert records["amp_step_loss_dtype"] == "torch.float32"  # autocast keeps the loss in float32


def test_09_eval_mode_is_deterministic_and_train_mode_is_not(smoke_run):
    records = smoke_run("09_prediction.ipynb").records
    assert records["train_mode_outputs_differ"] is True
    assert records["eval_mode_max_difference"] == 0


def test_09_prediction_steps_agree(smoke_run):
    records = smoke_run("09_prediction.ipynb").records
    assert records["softmax_sums_to_one"] is True
    assert records["cheat_sheet_and_argmax_agree"] is True
    assert records["predict_input_kinds_agree"] is True
    assert records["topk_sorted"] is True
    assert records["cheat_sheet_and_modern_correct_agree"] is True


def test_09_trains_the_model_of_08_when_run_alone_and_shows_both_classes(smoke_run):
    records = smoke_run("09_prediction.ipynb").records
    assert records["model_from_notebook_08"] is False  # the smoke run has an empty checkpoint folder
    assert records["grid_true_classes"] == ["Parasitized", "Uninfected"]
    assert records["test_majority_baseline"] == max(records["test_class_balance"].values()) >= 0.5
    assert 0.5 <= records["valid_majority_baseline"] <= 1


def test_09_metrics_come_from_the_confusion_matrix(smoke_run):
    records = smoke_run("09_prediction.ipynb").records
    matrix = records["confusion_matrix"]
    assert sum(map(sum, matrix)) == records["test_images"] > 0
    assert abs(records["test_accuracy"] - (matrix[0][0] + matrix[1][1]) / records["test_images"]) < 1e-6
    for value in records["precision"] + records["recall"]:
        assert 0 <= value <= 1


def test_09_class_preset_beats_the_baseline_and_relies_on_colour():
    records = committed_class_records("09_prediction.ipynb")
    assert records["test_accuracy"] >= records["test_majority_baseline"] + 0.30
    assert records["valid_accuracy"] >= records["valid_majority_baseline"] + 0.30
    assert records["grayscale_test_accuracy"] < records["colour_test_accuracy"] - 0.10
    assert records["test_images"] >= 1000
    low, high = records["test_accuracy_interval"]
    assert low <= records["test_accuracy"] <= high < 0.975  # below the label-noise ceiling
    assert records["test_mislabelled_images"] > 0 and 0 <= records["top_losses_mislabelled"] <= 8


def test_10_tracing_freezes_the_branch_scripting_and_export_keep_it(smoke_run):
    records = smoke_run("10_deployment.ipynb").records
    assert records["tracer_warning_shown"] is True
    assert records["traced_gate_is_wrong"] is True
    assert records["scripted_gate_is_right"] is True
    assert records["exported_cond_gate_is_right"] is True
    assert records["export_froze_python_branch"] is True  # export only refuses branches on tensor values


def test_10_export_is_aten_until_decomposed_to_core_aten(smoke_run):
    records = smoke_run("10_deployment.ipynb").records
    assert {"linear", "dropout", "flatten"} <= set(records["export_operations"])
    assert not {"linear", "dropout", "flatten"} & set(records["core_aten_operations"])
    assert {"addmm", "convolution"} <= set(records["core_aten_operations"])
    assert records["compile_first_to_later_call_ratio"] > 1  # the first call compiles


def test_10_artefacts_agree_with_pytorch(smoke_run):
    records = smoke_run("10_deployment.ipynb").records
    assert records["export_max_abs_difference"] < 1e-5
    assert records["compile_max_abs_difference"] < 1e-4
    assert records["onnx_max_abs_difference"] < records["onnx_tolerance"] == 1e-4


def test_10_every_artefact_is_measured(smoke_run):
    records = smoke_run("10_deployment.ipynb").records
    names = {"model_state_dict.pt", "model_torchscript.pt", "model.pt2", "model.onnx"}
    assert set(records["artefact_size_bytes"]) == names == set(records["artefact_load_ms"])
    assert all(size > 0 for size in records["artefact_size_bytes"].values())
    accuracies = set(records["artefact_test_accuracy"].values())
    assert len(accuracies) == 1 and 0 <= accuracies.pop() <= 1  # every artefact is the same model
    assert records["model_from_notebook_08"] is False


def test_10_class_preset_deploys_a_trained_model():
    records = committed_class_records("10_deployment.ipynb")
    for accuracy in records["artefact_test_accuracy"].values():
        assert accuracy >= records["test_majority_baseline"] + 0.30
