"""What every page shares: the sidebar and the chosen dataset.

Catalog datasets are decoded once per server process (``st.cache_resource``)
and shared by every session; a user's uploads live in that user's
``st.session_state`` only. Pages call :func:`current_dataset` and friends and
never load data themselves.
"""

# NOTE to page authors: page modules live in dashboard/views/ (``def page() -> None``),
# never in a folder named ``pages`` beside app.py: that name switches Streamlit to its
# legacy multipage mode, and AppTest then renders nothing after the first run.

from __future__ import annotations

import functools
import os
import re
import traceback
import weakref
from collections.abc import Callable
from functools import partial
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import limits, state as url_state
from dashboard.data.catalog import CATALOG, DIGITS_NAME, DIGITS_TITLE, dataset_names
from dashboard.data.dataset import Dataset
from dashboard.data.loading import cache_dir, is_available, load_dataset
from dashboard.data.userdata import clean_name, holdout_split, read_files
from dashboard.errors import DashboardError, DataError
from dashboard.lab.runs import default_runs_dir
from dashboard.limits import UploadLedger

SCALES = {"0–255": 255.0, "0–1": 1.0}
SCALE_CODES = {"0–255": "255", "0–1": "1"}  # how a scale is written in the URL
COLORSCALES = ("gray", "gray_r", "Viridis", "Hot", "Blues")
DEFAULT_DATASET = "mnist"
UPLOAD_PREFIX = "upload: "

# Session-state keys owned by the shell.
K_NAME, K_SPLIT, K_SCALE, K_COLORS = "ds_name", "ds_split", "value_scale", "colorscale"
K_UPLOADS, K_UPLOAD_SEEN, K_NOTICE, K_SWITCH = "uploads", "upload_seen", "ds_notice", "ds_switch_to"
K_CONTROLS = "sidebar_controls_drawn"  # this session's sidebar widgets have been drawn once


# Every ASCII punctuation character, each of which CommonMark lets a backslash escape.
_MARKDOWN_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")
# Escaped, these still let GitHub-flavoured markdown see "www.x.com", "http://x" or
# "a@b.c" and make a link of it (its autolinking runs on the decoded text, so character
# references do not help either): an invisible WORD JOINER (U+2060) breaks the pattern.
_WJ = "\u2060"
_AUTOLINKS = ((re.compile(r"(?i)(www)(\\\.)"), rf"\1{_WJ}\2"), (re.compile(r"(\\:)(\\/\\/)"), rf"\1{_WJ}\2"),
              (re.compile(r"\\@"), rf"{_WJ}\\@"))


def plain(text: object) -> str:
    """``text`` escaped for a markdown element (``st.caption``, ``st.success``...): shown as written.

    File names, class names and messages quoting them come from users; escaped,
    they never become bold, links, images, HTML, LaTeX or colour directives.

    Parameters
    ----------
    text : object
        Converted with ``str``.

    Returns
    -------
    str
        Markdown source that renders to exactly ``str(text)``, except that
        control and bidirectional-override characters (which would reorder
        what follows them) are shown as U+FFFD, and bare URLs, ``www.`` names
        and e-mail addresses get an invisible word joiner so they stay text,
        not links.
    """
    out = _MARKDOWN_PUNCT.sub(r"\\\1", clean_name(text))
    for pattern, repl in _AUTOLINKS:
        out = pattern.sub(repl, out)
    return out


@st.cache_resource(show_spinner="Decoding the dataset…", max_entries=8)
def load_shared(name: str, split: str) -> Dataset:
    """One decoded copy of a catalog split per server process, shared by all sessions."""
    return load_dataset(name, split)


def _title(name: str) -> str:
    if name.startswith(UPLOAD_PREFIX):
        return name
    return CATALOG[name].title if name in CATALOG else DIGITS_TITLE


def _download_with_progress(name: str) -> None:
    """Fetch a catalog set into data/ with a progress bar in the page."""
    from dashboard.data.download import fetch_dataset

    bar = st.progress(0.0, text=f"Downloading {_title(name)}…")
    last = [-1]

    def report(done: int, total: int | None, fname: str) -> None:
        pct = int(100 * done / total) if total else 0
        if pct != last[0]:  # one page update per percent, not per chunk
            last[0] = pct
            size = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
            bar.progress(min(pct, 100) / 100, text=f"Downloading {fname}: {size}")

    try:
        fetch_dataset(CATALOG[name], cache_dir(), progress=report)
    finally:
        bar.empty()


class HeldUpload(dict):
    """A session's upload, ``{label: splits}``: a dict the upload ledger can watch
    (weakly) to know when the session's state is gone."""


