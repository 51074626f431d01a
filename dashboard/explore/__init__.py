"""Browsing and inspecting a dataset: pages, thumbnails, pixel figures, tables, overview."""
