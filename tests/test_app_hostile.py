"""Hostile uploads in the real app (AppTest): names are shown as text, never rendered or used as paths.

A file name or class name from a user may appear in plain-text elements
(text, code, dataframe, plotly, widget options) as it is; in an element that
renders markdown (caption, success, error, headings...) only escaped, so that
it renders to exactly the same characters. Nothing is written under the name,
and nothing from a user is unpickled.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests import crafted
from tests.conftest import ROOT, real_app

MARKER = "zq7"  # in every hostile name, to find it anywhere
XSS = f"<img src=x onerror=alert(1)>{MARKER}"
MD = f"**bold** [link](x) :red[hi] $x^2$ {MARKER}"
CLASS_NAMES = ["**bold**", "<script>alert(1)</script>", "[a](http://evil.example)", ":red[red]",
               f"$\\sqrt{{x}}$ {MARKER}"]

# Elements whose text Streamlit renders as markdown, and those it shows as given.
MARKDOWN = {"markdown", "caption", "success", "error", "warning", "info", "title", "header",
            "subheader", "toast", "exception", "progress"}
PLAIN = {"text", "code", "dataframe", "plotly_chart", "selectbox", "multiselect", "radio", "json"}
# Components of ours that set text with textContent only (tests/test_tilegrid.py checks the script).
PLAIN_COMPONENTS = {"dashboard.tilegrid"}



def escaped(text: str) -> str:
    """CommonMark's backslash escape of every ASCII punctuation character (and the word
    joiner that keeps a URL from being linked): what shell.plain makes of ``text``."""
    from dashboard.shell import plain

    return plain(text)


def walk(node):
    children = getattr(node, "children", None)
    if children:
        for child in children.values():
            yield from walk(child)
    else:
        yield node


def assert_shown_as_text(at: AppTest, raw: str) -> int:
    """``raw`` appears only in plain-text elements, or escaped in markdown ones.

    Returns how many elements show it (so a test can insist that it is shown at all).
    """
    shown = 0
    for el in walk(at._tree):
        proto = getattr(el, "proto", None)
        if proto is None:
            continue
        if el.type in MARKDOWN:
            body = proto.text if el.type == "progress" else proto.body  # st.progress text is markdown
            assert raw not in body, f"{el.type} renders {raw!r} as markdown: {body!r}"
            shown += escaped(raw) in body
            continue
        if el.type in ("image", "imgs"):  # st.image: captions render markdown too
            for img in proto.imgs:
                assert raw not in img.caption, f"an image caption renders {raw!r}: {img.caption!r}"
                shown += escaped(raw) in img.caption
            continue
        label = getattr(proto, "label", "")
        assert raw not in label, f"{el.type} label renders {raw!r} as markdown"
        if el.type == "page_link":  # the sidebar's page list: a name only in the link's encoded URL
            assert raw not in proto.query_string and raw not in proto.help, proto
            continue
        if el.type == "bidi_component":  # our own components put text in the page with textContent
            if MARKER in proto.json or raw in proto.json:
                assert proto.component_name in PLAIN_COMPONENTS, f"{raw!r} shown by {proto.component_name}"
                shown += 1
            continue
        if MARKER in str(proto) or raw in str(proto):
            assert el.type in PLAIN, f"{raw!r} shown by a {el.type} element"
            shown += 1
    return shown


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def digits_csv(ds, n=40) -> bytes:
    rows = [",".join(map(str, [lab, *img.ravel()])) for lab, img in zip(ds.labels[:n], ds.images[:n])]
    return ("\n".join(rows) + "\n").encode()


def app(page: str = "explore") -> AppTest:
    at = real_app(page)
    at.run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="upload_files").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    return at


def files_named_like_uploads(*roots: Path) -> list[str]:
    found = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in (".venv", ".git", "node_modules")]
            found += [os.path.join(folder, n) for n in dirs + files if MARKER in n or "onerror" in n]
    return found


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path


@pytest.mark.parametrize("page", ["explore", "train"])
def test_hostile_file_name_is_plain_text_and_never_a_file(digits_train, cache, page):
    at = upload(app(page), f"{XSS}.csv", digits_csv(digits_train, 200))
    assert at.selectbox(key="ds_name").value == f"upload: {XSS}.csv"
    assert not any("not loaded" in e.value for e in at.error)
    assert assert_shown_as_text(at, XSS) >= 2  # the success notice and the sidebar, at least
    (notice,) = at.success
    assert notice.value == escaped(f"Loaded {XSS} (all): 200 images of 8x8, 10 classes.")
    assert files_named_like_uploads(ROOT, cache) == []


def test_train_page_on_an_upload_too_small_to_split_says_so(digits_train, cache):
    # It raised an uncaught DataError (Streamlit's exception box) before.
    at = upload(app("train"), f"{XSS}.csv", digits_csv(digits_train, 40))
    (error,) = at.error
    assert "cannot be trained on" in error.value and "too small" in error.value
    assert escaped(XSS) in error.value
    assert_shown_as_text(at, XSS)


def test_hostile_name_in_an_error_message_is_escaped(cache):
    at = upload(app(), f"{MD}.csv", b"1,2,3\n")
    (error,) = at.error
    assert "not a square" in error.value and escaped(MD) in error.value and MD not in error.value
    assert assert_shown_as_text(at, MD) >= 1
    assert files_named_like_uploads(ROOT, cache) == []


def test_a_name_with_slashes_is_cut_to_its_last_part(digits_train, cache):
    at = upload(app(), f"**bold** [link](http://x)/../../{MARKER}.csv", digits_csv(digits_train))
    assert at.selectbox(key="ds_name").value == f"upload: {MARKER}.csv"
    assert files_named_like_uploads(ROOT, cache) == []


@pytest.mark.parametrize("page", ["explore", "overview", "train"])
def test_class_names_from_an_npz_are_plain_text(cache, page):
    rng = np.random.default_rng(0)
    labels = np.arange(60) % len(CLASS_NAMES)
    data = npz(x=rng.integers(0, 256, (60, 8, 8), dtype=np.uint8), y=labels, class_names=np.array(CLASS_NAMES))
    at = upload(app(page), f"{XSS}.npz", data)
    assert not any("not loaded" in e.value for e in at.error)
    ds = at.session_state["uploads"][f"upload: {XSS}.npz"]["all"]
    assert ds.class_names == tuple(CLASS_NAMES)
    for name in CLASS_NAMES:
        assert_shown_as_text(at, name)
    assert_shown_as_text(at, XSS)
    if page == "explore":
        # The class filter lists the names as they are (widget options are plain text).
        assert at.multiselect(key="explore_classes").options == CLASS_NAMES


def test_training_on_hostile_class_names_shows_them_as_text(cache):
    from dashboard.views import train as tv

    rng = np.random.default_rng(1)
    labels = np.arange(200) % len(CLASS_NAMES)
    images = rng.integers(0, 60, (200, 8, 8), dtype=np.uint8)
    images[np.arange(200), labels, :] = 255  # a learnable stripe per class
    at = upload(app("train"), f"{XSS}.npz", npz(x=images, y=labels, class_names=np.array(CLASS_NAMES)))
    at.selectbox(key=tv.K_PRESET).set_value("quick").run()
    for key, value in ((tv.K_HIDDEN, "8"),):
        at.text_input(key=key).set_value(value)
    for key, value in ((tv.K_EPOCHS, 3), (tv.K_SIZE, 0), (tv.K_BATCH, 20)):
        at.number_input(key=key).set_value(value)
    at.button(key=tv.K_START).click().run()
    assert not at.error, [e.value for e in at.error]
    from dashboard.lab import jobs

    info = jobs.default_queue().wait(at.session_state[tv.K_JOB], timeout=180)  # in a worker process
    assert info.finished and info.error is None, info
    at.run()  # the live fragment sees the end and reruns the page
    at.run()
    assert not at.exception, at.exception
    assert [m.label for m in at.metric][:1] == ["Test accuracy"]
    captions = [img.caption for el in walk(at._tree) if el.type == "image" for img in el.proto.imgs]
    assert captions, "the results show images with class-name captions"
    for name in CLASS_NAMES:
        assert_shown_as_text(at, name)


class Boom:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}-unpickled",))


def test_pickled_object_array_is_refused_with_the_message(cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the payload would leave its trace
    data = npz(x=np.array([Boom(), 1], dtype=object), y=np.array([0, 1]))
    at = upload(app(), "evil.npz", data)
    (error,) = at.error
    assert "That file was not loaded" in error.value and "Python objects" in error.value
    assert at.selectbox(key="ds_name").value == "mnist"
    # A plain pickle renamed .npz is refused as well.
    at = upload(app(), "evil2.npz", pickle.dumps(Boom()))
    assert any("not loaded" in e.value for e in at.error)
    assert not list(tmp_path.glob(f"{MARKER}*")) and not (ROOT / f"{MARKER}-unpickled").exists()


def test_upload_limit_is_set_and_stated_the_same_in_the_readme():
    """The 200 MB limit is Streamlit's server.maxUploadSize; the browser refuses larger files
    with Streamlit's own message (tested in the browser suite, not here)."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    limit = config["server"]["maxUploadSize"]
    assert limit == 200
    readme = (ROOT / "README.md").read_text()
    assert f"**{limit} MB**" in readme and "server.maxUploadSize" in readme
    # And Streamlit itself, started from the project folder, reads that value.
    import subprocess

    code = ("from streamlit import config; config.get_config_options(force_reparse=True); "
            "print(config.get_option('server.maxUploadSize'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == str(limit), out.stderr


def test_plotly_figures_show_class_names_as_text():
    """Plotly renders <b>, <a href>... in labels: user class names reach it escaped."""
    from dashboard.explore import overview
    from dashboard.lab import train_figures

    names = ["<b>x</b>", '<a href="https://evil.example">y</a>', "a & b"]
    k = len(names)
    figs = [
        train_figures.confusion_figure(np.eye(k, dtype=int), names),
        train_figures.per_class_figure([1.0] * k, [1.0] * k, [1.0] * k, names),
        train_figures.probability_figure([0.2, 0.3, 0.5], names),
        overview.counts_figure(np.array([1, 2, 3]), names, 1.0),
    ]
    for fig in figs:
        labels = [str(v) for trace in fig.data for axis in (trace.x, trace.y) if axis is not None
                  for v in axis]
        assert "&lt;b&gt;x&lt;/b&gt;" in labels and "a &amp; b" in labels
        assert not any("<" in v for v in labels)


# --- sizes (issue 14): crafted uploads are refused with a message, or served bounded ---------


def errors(at: AppTest) -> str:
    """The error messages as rendered (markdown escapes removed)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(e.value for e in at.error))


def test_a_31_kb_npz_of_huge_images_is_refused_with_the_limit_named(cache):
    at = upload(app(), "huge.npz", crafted.npz_huge_images())
    assert "DASHBOARD_MAX_IMAGE_SIDE" in errors(at) and "not loaded" in errors(at)
    assert at.selectbox(key="ds_name").value == "mnist"  # the set the user had is kept


@pytest.mark.parametrize("page", ["explore", "overview"])
def test_two_1000x1000_images_with_labels_0_and_999_are_served(cache, page):
    at = upload(app(page), "far.npz", crafted.npz_far_labels())
    assert not at.error, errors(at)
    ds = at.session_state["uploads"]["upload: far.npz"]["all"]
    assert ds.class_names == ("0", "999") and ds.shape == (1000, 1000)
    for chart in at.get("plotly_chart"):  # every figure is a window or a thumbnail, not the image
        assert len(chart.proto.spec) < 3_000_000


def test_a_2_million_column_csv_is_refused_before_parsing(cache):
    at = upload(app(), "wide.csv", crafted.csv_wide_first_line())
    assert "2,000,000 columns" in errors(at)


def test_a_semicolon_csv_says_use_commas(cache):
    at = upload(app(), "semi.csv", crafted.csv_semicolons())
    assert "use commas" in errors(at)


def test_a_new_upload_replaces_the_last_one(digits_train, cache):
    at = upload(app(), "first.csv", digits_csv(digits_train, 40))
    at = upload(at, "second.csv", digits_csv(digits_train, 60))
    assert list(at.session_state["uploads"]) == ["upload: second.csv"]
    assert at.selectbox(key="ds_name").value == "upload: second.csv"


def test_upload_memory_is_capped_across_sessions(digits_train, cache, monkeypatch):
    import gc

    from dashboard import shell

    # 60 digits take 60 x 64 bytes + 60 labels x 8 = 4,320 bytes; two do not fit in 6,000.
    monkeypatch.setenv("DASHBOARD_MAX_TOTAL_UPLOAD_MB", str(6000 / 2**20))
    shell._ledger.clear()
    # AppTest gives every test app the same session id; a real server gives each tab its own.
    monkeypatch.setattr(shell, "_session_id", lambda: "tab one")
    first = upload(app(), "one.csv", digits_csv(digits_train, 60))
    assert "upload: one.csv" in first.session_state["uploads"]
    monkeypatch.setattr(shell, "_session_id", lambda: "tab two")
    second = upload(app(), "two.csv", digits_csv(digits_train, 60))
    assert "DASHBOARD_MAX_TOTAL_UPLOAD_MB" in errors(second)
    assert second.selectbox(key="ds_name").value == "mnist"
    # The first session goes away (its state is dropped): its share is freed.
    del first
    gc.collect()
    monkeypatch.setattr(shell, "_session_id", lambda: "tab three")
    third = upload(app(), "three.csv", digits_csv(digits_train, 60))
    assert not third.error, errors(third)
    shell._ledger.clear()


@pytest.mark.parametrize("name", ["www.example.com.csv", "see http://evil.example now.csv",
                                  "mail a@b.example.csv", "abc\u202egpj.csv"])
def test_urls_and_bidi_controls_in_names_stay_plain_text(digits_train, cache, name):
    at = upload(app(), name, digits_csv(digits_train, 40))
    captions = "\n".join(str(c.value) for c in at.sidebar.caption) + "\n".join(s.value for s in at.success)
    for pattern in ("www.", "http://", "a@b", "\u202e"):
        assert pattern not in captions, captions
