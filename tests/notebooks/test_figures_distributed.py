"""The promises of notebook 12, checked on its smoke run."""

NOTEBOOK = "12_distributed_training.ipynb"


def test_12_ddp_on_two_processes_matches_one_process(smoke_run):
    records = smoke_run(NOTEBOOK).records
    assert records["ddp_vs_single_tolerance"] == 1e-5
    assert records["ddp_vs_single_max_abs_diff"] < records["ddp_vs_single_tolerance"]


def test_12_the_printed_ddp_losses_equal_the_one_process_losses_epoch_by_epoch(smoke_run):
    records = smoke_run(NOTEBOOK).records
    assert len(records["ddp_epoch_losses"]) == len(records["single_epoch_losses"]) > 0
    assert records["ddp_vs_single_epoch_loss_max_diff"] <= 5e-5 + 1e-7  # DDP prints 4 decimals


def test_12_the_runs_train_and_the_batch_is_global(smoke_run):
    records = smoke_run(NOTEBOOK).records
    assert records["loss_after_training"] < records["loss_before_training"] / 2
    assert records["effective_batch_size"] == 2 * 16  # 2 processes x the smoke preset's batch of 16
    assert records["sampler_shards_overlap"] == 0


def test_12_hogwild_processes_train_the_shared_model(smoke_run):
    records = smoke_run(NOTEBOOK).records
    assert records["hogwild_loss_after"] < records["hogwild_loss_before"] / 2
