"""Figure builders: the right traces, axes and values for given arrays."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from dashboard.lab.train_figures import (
    CELL_TRACE_NAME,
    compare_accuracy_figure,
    compare_curves_figure,
    confusion_difference_figure,
    confusion_figure,
    diff_problem,
    per_class_figure,
    probability_figure,
    row_normalise,
    selected_cell,
    training_curves,
    weight_mosaic,
    weights_figure,
)

NAMES = ("cat", "dog", "eel")
CONF = np.array([[5, 1, 0], [2, 6, 2], [0, 0, 0]])


def test_training_curves_has_loss_and_both_accuracies():
    fig = training_curves([1, 2, 3], [0.9, 0.5, 0.3], [0.7, 0.8, 0.9], [0.6, 0.75, 0.8], total_epochs=10)
    names = [t.name for t in fig.data]
    assert names == ["loss", "train", "validation"]
    assert list(fig.data[2].y) == [0.6, 0.75, 0.8]
    assert fig.layout.xaxis.range == (0.5, 10.5)


def test_confusion_counts_and_normalised_with_class_names():
    fig = confusion_figure(CONF, NAMES)
    heat = fig.data[0]
    assert isinstance(heat, go.Heatmap)
    assert list(heat.x) == list(NAMES) and list(heat.y) == list(NAMES)
    assert np.array_equal(np.asarray(heat.z), CONF)
    norm = confusion_figure(CONF, NAMES, normalise=True).data[0]
    np.testing.assert_allclose(np.asarray(norm.z)[1], [0.2, 0.6, 0.2])
    np.testing.assert_allclose(np.asarray(norm.z)[2], [0, 0, 0])  # empty row stays 0, no NaN
    np.testing.assert_allclose(row_normalise(CONF).sum(axis=1), [1, 1, 0])


def test_confusion_cells_are_clickable_points_with_their_indices():
    fig = confusion_figure(CONF, NAMES)
    cells = [t for t in fig.data if t.name == CELL_TRACE_NAME][0]
    assert isinstance(cells, go.Scatter) and len(cells.x) == 9
    assert cells.marker.opacity == 0
    data = np.asarray(cells.customdata)
    # the point at (true=dog, predicted=eel) carries (1, 2) and its count
    i = [k for k in range(9) if cells.y[k] == "dog" and cells.x[k] == "eel"][0]
    assert list(data[i]) == [1, 2, 2]
    assert selected_cell([{"x": "eel", "y": "dog", "customdata": [1, 2, 2]}]) == (1, 2)
    assert selected_cell([]) is None
    assert selected_cell([{"x": 1}]) is None


def test_confusion_refuses_mismatched_names():
    with pytest.raises(ValueError):
        confusion_figure(CONF, ("a", "b"))


def test_difference_marks_gains_positive():
    old = np.array([[8, 2], [3, 7]])
    new = np.array([[9, 1], [4, 6]])
    fig = confusion_difference_figure(new, old, ("a", "b"))
    gain = np.asarray(fig.data[0].z)
    # class a: one more right (+1 on the diagonal, one fewer wrong): both gains
    assert gain[0, 0] == 1 and gain[0, 1] == 1
    # class b: one fewer right, one more wrong: both losses
    assert gain[1, 1] == -1 and gain[1, 0] == -1
    assert np.array_equal(np.asarray(fig.data[0].text), new - old)
    with pytest.raises(ValueError):
        confusion_difference_figure(new, np.eye(3), ("a", "b"))


def test_per_class_bars():
    fig = per_class_figure([0.9, 0.8], [0.7, 1.0], [0.79, 0.89], ("a", "b"))
    assert [t.name for t in fig.data] == ["precision", "recall", "F1"]
    assert list(fig.data[1].y) == [0.7, 1.0]


def test_weight_mosaic_tiles_each_unit_in_image_shape():
    h, w, n = 3, 2, 5
    weights = np.arange(h * w * n, dtype=float).reshape(h * w, n) - 7
    mosaic = weight_mosaic(weights, (h, w), gap=1)
    # 5 units -> 3 columns x 2 rows of 3x2 tiles with 1-pixel gaps
    assert mosaic.shape == (2 * 4 - 1, 3 * 3 - 1)
    tile0 = mosaic[0:3, 0:2]
    expected = weights[:, 0].reshape(h, w)
    np.testing.assert_allclose(tile0, expected / np.abs(expected).max())
    tile4 = mosaic[4:7, 3:5]
    np.testing.assert_allclose(tile4, weights[:, 4].reshape(h, w) / np.abs(weights[:, 4]).max())
    assert np.isnan(mosaic[3]).all()  # the gap row
    assert np.isnan(mosaic[4:7, 6:8]).all()  # the unused sixth slot
    with pytest.raises(ValueError):
        weight_mosaic(weights, (4, 4))
    fig = weights_figure(np.ones((64, 100)), (8, 8), max_units=16)
    assert np.asarray(fig.data[0].z).shape == (4 * 9 - 1, 4 * 9 - 1)


def test_probability_bars_highlight_top_and_true():
    fig = probability_figure([0.1, 0.7, 0.2], NAMES, true=2)
    bar = fig.data[0]
    assert list(bar.y) == list(NAMES) and list(bar.x) == [0.1, 0.7, 0.2]
    assert bar.marker.color[1] != bar.marker.color[0]  # the wrong top class stands out
    assert bar.marker.color[2] != bar.marker.color[0]  # so does the true class
    with pytest.raises(ValueError):
        probability_figure([0.5, 0.5], NAMES)


def test_comparisons():
    fig = compare_curves_figure(["r1", "r2"], [[1, 0.5], [1, 0.4, 0.3]], [[0.5, 0.6], [0.5, 0.6, 0.7]],
                                [[0.4, 0.5], [0.5, 0.55, 0.6]])
    assert len(fig.data) == 6
    assert list(fig.data[3].x) == [1, 2, 3]
    bars = compare_accuracy_figure(["r1", "r2"], [0.97, 0.98])
    assert list(bars.data[0].y) == [0.97, 0.98]
    with pytest.raises(ValueError):
        compare_accuracy_figure(["r1"], [0.9, 0.8])


def test_selected_cell_reads_the_shapes_a_real_click_sends():
    # Logged from st.plotly_chart(on_select="rerun") after a real click in Chromium on a
    # figure whose customdata was a NumPy array: the row arrives as an object keyed "0", "1"...
    real = {"curve_number": 1, "point_number": 1, "point_index": 1, "x": "b", "y": "a",
            "customdata": {"0": 0, "1": 1, "2": 1}}
    assert selected_cell([real]) == (0, 1)
    # a point without customdata: the cell trace's position gives the cell (row-major)
    assert selected_cell([{"curve_number": 1, "point_index": 5}], n_classes=3) == (1, 2)
    # out of range, not numbers, the heatmap trace: no cell
    assert selected_cell([{"customdata": [7, 0]}], n_classes=3) is None
    assert selected_cell([{"customdata": ["a", "b"]}]) is None
    assert selected_cell([{"curve_number": 0, "point_index": 2}], n_classes=3) is None
    assert selected_cell(["junk", None]) is None


def test_cell_customdata_is_plain_lists_in_the_json():
    # plain lists are sent as JSON arrays (NumPy arrays would become base64 objects)
    spec = confusion_figure(CONF, NAMES).to_plotly_json()
    cells = [t for t in spec["data"] if t.get("name") == CELL_TRACE_NAME][0]
    assert cells["customdata"][5] == [1, 2, 2]


def test_training_curves_integer_ticks_and_a_lone_first_epoch():
    fig = training_curves([1], [0.9], [0.7], [0.6])
    for axis in (fig.layout.xaxis, fig.layout.xaxis2):
        assert axis.tickmode == "linear" and axis.dtick == 1 and axis.tick0 == 1
        assert axis.range[0] < 1 < axis.range[1]  # epoch 1 inside the axis, not on its edge
    assert all("markers" in t.mode for t in fig.data)
    assert [list(t.x) for t in fig.data] == [[1], [1], [1]]
    long = training_curves(list(range(1, 201)), [1.0] * 200, [0.5] * 200, [0.5] * 200)
    assert long.layout.xaxis.dtick == 20 and float(long.layout.xaxis.dtick).is_integer()


def test_difference_cells_are_clickable_and_class_counts_must_match():
    old = np.array([[8, 2], [3, 7]])
    new = np.array([[9, 1], [4, 6]])
    fig = confusion_difference_figure(new, old, ("a", "b"))
    cells = [t for t in fig.data if t.name == CELL_TRACE_NAME][0]
    assert [list(c) for c in cells.customdata] == [[0, 0, 1], [0, 1, -1], [1, 0, 1], [1, 1, -1]]
    msg = diff_problem(np.eye(10), np.eye(2), [str(i) for i in range(10)])
    assert "10 and 2 classes" in msg
    assert diff_problem(new, old, ("a", "b")) is None
    assert diff_problem([["x", "y"], ["z", "w"]], old, ("a", "b"))


def test_accuracy_comparison_is_honest():
    fig = compare_accuracy_figure(["r1", "r2", "r3"], [0.97, 0.98, 0.96])
    bars, diff = fig.data
    assert tuple(fig.layout.yaxis.range) == (0, 1)  # bars from 0
    np.testing.assert_allclose(list(diff.y), [0.0, 1.0, -1.0])  # points against the first run
    assert fig.layout.yaxis2.range[0] < -1 and fig.layout.yaxis2.range[1] > 1
    assert "points" in fig.layout.yaxis2.title.text


def test_full_probabilities_map_through_the_model_classes():
    from dashboard.errors import DataError
    from dashboard.lab.results import full_probabilities

    # a model that knew classes 0, 2, 3 of a 4-class set
    out = full_probabilities(np.array([[0.2, 0.5, 0.3]]), np.array([0, 2, 3]), 4)
    np.testing.assert_allclose(out, [[0.2, 0.0, 0.5, 0.3]])
    # a one-class model: sklearn's two columns, all mass on that class
    out = full_probabilities(np.array([[0.6, 0.4]]), np.array([1]), 3)
    np.testing.assert_allclose(out, [[0, 1, 0]])
    with pytest.raises(DataError):
        full_probabilities(np.ones((1, 3)), np.array([0, 1]), 2)
    with pytest.raises(DataError):
        full_probabilities(np.ones((1, 2)), np.array([0, 5]), 3)