@st.cache_resource(show_spinner=False)
def _ledger() -> UploadLedger:
    return UploadLedger(limits.current().total_upload_bytes, is_active=_session_active)


def upload_ledger() -> UploadLedger:
    """The server's one account of upload memory, shared by every session (its
    capacity follows ``DASHBOARD_MAX_TOTAL_UPLOAD_MB`` as it is now)."""
    ledger = _ledger()
    ledger.capacity = limits.current().total_upload_bytes
    return ledger


def _runtime():
    from streamlit import runtime

    return runtime.get_instance() if runtime.exists() else None


def _session_active(session_id: str) -> bool:
    rt = _runtime()
    return True if rt is None else rt.is_active_session(session_id)


def _session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def _forget_files(session_id: str, files) -> None:
    """Drop the raw uploaded bytes Streamlit keeps for the widget: once decoded (or
    refused) they are not needed, and held they would cost up to 200 MB a session."""
    rt = _runtime()
    if rt is None:
        return
    for f in files:
        file_id = getattr(f, "file_id", None)
        if file_id:
            rt.uploaded_file_mgr.remove_file(session_id, file_id)


def _evict(session_id: str, held_ref: weakref.ref) -> None:
    """Free the upload of a session that is no longer connected (called by the ledger).

    Given a weak reference: the ledger must not keep the upload alive itself."""
    held = held_ref()
    if held is not None:
        held.clear()
    rt = _runtime()
    if rt is not None:
        rt.uploaded_file_mgr.remove_session_files(session_id)


def _handle_upload(files) -> None:
    """Read newly uploaded files into this session's one held upload (replacing the last).

    Checked against the budget (:mod:`dashboard.limits`) before reading; what the
    server holds for all sessions together is capped by :func:`upload_ledger`.
    """
    key = tuple((f.name, f.size, getattr(f, "file_id", "")) for f in files)
    if not files or st.session_state.get(K_UPLOAD_SEEN) == key:
        return
    st.session_state[K_UPLOAD_SEEN] = key
    sid = _session_id()
    ledger = upload_ledger()
    budget = limits.current()
    try:
        for f in files:
            budget.check_file_size(int(f.size), os.path.basename(f.name))
        if not ledger.room_for(sid, 1):
            ledger.hold(sid, 1, object(), lambda: None)  # raises the "server is full" message
        splits = read_files([(f.name, f.getvalue()) for f in files])
        label = UPLOAD_PREFIX + clean_name(os.path.basename(files[0].name))
        held = HeldUpload({label: splits})
        nbytes = sum(ds.images.nbytes + ds.labels.nbytes for ds in splits.values())
        ledger.hold(sid, nbytes, held, partial(_evict, sid, weakref.ref(held)))
    except DataError as exc:
        st.session_state[K_NOTICE] = ("error", plain(f"That file was not loaded: {exc}"))
        return
    finally:
        _forget_files(sid, files)
    # One upload per session: the last one replaces (and frees) the one before.
    st.session_state[K_UPLOADS] = held
    st.session_state.pop("upload_holdouts", None)
    st.session_state[K_SWITCH] = label
    first = next(iter(splits.values()))
    st.session_state[K_NOTICE] = ("success", plain(f"Loaded {first.describe()}."))
    st.rerun()


def sidebar(*, light: bool = False) -> DeltaGenerator | None:
    """Draw the sidebar (dataset, split, scale, colours, upload) and make sure the
    chosen dataset is loaded; falls back to the built-in digits when it cannot be.

    ``light``: the page will draw a light first page (a new tab's first run, see
    Explore). The chosen dataset and the URL are settled as always but, when that
    dataset is at hand and the session has not drawn the widgets yet, they are not
    drawn: their lazily loaded scripts held the thumbnails back (~0.4 s on 2 cores);
    the page's follow-up run draws them.
    Returns the place they go then (None when drawn): :func:`sidebar_controls`
    draws them there if the page could not finish its light page.
    """
    state = st.session_state
    uploads = state.get(K_UPLOADS, {})
    options = [*dataset_names(), *uploads]
    _apply_url(options, uploads)
    if K_SWITCH in state:  # set before the widget exists, as Streamlit requires
        state[K_NAME] = state.pop(K_SWITCH)
    if state.get(K_NAME) not in options:
        state[K_NAME] = DEFAULT_DATASET
    name = state[K_NAME]
    if state.get(K_SPLIT) not in _splits(name, uploads):
        state[K_SPLIT] = _splits(name, uploads)[0]
    # What the widgets would start at: a light run draws none, and the URL is written from these.
    state.setdefault(K_SCALE, next(iter(SCALES)))
    state.setdefault(K_COLORS, COLORSCALES[0])
    # Only before this session's first controls: a run that leaves out a widget drawn
    # before makes Streamlit drop its value (the dataset chosen would be forgotten).
    controls = not (light and not state.get(K_CONTROLS)
                    and (name in uploads or name == DIGITS_NAME or is_available(name)))
    with st.sidebar:
        st.header("Data")
        box = st.container()
    if controls:
        _widgets(box, options, uploads)
    # Shown by the run that draws the controls too: a light run's is drawn again right after.
    notice = state.pop(K_NOTICE, None) if controls else state.get(K_NOTICE)
    if notice:
        kind, text = notice
        getattr(st, kind)(text)
    if not (name in uploads or name == DIGITS_NAME or is_available(name)):
        _fetch_or_fall_back(name)
    if controls:
        _corrections_toggle(box)  # issue 12: "dataset + corrections" as a dataset like any other
    st.sidebar.caption(plain(current_dataset().describe()))  # names a user's file
    url_state.write_url("sidebar", url_state.SIDEBAR_KEYS,
                        url_state.encode_sidebar(_sidebar_view(), SCALE_CODES, _DEFAULT_VIEW))
    return None if controls else box


