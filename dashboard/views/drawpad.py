"""The Draw page's canvas: a small ``st.components.v2`` component that sends each stroke at once.

streamlit-drawable-canvas (used before) holds a stroke back for a fixed 200 ms
debounce in its frontend before the app hears of it: two thirds of the Draw page's
300 ms budget from the end of a stroke to the prediction on screen. This pad
sends on pointer-up. It draws round black strokes on white (what the dataset
conversion in :mod:`dashboard.lab.drawing` expects), keeps undo and redo in the
browser, and hands Python a PNG of the canvas plus the number of strokes.

What comes back from the browser is treated as hostile: a bounded data URI, a
PNG of exactly the canvas size, checked before it is decoded.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

PNG_PREFIX = "data:image/png;base64,"
# A 280x280 canvas as PNG is a few KB; anything near this is not a drawing.
MAX_URI_CHARS = 2_000_000
MAX_POINTS = 50_000  # stroke points kept to redraw a drawing after a page switch

_HTML = """
<div class="pad">
  <canvas aria-label="Drawing canvas: draw with the mouse or a finger"></canvas>
  <div class="tools">
    <button type="button" data-act="undo" title="Undo the last stroke">Undo</button>
    <button type="button" data-act="redo" title="Redo the stroke undone">Redo</button>
  </div>
