"""The promises of notebooks 00 and 01, checked on their smoke runs."""


def test_00_graph_mode_computes_what_eager_mode_does(smoke_run):
    records = smoke_run("00_start_here.ipynb").records
    assert records["eager_vs_graph_max_abs_diff"] < 1e-6


def test_01_autograd_agrees_with_calculus(smoke_run):
    records = smoke_run("01_tensors_and_autograd.ipynb").records
    assert records["autograd_vs_analytic_max_abs_diff"] < 1e-6


def test_01_gradient_descent_finds_the_line(smoke_run):
    records = smoke_run("01_tensors_and_autograd.ipynb").records
    assert abs(records["fitted_slope"] - records["true_slope"]) < 0.1
    assert abs(records["fitted_slope"] - records["least_squares_slope"]) < 0.05
    assert records["last_loss"] < records["first_loss"] / 10  # "the loss goes down"


def test_01_reductions_and_shape_changes_give_what_the_prose_says(smoke_run):
    records = smoke_run("01_tensors_and_autograd.ipynb").records
    assert records["argmax_per_image"] == [1, 2]  # the largest score of each row
    assert records["stacked_batch_shape"] == [8, 3, 4, 5]  # stack adds a new first dimension