def sidebar_controls(box: DeltaGenerator) -> None:
    """The sidebar's widgets, into ``box`` (what :func:`sidebar` returned), for a light
    run whose page did not mount its paint watcher (it failed, say): no follow-up run
    would come to draw them."""
    uploads = st.session_state.get(K_UPLOADS, {})
    _widgets(box, [*dataset_names(), *uploads], uploads)
    _corrections_toggle(box)


def _splits(name: str, uploads) -> list[str]:
    return list(uploads[name]) if name in uploads else ["train", "test"]


def _widgets(box: DeltaGenerator, options: list[str], uploads) -> None:
    st.session_state[K_CONTROLS] = True
    with box:
        name = st.selectbox("Dataset", options, key=K_NAME, format_func=_title)
        st.radio("Split", _splits(name, uploads), key=K_SPLIT, horizontal=True)
        st.radio("Values", list(SCALES), key=K_SCALE, horizontal=True,
                 help="Show pixel values as stored (0–255) or divided by 255 (0–1), "
                      "as a model is fed them.")
        st.selectbox("Colour scale", COLORSCALES, key=K_COLORS)
        with st.expander("Your own data"):
            files = st.file_uploader(
                "CSV, NPZ or IDX files", type=None, accept_multiple_files=True, key="upload_files",
                help="CSV: label, then one column per pixel. NPZ: images + labels arrays. "
                     "IDX: the image file and its label file together.",
            )
    _handle_upload(files or [])


_DEFAULT_VIEW = url_state.SidebarView(DEFAULT_DATASET, "train", "0–255", COLORSCALES[0])


def _sidebar_view() -> url_state.SidebarView:
    state = st.session_state
    return url_state.SidebarView(state.get(K_NAME), state.get(K_SPLIT), state.get(K_SCALE), state.get(K_COLORS))


def _apply_url(options: list[str], uploads: dict) -> None:
    """A reload, a link or Back/Forward: the URL's dataset, split, scale and colours win.

    Missing values mean the defaults; a dataset the URL names that this session
    does not have (another session's upload, a typo) is said, not raised.
    """
    news = url_state.url_news("sidebar", url_state.SIDEBAR_KEYS)
    if news is None:
        return
    splits = sorted({"train", "test", *(sp for name in uploads for sp in uploads[name])})
    view = url_state.decode_sidebar(news, datasets=options, splits=splits, scale_codes=SCALE_CODES,
                                    colorscales=COLORSCALES)
    state = st.session_state
    if "ds" in news and view.dataset is None:
        state[K_NOTICE] = ("info", plain(
            f"This link names the dataset {news['ds'][:80]!r}, which is not loaded here "
            f"(an upload lives only in the browser tab that uploaded it); showing {_title(DEFAULT_DATASET)}."
        ))
    state[K_NAME] = view.dataset or _DEFAULT_VIEW.dataset
    state[K_SPLIT] = view.split or _DEFAULT_VIEW.split
    state[K_SCALE] = view.scale or _DEFAULT_VIEW.scale
    state[K_COLORS] = view.colors or _DEFAULT_VIEW.colors


