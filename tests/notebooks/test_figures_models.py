"""The promises of notebooks 04 and 05, checked on their smoke runs."""

import nbformat

NOTEBOOK_04 = "04_sequential_models_and_cnns.ipynb"
NOTEBOOK_05 = "05_transfer_learning.ipynb"


def test_04_layers_compute_what_the_prose_says(smoke_run):
    records = smoke_run(NOTEBOOK_04).records
    assert records["classifier_parameters"] == 2048 * 512 + 512 + 512 * 2 + 2
    assert records["linear_vs_matmul_max_abs_diff"] < 1e-4
    assert records["nll_vs_cross_entropy_abs_diff"] < 1e-6
    assert records["subclass_vs_sequential_max_abs_diff"] < 1e-6


def test_04_cnn_shapes_follow_the_arithmetic(smoke_run):
    records = smoke_run(NOTEBOOK_04).records
    assert records["output_size_arithmetic_matches"] is True
    assert records["cnn_parameters"] == 62_658
    assert records["maxpool_kept_fraction"] == 0.25
    assert records["maxpool_ignores_shift_within_window"] is True


def test_05_reads_torchvisions_published_figures(smoke_run):
    records = smoke_run(NOTEBOOK_05).records
    assert records["resnet18_published_top1"] == 69.758
    assert records["resnet50_published_top1"] == 80.858


def test_05_freezing_leaves_only_the_new_head_to_train(smoke_run):
    records = smoke_run(NOTEBOOK_05).records
    assert records["resnet18_trainable_parameters"] == 512 * 2 + 2
    assert records["resnet18_frozen_parameters"] == 11_689_512 - 513_000
    assert records["resnet50_cheatsheet_head_trainable_parameters"] == 1_050_114
    assert records["frozen_weights_unchanged_after_step"] is True


def test_05_never_presents_random_weights_as_pretrained(smoke_run):
    run = smoke_run(NOTEBOOK_05)
    printed = "".join(output.get("text", "") for cell in nbformat.read(run.output, as_version=4).cells
                      for output in cell.get("outputs", []))
    if run.records["imagenet_weights_loaded"]:
        assert "Loaded ResNet-18 with ImageNet weights" in printed
    else:  # offline, as in CI: the notebook says so, and why
        assert "WeightsUnavailableError" in printed and "ImageNet weights are NOT available here" in printed
        assert "Loaded ResNet-18 with ImageNet weights" not in printed


def test_05_pretrained_and_random_features_are_measured_at_two_label_budgets(smoke_run):
    records = smoke_run(NOTEBOOK_05).records
    for budget in (24, 200):
        for kind in ("pretrained", "random"):
            assert 0.0 <= records[f"{kind}_feature_accuracy_{budget}"] <= 1.0
    assert 0.5 <= records["target_majority_baseline"] <= 1.0


def test_05_fine_tuning_and_from_scratch_are_measured_at_two_label_budgets(smoke_run):
    records = smoke_run(NOTEBOOK_05).records
    for budget in (24, 200):
        for name in ("fine_tune_accuracy", "scratch_accuracy", "pretrained_feature_accuracy_first_draw"):
            assert 0.0 <= records[f"{name}_{budget}"] <= 1.0
    # smoke has 48 images per class: draw_labelled caps both budgets at 24, so they share one draw and one result
    assert records["fine_tune_accuracy_24"] == records["fine_tune_accuracy_200"]
    assert records["scratch_accuracy_24"] == records["scratch_accuracy_200"]


def test_05_the_cheat_sheets_require_grad_typo_freezes_nothing(smoke_run):
    assert smoke_run(NOTEBOOK_05).records["require_grad_typo_trainable"] == 11_689_512


def test_04_the_cnn_is_trained_and_measured_against_the_baseline(smoke_run):
    records = smoke_run(NOTEBOOK_04).records
    assert 0.5 <= records["cnn_valid_majority_baseline"] <= 1.0
    for name in ("cnn_valid_accuracy_before_training", "cnn_valid_accuracy_after_training"):
        assert 0.0 <= records[name] <= 1.0


def committed_records(name):
    from helpers.course import facts
    from helpers.course.records import read_records

    return read_records(nbformat.read(facts.NOTEBOOKS_DIR / name, as_version=4))


def test_04_class_preset_cnn_learns_far_beyond_the_baseline_in_its_committed_outputs():
    records = committed_records(NOTEBOOK_04)
    baseline = records["cnn_valid_majority_baseline"]
    assert records["cnn_valid_accuracy_before_training"] < baseline + 0.1  # "no better than a guess"
    assert records["cnn_valid_accuracy_after_training"] >= baseline + 0.3  # "far above the baseline"


def test_05_a_head_stored_as_model_classifier_is_never_called_by_a_resnet(smoke_run):
    records = smoke_run(NOTEBOOK_05).records
    assert records["resnet50_classifier_trap_outputs"] == 1000  # still ImageNet's head
    assert records["resnet50_fc_outputs"] == 2  # the cheat sheet's fc = nn.Linear(2048, 2)
