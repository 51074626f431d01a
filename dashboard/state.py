"""What a user has set up, kept in the URL (``st.query_params``) and the session.

The view a user builds (dataset, split, value and colour scale, class filter,
page, page size, inspected sample, chosen pixel, an explicit subset of samples)
must survive page switches, browser Back/Forward and reload, and a copied link
must reproduce it. Session state keeps it across page switches; the URL keeps
it across reloads and links.

The first half of this module is pure: it turns views into query-parameter
strings and back, and treats every value from a URL as hostile (a URL is
typed, pasted, edited): a value that does not parse or is out of range is
dropped (the default is used), never raised. It is tested without Streamlit.

The second half talks to Streamlit: which URL values are new to this session
(:func:`url_news`), writing this session's values back in one history entry
(:func:`write_url`), and the contract :func:`open_in_explore`.

URL parameters (all optional)::

    ds=mnist  split=train  scale=1  cmap=Viridis          (every page: the sidebar)
    classes=3,7  page=5  per=48  sample=1719  px=10,12    (Explore; page counts from 1)
    sel=<token>  ids=0-99,105                             (Explore: an explicit subset)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

SIDEBAR_KEYS = ("ds", "split", "scale", "cmap")
EXPLORE_KEYS = ("classes", "page", "per", "sample", "px", "sel", "ids")
# A subset's index list goes into the URL only while it is short; longer ones
# stay in session state and the URL carries the token alone.
MAX_IDS_CHARS = 1500
MAX_SUBSETS = 8  # subsets kept per session (each can be a 70,000-long index array)
_INT = re.compile(r"^\s*[+-]?\d{1,12}\s*$")
_TOKEN = re.compile(r"^[0-9a-f]{6,40}$")


# --- pure: values <-> strings ----------------------------------------------------


def parse_int(text: Any, lo: int, hi: int) -> int | None:
    """``text`` as an int in ``lo..hi`` (inclusive), or None if it is not one.

    Parameters
    ----------
    text : Any
        A query-parameter value (normally str; a list means a repeated key, and
        its last value is used as Streamlit does).
    lo, hi : int
        Allowed range.

    Returns
    -------
    int or None
        None for anything else: ``"abc"``, ``"1.5"``, ``""``, out of range.
    """
    if isinstance(text, list | tuple):
        text = text[-1] if text else None
    if not isinstance(text, str | int) or isinstance(text, bool):
        return None
    if isinstance(text, str) and not _INT.match(text):
        return None
    value = int(text)
    return value if lo <= value <= hi else None


def parse_int_list(text: Any, lo: int, hi: int, max_items: int = 1000) -> tuple[int, ...] | None:
    """``"3,7"`` as ``(3, 7)``: sorted, unique, each in ``lo..hi``.

    Items that are not valid ints in range are dropped; None when the text is
    not a string or has more than ``max_items`` items.
    """
    if isinstance(text, list | tuple):
        text = text[-1] if text else None
    if not isinstance(text, str):
        return None
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) > max_items:
        return None
    values = {parse_int(p, lo, hi) for p in parts}
    return tuple(sorted(v for v in values if v is not None))


def encode_indices(indices: Iterable[int]) -> str:
    """Sample indices as compact ranges: ``[0, 1, 2, 3, 7, 9, 10]`` -> ``"0-3,7,9-10"``.

    The indices are sorted and deduplicated first.
    """
    values = np.unique(np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices,
                                  dtype=np.int64))
    if values.size == 0:
        return ""
    breaks = np.flatnonzero(np.diff(values) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [values.size - 1]])
    parts = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        a, b = int(values[s]), int(values[e])
        parts.append(str(a) if a == b else f"{a}-{b}")
    return ",".join(parts)


def decode_indices(text: Any, n_samples: int, max_chars: int = 4 * MAX_IDS_CHARS) -> np.ndarray | None:
    """Inverse of :func:`encode_indices`, for a dataset of ``n_samples``.

    Parts that do not parse or reach outside ``0..n_samples-1`` are dropped.
    Returns None for a non-string, an over-long text or nothing valid: never
    allocates more than ``n_samples`` entries, whatever the ranges claim.
    """
    if isinstance(text, list | tuple):
        text = text[-1] if text else None
    if not isinstance(text, str) or not text or len(text) > max_chars or n_samples <= 0:
        return None
    keep = np.zeros(n_samples, dtype=bool)  # bounded by the dataset, not by the text
    for part in text.split(","):
        a, sep, b = part.partition("-")
        lo = parse_int(a, 0, n_samples - 1)
        hi = parse_int(b, 0, n_samples - 1) if sep else lo
        if lo is None or hi is None or hi < lo:
            continue
        keep[lo : hi + 1] = True
    found = np.flatnonzero(keep)
    return found if found.size else None


def subset_token(indices: np.ndarray, label: str = "") -> str:
    """A short stable name of a subset (the same indices and label give the same token)."""
    h = hashlib.sha1(np.ascontiguousarray(np.asarray(indices, dtype=np.int64)).tobytes())
    h.update(label.encode("utf-8", "replace"))
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class SidebarView:
    """The sidebar's choices; None means "not given" (the app's default is used)."""

    dataset: str | None = None
    split: str | None = None
    scale: str | None = None
    colors: str | None = None


def encode_sidebar(
    view: SidebarView, scale_codes: Mapping[str, str], default: SidebarView = SidebarView()
) -> dict[str, str]:
    """Query parameters of ``view``; ``scale_codes`` maps a scale label to its URL code.

    Values equal to ``default``'s are left out (a plain view has a plain URL).
    """
    out = {}
    if view.dataset is not None and view.dataset != default.dataset:
        out["ds"] = view.dataset
    if view.split is not None and view.split != default.split:
        out["split"] = view.split
    if view.scale is not None and view.scale in scale_codes and view.scale != default.scale:
        out["scale"] = scale_codes[view.scale]
    if view.colors is not None and view.colors != default.colors:
        out["cmap"] = view.colors
    return out


def decode_sidebar(
    params: Mapping[str, Any],
    *,
    datasets: Sequence[str],
    splits: Sequence[str],
    scale_codes: Mapping[str, str],
    colorscales: Sequence[str],
) -> SidebarView:
    """The sidebar view in ``params``; unknown names are dropped (None).

    Parameters
    ----------
    params : mapping
        Query parameters (``st.query_params.to_dict()`` or any dict of str).
    datasets, splits, colorscales : sequence of str
        The allowed values.
    scale_codes : mapping
        Scale label -> URL code (e.g. ``{"0–255": "255", "0–1": "1"}``).
    """
    def pick(key: str, allowed: Sequence[str]) -> str | None:
        value = params.get(key)
        if isinstance(value, list | tuple):
            value = value[-1] if value else None
        return value if isinstance(value, str) and value in allowed else None

    by_code = {code: label for label, code in scale_codes.items()}
    code = pick("scale", list(by_code))
    return SidebarView(pick("ds", datasets), pick("split", splits),
                       by_code[code] if code is not None else None, pick("cmap", colorscales))


@dataclass(frozen=True)
class ExploreView:
    """Explore's state. ``page`` counts from 0 here and from 1 in the URL.

    Parameters
    ----------
    classes : tuple of int
        Class filter (empty = all classes).
    page : int
        0-based page number (clamped to the pages there are when shown).
    per_page : int
        Samples per page.
    sample : int or None
        The inspected sample's dataset index.
    pixel : (int, int) or None
        The chosen pixel (row, column).
    subset : str or None
        Token of an explicit subset (see :func:`open_in_explore`).
    ids : str or None
        That subset's indices in :func:`encode_indices` form, when short enough for a URL.
    """

    classes: tuple[int, ...] = ()
    page: int = 0
    per_page: int = 48
    sample: int | None = None
    pixel: tuple[int, int] | None = None
    subset: str | None = None
    ids: str | None = None


def encode_explore(view: ExploreView, default: ExploreView = ExploreView()) -> dict[str, str]:
    """Query parameters of ``view``; values equal to ``default``'s are left out.

    A view nobody changed has a plain URL, and opening the app adds no history
    entry that Back would have to step over.
    """
    out: dict[str, str] = {}
    if view.classes:
        out["classes"] = ",".join(str(c) for c in sorted(view.classes))
    if view.page:
        out["page"] = str(view.page + 1)
    if view.per_page != default.per_page:
        out["per"] = str(view.per_page)
    if view.sample is not None and view.sample != default.sample:
        out["sample"] = str(view.sample)
    if view.pixel is not None and view.pixel != default.pixel:
        out["px"] = f"{view.pixel[0]},{view.pixel[1]}"
    if view.subset:
        out["sel"] = view.subset
        if view.ids:
            out["ids"] = view.ids
    return out


def decode_explore(
    params: Mapping[str, Any],
    *,
    n_samples: int,
    n_classes: int,
    shape: tuple[int, int],
    page_sizes: Sequence[int],
    default: ExploreView = ExploreView(),
) -> ExploreView:
    """Explore's view in ``params``, each hostile value replaced by ``default``'s.

    Parameters
    ----------
    params : mapping
        Query parameters.
    n_samples, n_classes : int
        Of the dataset shown: ``sample=70000`` on a 60,000-sample set or
        ``classes=99`` on ten classes are dropped.
    shape : (int, int)
        Image ``(h, w)``: the pixel must lie inside it.
    page_sizes : sequence of int
        Allowed page sizes.
    default : ExploreView
        What a missing or bad value falls back to.

    Returns
    -------
    ExploreView
        ``page`` is at least 0 but not clamped to the number of pages (that
        depends on the filter; :func:`dashboard.explore.browse.make_page` clamps).
    """
    classes = parse_int_list(params.get("classes"), 0, n_classes - 1, max_items=max(n_classes, 1))
    page = parse_int(params.get("page"), 1, 10**9)
    per = parse_int(params.get("per"), 1, max(page_sizes))
    sample = parse_int(params.get("sample"), 0, n_samples - 1)
    pixel = None
    px = params.get("px")
    if isinstance(px, list | tuple):
        px = px[-1] if px else None
    if isinstance(px, str) and px.count(",") == 1:
        r, c = px.split(",")
        r, c = parse_int(r, 0, shape[0] - 1), parse_int(c, 0, shape[1] - 1)
        pixel = (r, c) if r is not None and c is not None else None
    sel = params.get("sel")
    if isinstance(sel, list | tuple):
        sel = sel[-1] if sel else None
    sel = sel if isinstance(sel, str) and _TOKEN.match(sel) else None
    ids = params.get("ids") if sel else None
    if isinstance(ids, list | tuple):
        ids = ids[-1] if ids else None
    return ExploreView(
        classes=classes if classes is not None and "classes" in params else default.classes,
        page=page - 1 if page is not None else default.page,
        per_page=per if per in page_sizes else default.per_page,
        sample=sample if sample is not None else default.sample,
        pixel=pixel if pixel is not None else default.pixel,
        subset=sel if sel is not None else (None if "sel" in params else default.subset),
        ids=ids if isinstance(ids, str) and len(ids) <= 4 * MAX_IDS_CHARS else None,
    )


def merged_params(current: Mapping[str, Any], owned: Iterable[str], values: Mapping[str, str]) -> dict[str, Any]:
    """``current`` with the ``owned`` keys replaced by ``values`` (absent in it = removed).

    Keys owned by other pages (the Train form's, say) are kept as they are.
    """
    owned = set(owned)
    out = {k: v for k, v in current.items() if k not in owned}
    out.update({k: v for k, v in values.items() if k in owned})
    return out


# --- Streamlit: session + URL ----------------------------------------------------

# Session-state keys of this module.
K_WRITTEN = "url_written"  # {scope: {key: value}} as this session last wrote them
K_SUBSETS = "explore_subsets"  # {token: (label, indices)}
K_PENDING = "explore_pending"  # an ExploreView set by open_in_explore, applied by Explore


def _state():
    import streamlit as st

    return st.session_state


def url_news(scope: str, keys: Sequence[str]) -> dict[str, str] | None:
    """The URL's values of ``keys`` if they came from outside this session, else None.

    "From outside" means they differ from what this session last wrote for
    ``scope``: a reload, a pasted link, browser Back/Forward, ``st.switch_page``
    with query parameters. An empty URL (a page switch in the sidebar clears
    Streamlit's query parameters) is no news: the session's state stands.
    """
    import streamlit as st

    now = {k: st.query_params[k] for k in keys if k in st.query_params}
    if not now:
        return None
    written = _state().get(K_WRITTEN, {}).get(scope)
    return None if now == written else now


K_PAGE = "url_page"  # url path of the page the current full run draws
K_PREVIOUS_PAGE = "url_previous_page"  # the page of the full run before this one
K_PAGE_URLS = "url_of_page"  # {url path: query parameters that page last showed}


def begin_run(page: str) -> None:
    """Call at the start of every full script run, before any page code, with its url path."""
    state = _state()
    state[K_PREVIOUS_PAGE] = state.get(K_PAGE)
    state[K_PAGE] = page


def arrived() -> bool:
    """Whether this run is the first of its page since another page (or none) ran.

    A page's elements are then new in the browser (drawn from scratch), while a rerun of
    the same page updates them in place.
    """
    state = _state()
    return state.get(K_PREVIOUS_PAGE) != state.get(K_PAGE)


def remember_page_url() -> None:
    """Record the URL the current page shows now (its sidebar link carries it back later)."""
    import streamlit as st

    state = _state()
    if state.get(K_PAGE) is not None:
        state.setdefault(K_PAGE_URLS, {})[state[K_PAGE]] = st.query_params.to_dict()


def link_params(recorded: Mapping[str, str] | None, current: Mapping[str, str],
                sidebar_keys: Sequence[str] = SIDEBAR_KEYS) -> dict[str, str]:
    """The query parameters a link to another page carries.

    That page's own parameters as it last showed them (``recorded``), with the
    sidebar's as they are now (``current``). A page switch that lands on the
    whole URL at once is one history entry: a page that had to write its URL
    after arriving made a second one, and Back from it stayed on the same page
    or landed on the page before with half its parameters (issue 9).

    Parameters
    ----------
    recorded : mapping or None
        The target page's query parameters when it was last drawn (None: never).
    current : mapping
        The query parameters of the page drawn now.
    sidebar_keys : sequence of str
        The keys every page shares (dataset, split, scale, colours).

    Returns
    -------
    dict
        Query parameters for ``st.page_link``.
    """
    out = {k: str(v) for k, v in (recorded or {}).items() if k not in sidebar_keys}
    out.update({k: str(current[k]) for k in sidebar_keys if k in current})
    return out


def put_url(values: Mapping[str, str | None]) -> None:
    """Set (or, for None or "", remove) query parameters, in one message: one history entry.

    Every page writes the URL through this (or :func:`write_url`): each
    separate assignment to ``st.query_params`` is a separate Back step.
    Nothing is sent when the URL already says so.
    """
    import streamlit as st

    current = st.query_params.to_dict()
    wanted = dict(current)
    for key, value in values.items():
        if value is None or value == "":
            wanted.pop(key, None)
        else:
            wanted[key] = str(value)
    if wanted != current:
        st.query_params.from_dict(wanted)
        remember_page_url()  # a fragment's run does not reach the end of the page


def write_url(scope: str, keys: Sequence[str], values: Mapping[str, str]) -> None:
    """Put ``values`` (for the ``keys`` this scope owns) in the URL, in one history entry.

    Nothing is sent when the URL already says so; other scopes' keys are kept.
    """
    values = {k: str(v) for k, v in values.items() if k in keys}
    _state().setdefault(K_WRITTEN, {})[scope] = dict(values)
    put_url({k: values.get(k) for k in keys})  # this scope's keys absent from values: removed


def remember_subset(indices: np.ndarray, label: str) -> str:
    """Keep ``indices`` under a token in session state (the last :data:`MAX_SUBSETS`)."""
    indices = np.unique(np.asarray(indices, dtype=np.int64))
    token = subset_token(indices, label)
    subsets = _state().setdefault(K_SUBSETS, {})
    subsets.pop(token, None)
    subsets[token] = (label, indices)
    while len(subsets) > MAX_SUBSETS:
        subsets.pop(next(iter(subsets)))
    return token


def recall_subset(token: str | None) -> tuple[str, np.ndarray] | None:
    """``(label, indices)`` of a token of this session, or None."""
    if not token:
        return None
    return _state().get(K_SUBSETS, {}).get(token)


def open_in_explore(*, indices: Iterable[int] | None = None, label: str = "", sample: int | None = None) -> None:
    """Show samples in Explore: an explicit subset in its grid and/or one sample inspected.

    Pages that send the user to Explore (a map selection, a confusion cell,
    label suspects) call only this. The subset is kept in session state and
    named in the URL by a token (plus its indices, when few enough to fit), so
    Back and a reload keep it; Explore shows ``label`` above the grid and a
    button to clear it.

    Parameters
    ----------
    indices : iterable of int, optional
        Dataset indices (of the dataset and split chosen in the sidebar) to show.
    label : str
        What the subset is, e.g. ``"Map selection"`` or ``"true 3, predicted 5"``.
    sample : int, optional
        Dataset index to inspect; by default the subset's first sample. When given,
        Explore draws its inspector before its grid (it is what the user asked to see).

    Notes
    -----
    Ends the current script run (``st.switch_page``), like any page switch.
    """
    import streamlit as st

    from dashboard.views import explore

    view = ExploreView()
    old = _state().get(explore.K_VIEW)
    if isinstance(old, ExploreView):
        view = replace(old, classes=(), page=0, subset=None, ids=None)
    if indices is not None:
        arr = np.unique(np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices,
                                   dtype=np.int64))
        token = remember_subset(arr, label or "Selection")
        ids = encode_indices(arr)
        view = replace(view, subset=token, ids=ids if len(ids) <= MAX_IDS_CHARS else None)
    if sample is not None:
        # A sample the user picked: the inspector is what they wait for, so Explore sends it first.
        _state()[explore.K_INSPECT_FIRST] = True
    elif indices is not None and arr.size:
        sample = int(arr[0])
    if sample is not None:
        view = replace(view, sample=int(sample))
    _state()[K_PENDING] = view
    params = merged_params(st.query_params.to_dict(), EXPLORE_KEYS, encode_explore(view, explore.default_view()))
    st.switch_page(st.Page(explore.page, title="Explore", url_path="explore"), query_params=params)