def _fetch_or_fall_back(name: str) -> None:
    try:
        _download_with_progress(name)
    except DataError as exc:
        st.session_state[K_SWITCH] = DIGITS_NAME
        # The error's first line says again what the advice below says: keep only its reasons.
        reasons = "\n".join(line for line in str(exc).splitlines()[1:] if line.strip())
        st.session_state[K_NOTICE] = ("warning", (
            f"{_title(name)} is not on this machine and could not be downloaded "
            f"(no internet connection?). Showing scikit-learn's built-in 8x8 digits instead. "
            f"To get {_title(name)}: in the project folder, run "
            f"`.venv/bin/python -m dashboard fetch {name}` where there is internet, or copy its "
            f"four files ({', '.join(CATALOG[name].file_names)}) into `{cache_dir() / name}/`."
            + (f"\n\nWhat was tried:\n{reasons}" if reasons else "")
        ))
        st.rerun()


def current_name() -> str:
    """Name of the chosen dataset (a catalog name or ``"upload: <file>"``)."""
    return st.session_state.get(K_NAME, DEFAULT_DATASET)


def current_split() -> str:
    return st.session_state.get(K_SPLIT, "train")


def get_split(name: str, split: str) -> Dataset:
    """A split of a catalog set (shared) or of one of this session's uploads."""
    uploads = st.session_state.get(K_UPLOADS, {})
    if name in uploads:
        return uploads[name][split]
    return load_shared(name, split)


K_CORRECTED = "ds_corrected"


def _corrections_toggle(box: DeltaGenerator) -> None:
    """A sidebar switch to use the label corrections made on the Review page, when there are any."""
    from dashboard.data.corrections import corrections_path

    if corrections_path(get_split(current_name(), current_split())).is_file():
        box.toggle("With my label corrections", key=K_CORRECTED,
                   help="Use this split with the relabels and exclusions saved on the "
                        "Review labels page (the original files are never changed).")


@st.cache_resource(max_entries=4, show_spinner=False)
def _corrected(_ds: Dataset, checksum: str, version: int, _corr) -> Dataset:
    from dashboard.data.corrections import apply_corrections

    return apply_corrections(_ds, _corr)


def with_corrections(ds: Dataset) -> Dataset:
    """``ds`` with its saved corrections when the sidebar switch is on, else ``ds``."""
    if not st.session_state.get(K_CORRECTED):
        return ds
    from dashboard.data.corrections import load_corrections

    try:
        corr = load_corrections(ds)
    except DataError as exc:
        st.warning(plain(f"Label corrections not used: {exc}"))
        return ds
    if corr is None or not corr.state_id:
        return ds
    return _corrected(ds, ds.checksum, corr.version, corr)


def current_dataset() -> Dataset:
    """The dataset and split chosen in the sidebar (with corrections if chosen). Shared: never modify it."""
    return with_corrections(get_split(current_name(), current_split()))


def train_test() -> tuple[Dataset, Dataset]:
    """Train and test splits of the chosen set; an upload with one split is held out 80/20."""
    name = current_name()
    uploads = st.session_state.get(K_UPLOADS, {})
    if name in uploads and set(uploads[name]) != {"train", "test"}:
        cache = st.session_state.setdefault("upload_holdouts", {})
        if name not in cache:
            cache[name] = holdout_split(next(iter(uploads[name].values())))
        return tuple(with_corrections(d) for d in cache[name])
    return with_corrections(get_split(name, "train")), with_corrections(get_split(name, "test"))


def value_scale() -> float:
    """255.0 or 1.0: a pixel is shown as ``pixel * value_scale() / 255``."""
    return SCALES[st.session_state.get(K_SCALE, "0–255")]


def colorscale() -> str:
    return st.session_state.get(K_COLORS, COLORSCALES[0])


def runs_dir() -> Path:
    """Where training runs are kept (see :func:`dashboard.lab.runs.default_runs_dir`)."""
    return default_runs_dir()


def show_failure(exc: BaseException, what: str = "This page") -> None:
    """Show an exception as a message, never as a bare traceback.

    A :class:`DashboardError` is written for the user: its message alone. Anything
    else is a bug: a short message, with the traceback folded away for a report.
    """
    if isinstance(exc, DashboardError):
        st.error(plain(str(exc)))
        return
    st.error(plain(f"{what} ran into an unexpected problem ({type(exc).__name__}: {str(exc)[:200]}). "
                   "The rest of the app still works; the details below help to report it."))
    with st.expander("Details (for a bug report)"):
        st.code("".join(traceback.format_exception(exc)), language=None)


def guarded(view: Callable[[], None], what: str = "This page") -> Callable[[], None]:
    """``view`` with its failures shown by :func:`show_failure` (Streamlit's own
    rerun/stop/page-switch signals pass through: they are not ``Exception``)."""

    @functools.wraps(view)
    def run() -> None:
        try:
            view()
        except Exception as exc:  # noqa: BLE001 - the last line before a traceback page
            show_failure(exc, what)

    return run
