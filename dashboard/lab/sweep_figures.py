"""Figures of a sweep: each configuration's parameters against its validation accuracy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go


def sweep_figure(rows: Sequence[Mapping], axes: Sequence[str]) -> go.Figure:
    """Parallel coordinates: one line per configuration, one axis per swept parameter, then validation accuracy.

    Parameters
    ----------
    rows : sequence of mapping
        :func:`dashboard.lab.sweep.ranking` rows (the axes' values as text, ``val_accuracy``).
    axes : sequence of str
        The parameters that vary.

    Returns
    -------
    plotly.graph_objects.Figure
        Categorical values get one tick per distinct value, in sorted order.
    """
    dims = []
    for name in axes:
        values = [str(r.get(name)) for r in rows]
        try:  # numbers keep their scale; anything else is a category
            numbers = [float(v) for v in values]
            dims.append(dict(label=name, values=numbers))
        except ValueError:
            cats = sorted(set(values))
            dims.append(dict(label=name, values=[cats.index(v) for v in values],
                             tickvals=list(range(len(cats))), ticktext=cats))
    acc = [float(r.get("val_accuracy") or 0) for r in rows]
    dims.append(dict(label="validation accuracy", values=acc))
    fig = go.Figure(go.Parcoords(line=dict(color=acc, colorscale="Viridis", showscale=True,
                                           colorbar=dict(title="val acc")), dimensions=dims))
    fig.update_layout(height=360, margin=dict(l=60, r=40, t=40, b=20))
    return fig
