"""Datasets: the type, the catalog, IDX/CSV/NPZ decoding, finding, downloading."""