</div>
"""

_CSS = """
.pad { display: inline-flex; flex-direction: column; gap: 6px; }
canvas { border: 1px solid #bbb; border-radius: 4px; background: #fff; touch-action: none; cursor: crosshair; }
.tools { display: flex; gap: 6px; }
button { font: inherit; font-size: 0.85rem; padding: 2px 12px; border: 1px solid #bbb; border-radius: 6px;
         background: #fff; color: #222; cursor: pointer; }
button:disabled { color: #aaa; cursor: default; }
button:focus-visible { outline: 2px solid #ff4b4b; }
"""

# Called on every render with fresh `data` and `setStateValue`; the canvas element (and the
# strokes kept on it) lives on between renders, so the setup runs once.
_JS = """
export default function (component) {
  const { parentElement, data, setStateValue } = component;
  const canvas = parentElement.querySelector('canvas');
  const undoBtn = parentElement.querySelector('[data-act=undo]');
  const redoBtn = parentElement.querySelector('[data-act=redo]');
  let s = canvas.__pad;
  if (!s) {
    s = canvas.__pad = { strokes: [], redo: [], current: null };
    canvas.width = data.size; canvas.height = data.size;
    canvas.style.width = data.size + 'px'; canvas.style.height = data.size + 'px';
    const ctx = canvas.getContext('2d');
    const style = () => {
      ctx.lineWidth = s.width; ctx.lineCap = 'round'; ctx.lineJoin = 'round';
      ctx.strokeStyle = '#000'; ctx.fillStyle = '#000';
    };
    const dot = (p) => { ctx.beginPath(); ctx.arc(p[0], p[1], s.width / 2, 0, 2 * Math.PI); ctx.fill(); };
    const path = (pts) => {
      if (pts.length === 1) { dot(pts[0]); return; }
      ctx.beginPath(); ctx.moveTo(pts[0][0], pts[0][1]);
      for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0], pts[i][1]);
      ctx.stroke();
    };
    s.redraw = () => {
      ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
      style(); for (const pts of s.strokes) path(pts);
      undoBtn.disabled = s.strokes.length === 0; redoBtn.disabled = s.redo.length === 0;
    };
    s.emit = () => {
      s.redraw();
      const paths = s.strokes.map((pts) => pts.map((p) => [Math.round(p[0] * 10) / 10, Math.round(p[1] * 10) / 10]));
      s.send('drawing', { png: canvas.toDataURL('image/png'), strokes: s.strokes.length, paths: paths });
    };
    const clamp = (v) => Math.min(canvas.width, Math.max(0, v));
    const at = (e) => {
      const r = canvas.getBoundingClientRect();
      return [clamp((e.clientX - r.left) * canvas.width / r.width),
              clamp((e.clientY - r.top) * canvas.height / r.height)];
    };
    canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      canvas.setPointerCapture(e.pointerId);
      s.current = [at(e)]; style(); dot(s.current[0]);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!s.current) return;
      const p = at(e), q = s.current[s.current.length - 1];
      s.current.push(p); style();
      ctx.beginPath(); ctx.moveTo(q[0], q[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
    });
    const end = () => {
      if (!s.current) return;
      s.strokes.push(s.current); s.current = null; s.redo = [];
      s.emit();  // at once: no debounce between the stroke and the app
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    undoBtn.addEventListener('click', () => { if (s.strokes.length) { s.redo.push(s.strokes.pop()); s.emit(); } });
    redoBtn.addEventListener('click', () => { if (s.redo.length) { s.strokes.push(s.redo.pop()); s.emit(); } });
    s.width = data.stroke;
    // A drawing made before a page switch: redrawn, not sent (the app already has it).
    if (Array.isArray(data.paths) && data.paths.length) s.strokes = data.paths.map((pts) => pts.slice());
    s.redraw();
  }
  s.width = data.stroke;
  s.send = setStateValue;
}
"""

_pad = st.components.v2.component("dashboard.drawpad", html=_HTML, css=_CSS, js=_JS)


def draw_pad(*, key: str, size: int, stroke: int, paths: list | None = None) -> Any:
    """Mount the pad; its result's ``drawing`` is what the browser last sent (or None).

    ``paths`` (from :func:`stroke_paths`) are strokes an empty pad draws when it mounts:
    the drawing a user made before leaving the page.
    """
    data = {"size": int(size), "stroke": int(stroke), "paths": paths or []}
    return _pad(key=key, data=data, on_drawing_change=lambda: None)


def stroke_paths(value: object, size: int, max_points: int = MAX_POINTS) -> list[list[list[float]]]:
    """The strokes of a pad value, checked (lists of ``[x, y]`` inside the canvas); ``[]`` if malformed."""
    paths = value.get("paths") if isinstance(value, Mapping) else None
    if not isinstance(paths, list):
        return []
    out, total = [], 0
    for path in paths:
        if not isinstance(path, list) or not path:
            return []
        total += len(path)
        if total > max_points:
            return []
        pts = []
        for p in path:
            if (not isinstance(p, list) or len(p) != 2
                    or not all(isinstance(v, int | float) and 0 <= v <= size for v in p)):
                return []
            pts.append([float(p[0]), float(p[1])])
        out.append(pts)
    return out


def decode_drawing(value: object, size: int) -> tuple[np.ndarray | None, int]:
    """``(rgba, strokes)`` from the pad's value; ``(None, 0)`` for nothing or anything malformed.

    Parameters
    ----------
    value : object
        What the browser sent: ``{"png": "data:image/png;base64,...", "strokes": n}``.
    size : int
        The canvas side in pixels; a PNG of any other size is refused before decoding.

    Returns
    -------
    rgba : ndarray of uint8, shape (size, size, 4), or None
    strokes : int
    """
    if not isinstance(value, Mapping):
        return None, 0
    uri, strokes = value.get("png"), value.get("strokes")
    if not isinstance(uri, str) or not uri.startswith(PNG_PREFIX) or len(uri) > MAX_URI_CHARS:
        return None, 0
    if not isinstance(strokes, int | float) or not 0 < strokes < 100_000:
        return None, 0
    try:
        raw = base64.b64decode(uri[len(PNG_PREFIX):], validate=True)
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as img:
            if img.size != (size, size):  # read from the header: nothing is decoded yet
                return None, 0
            rgba = np.asarray(img.convert("RGBA"))
    except (binascii.Error, ValueError, OSError, Image.DecompressionBombError):
        return None, 0
    return rgba, int(strokes)
