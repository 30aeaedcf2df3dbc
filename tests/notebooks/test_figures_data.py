"""The promises of notebooks 02 and 03, checked on their smoke runs."""


def test_02_eval_is_deterministic_train_is_random_and_v2_matches_classic(smoke_run):
    records = smoke_run("02_transforms.ipynb").records
    assert records["eval_pipeline_is_deterministic"] is True
    assert records["train_pipeline_is_random"] is True
    assert records["classic_vs_v2_eval_max_abs_diff"] < 1e-5


def test_02_our_statistics_are_per_channel_fractions(smoke_run):
    records = smoke_run("02_transforms.ipynb").records
    assert len(records["our_channel_mean"]) == 3
    assert all(0 < value < 1 for value in records["our_channel_mean"] + records["our_channel_std"])


def test_03_patient_split_leaks_no_patient_and_random_split_does(smoke_run):
    records = smoke_run("03_datasets_and_loaders.ipynb").records
    assert records["patient_split_test_patients_seen_in_training"] == 0
    assert records["random_split_test_patients_seen_in_training"] > 0


def test_03_loader_throughput_is_measured_both_ways(smoke_run):
    records = smoke_run("03_datasets_and_loaders.ipynb").records
    assert records["loader_images_per_s_0_workers"] > 0 and records["loader_images_per_s_2_workers"] > 0


def test_03_class_preset_shows_the_leak_in_its_committed_outputs():
    import nbformat

    from helpers.course import facts
    from helpers.course.records import read_records

    records = read_records(nbformat.read(facts.NOTEBOOKS_DIR / "03_datasets_and_loaders.ipynb", as_version=4))
    assert records["colour_nn_accuracy_random_split"] > records["colour_nn_accuracy_patient_split"] + 0.1
    # "beats the baseline on the random split ... on the patient split it does not beat it"
    assert records["colour_nn_accuracy_random_split"] > records["test_majority_baseline_random_split"]
    assert records["colour_nn_accuracy_patient_split"] <= records["test_majority_baseline_patient_split"]


def test_03_each_colour_only_score_has_its_test_sets_baseline(smoke_run):
    records = smoke_run("03_datasets_and_loaders.ipynb").records
    for split in ("random", "patient"):
        assert 0.5 <= records[f"test_majority_baseline_{split}_split"] <= 1.0


def test_02_class_preset_channel_statistics_match_the_prose_in_its_committed_outputs():
    import nbformat

    from helpers.course import facts
    from helpers.course.records import read_records

    records = read_records(nbformat.read(facts.NOTEBOOKS_DIR / "02_transforms.ipynb", as_version=4))
    (red_mean, green_mean, blue_mean), (red_std, green_std, blue_std) = (records["our_channel_mean"],
                                                                         records["our_channel_std"])
    assert red_mean > 0.485 and green_mean < 0.456 and blue_mean > 0.406  # more red and blue, less green
    assert red_std > 0.229 and blue_std > 0.225 and green_std < 0.224  # "red and blue vary more, green a little less"


def test_03_the_hand_written_dataset_lists_what_image_folder_lists(smoke_run):
    assert smoke_run("03_datasets_and_loaders.ipynb").records["hand_written_dataset_matches_image_folder"] is True
