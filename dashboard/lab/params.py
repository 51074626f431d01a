"""Every training hyper-parameter, declared once, and the :class:`TrainParams` built from them.

:data:`PARAMS` is the one table: type, range, default, help, CLI flag, form
label and Runs-table column of each parameter. The form (``views/train.py``),
the CLI flags (``train_cli.py``, ``sweep_cli.py``), the sweep grids, the
validation messages (:func:`describe_error` names the form label or the
``--flag``, never the internal name) and the Runs columns are generated from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from dashboard.errors import ParameterError

MODELS = ("mlp", "linear")
ACTIVATIONS = ("relu", "tanh", "logistic", "identity")
SOLVERS = ("adam", "sgd")
MAX_LAYERS = 8
MAX_UNITS = 4096
MAX_EPOCHS = 1000


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _parse_int(field_name: str, text: str) -> int:
    try:
        return int(text.strip().replace("_", ""))
    except ValueError:
        raise ParameterError(field_name, f"must be a whole number, got {text!r}") from None


def _parse_float(field_name: str, text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ParameterError(field_name, f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ParameterError(field_name, f"must be a finite number, got {text!r}")
    return value


def _parse_bool(field_name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ParameterError(field_name, f"must be true or false, got {text!r}")


def parse_hidden(field_name: str, text: str) -> tuple[int, ...]:
    """Parse layer sizes such as ``"256,128"`` or ``"256x128"`` (spaces allowed).

    Parameters
    ----------
    field_name : str
        Name to put in the error message (``"hidden"``).
    text : str
        Positive whole numbers separated by commas (or ``x``, the sweep grid's form).

    Returns
    -------
    tuple of int
    """
    parts = [p.strip() for p in text.replace(";", ",").replace("x", ",").split(",")]
    if not text.strip() or any(p == "" for p in parts):
        raise ParameterError(field_name, f"give comma-separated layer sizes such as 256,128, got {text!r}")
    sizes = tuple(_parse_int(field_name, p) for p in parts)
    if any(s < 1 for s in sizes):
        raise ParameterError(field_name, f"layer sizes must be >= 1, got {text!r}")
    return sizes


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Param:
    """One hyper-parameter's declaration.

    Attributes
    ----------
    name : str
        Field of :class:`TrainParams`.
    kind : str
        ``int``, ``float``, ``bool``, ``choice`` or ``layers``.
    default : object
    label : str
        The form's label (also used in messages shown in the app).
    help : str
        One sentence for the form's tooltip and the CLI's ``--help``.
    low, high : float or None
        Inclusive range (``low_open``: ``low`` itself excluded).
    choices : tuple of str
        For ``choice``.
    column : str
        Column title in the Runs table and sweep tables.
    models : tuple of str
        The models that use it (others ignore it).
    """

    name: str
    kind: str
    default: object
    label: str
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()
    column: str = ""
    models: tuple[str, ...] = MODELS
    widget: str = ""  # "number" for a float shown as a number box (default for floats: a text field)

    @property
    def flag(self) -> str:
        """The command-line flag, e.g. ``--train-size``."""
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str) -> object:
        """Text (form field, CLI flag, sweep grid value) to a value of this parameter."""
        text = str(text)
        if self.kind == "int":
            return _parse_int(self.name, text)
        if self.kind == "float":
            return _parse_float(self.name, text)
        if self.kind == "bool":
            return _parse_bool(self.name, text)
        if self.kind == "layers":
            return parse_hidden(self.name, text)
        return text.strip().lower()

    def format(self, value: object) -> str:
        """A value as text the parser reads back (``256,128``, ``0.0001``)."""
        if self.kind == "layers":
            return ",".join(str(v) for v in value)
        if self.kind == "float":
            return f"{value:g}"
        return str(value)

    def check(self, value: object) -> None:
        """Raise :class:`ParameterError` if ``value`` is not allowed."""
        name = self.name
        if self.kind == "choice":
            if value not in self.choices:
                raise ParameterError(name, f"must be one of {', '.join(self.choices)}, got {value!r}")
            return
        if self.kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise ParameterError(name, f"must be true or false, got {value!r}")
            return
        if self.kind == "layers":
            if not isinstance(value, tuple) or len(value) == 0:
                raise ParameterError(name, "give at least one layer size, e.g. 256,128")
            if len(value) > MAX_LAYERS:
                raise ParameterError(name, f"at most {MAX_LAYERS} layers, got {len(value)}")
            for size in value:
                if not _is_int(size) or size < 1 or size > MAX_UNITS:
                    raise ParameterError(name, f"layer sizes must be whole numbers from 1 to {MAX_UNITS}, "
                                               f"got {size!r}")
            return
        whole = self.kind == "int"
        ok = _is_int(value) if whole else (_is_real(value) and math.isfinite(value))
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low) if ok else False
        high_ok = self.high is None or value <= self.high if ok else False
        if not (ok and low_ok and high_ok):
            what = "a whole number" if whole else "a finite number"
            lo, hi = _num(self.low), _num(self.high)
            if self.low is not None and self.high is not None:
                rng = f"in ({lo}, {hi}]" if self.low_open else f"from {lo} to {hi}"
            elif self.low is not None:
                rng = f"> {lo}" if self.low_open else f">= {lo}"
            else:
                rng = ""
            raise ParameterError(name, f"must be {what} {rng}, got {value!r}".replace("  ", " "))


# The one table. Order = the form's order and the CLI's.
PARAMS: tuple[Param, ...] = (
    Param("model", "choice", "mlp", "Model", "mlp: a multi-layer perceptron; linear: a softmax (logistic) "
          "regression by SGD, the baseline that shows what the hidden layers buy.", choices=MODELS,
          column="model"),
    Param("hidden", "layers", (100,), "Hidden layer sizes", 'Comma-separated units per layer, e.g. "256,128".',
          column="layers", models=("mlp",)),
    Param("activation", "choice", "relu", "Activation", "Hidden units' non-linearity.", choices=ACTIVATIONS,
          column="activation", models=("mlp",)),
    Param("solver", "choice", "adam", "Solver", "adam, or SGD with Nesterov momentum 0.9.", choices=SOLVERS,
          column="solver", models=("mlp",)),
    Param("alpha", "float", 1e-4, "Alpha (L2 penalty)", "Weight decay; larger values regularise more.",
          low=0.0, column="alpha"),
    Param("learning_rate", "float", 1e-3, "Learning rate", "Initial step size of the MLP's solver.",
          low=0.0, high=10.0, low_open=True, column="lr", models=("mlp",)),
    Param("batch_size", "int", 200, "Batch size", "Samples per gradient step (the MLP's; SGD steps per sample).",
          low=1, column="batch", models=("mlp",)),
    Param("epochs", "int", 10, "Epochs", "Passes over the fit data.", low=1, high=MAX_EPOCHS, column="epochs"),
    Param("train_size", "int", 0, "Train subset size (0 = all)", "Samples taken (stratified) from the training "
          "split before the validation part is held out; 0 means all.", low=0, column="train size"),
    Param("val_fraction", "float", 0.1, "Validation fraction", "Share of those samples held out (stratified) "
          "for validation and model selection.", low=0.0, high=0.5, low_open=True, column="val", widget="number"),
    Param("seed", "int", 0, "Seed", "Seeds the subset, the split, the initial weights and the shuffling.",
          low=0, high=2**32 - 1, column="seed"),
    Param("keep_best", "bool", True, "Keep the best-validation epoch", "At the end (or on Stop) the model takes "
          "the weights of the epoch with the highest validation accuracy; the test split plays no part.",
          column="keep best"),
    Param("average_last", "int", 0, "Average the last K epochs (0 = off)", "At the end (or on Stop) the model "
          "takes the mean of the last K epochs' weights, which damps adam's wobble. Overrides keep-best.",
          low=0, column="avg last"),
)
PARAM_BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}


def describe_error(exc: ParameterError, style: str = "form") -> str:
    """The message of a :class:`ParameterError` naming the form label (``style="form"``) or flag (``"cli"``)."""
    spec = PARAM_BY_NAME.get(exc.field)
    text = str(exc)
    prefix = f"{exc.field}: "
    detail = text[len(prefix):] if text.startswith(prefix) else text
    if spec is None:
        return text
    return f"{spec.flag}: {detail}" if style == "cli" else f"{spec.label}: {detail}"


@dataclass(frozen=True)
class TrainParams:
    """Hyper-parameters of one training run (declared, with ranges and help, in :data:`PARAMS`).

    Parameters
    ----------
    model : str
        ``"mlp"`` or ``"linear"`` (SGDClassifier with log loss, epoch by epoch).
    hidden : tuple of int
        Units of each hidden layer, e.g. ``(256, 128)`` (MLP only).
    activation, solver : str
        MLP only.
    alpha : float
        L2 penalty, ``>= 0``.
    learning_rate : float
        Initial learning rate of the MLP, ``> 0``.
    batch_size : int
        MLP samples per gradient step, at most the number of fit samples.
    epochs : int
    train_size : int
        0 means all.
    val_fraction : float
        In (0, 0.5].
    seed : int
    keep_best : bool
        End with the best-validation epoch's weights.
    average_last : int
        0 (off) or K from 1 to ``epochs``: end with the mean of the last K
        epochs' weights; overrides ``keep_best``.
    """

    model: str = PARAM_BY_NAME["model"].default
    hidden: tuple[int, ...] = PARAM_BY_NAME["hidden"].default
    activation: str = PARAM_BY_NAME["activation"].default
    solver: str = PARAM_BY_NAME["solver"].default
    alpha: float = PARAM_BY_NAME["alpha"].default
    learning_rate: float = PARAM_BY_NAME["learning_rate"].default
    batch_size: int = PARAM_BY_NAME["batch_size"].default
    epochs: int = PARAM_BY_NAME["epochs"].default
    train_size: int = PARAM_BY_NAME["train_size"].default
    val_fraction: float = PARAM_BY_NAME["val_fraction"].default
    seed: int = PARAM_BY_NAME["seed"].default
    keep_best: bool = PARAM_BY_NAME["keep_best"].default
    average_last: int = PARAM_BY_NAME["average_last"].default

    def __post_init__(self) -> None:
        # Accept a list or a single int for convenience; validate() checks the values.
        if isinstance(self.hidden, list):
            object.__setattr__(self, "hidden", tuple(self.hidden))
        elif _is_int(self.hidden):
            object.__setattr__(self, "hidden", (int(self.hidden),))

    def validate(self, n_available: int | None = None, n_classes: int | None = None) -> TrainParams:
        """Check every field; raise :class:`ParameterError` naming the first bad one.

        Parameters
        ----------
        n_available : int, optional
            Size of the training split; when given, ``train_size`` and
            ``batch_size`` are checked against the data.
        n_classes : int, optional
            Number of classes; when given, the validation part must hold at
            least one sample of each.

        Returns
        -------
        TrainParams
            ``self``, so that calls can be chained.
        """
        for spec in PARAMS:
            spec.check(getattr(self, spec.name))
        if self.average_last > self.epochs:
            raise ParameterError(
                "average_last", f"cannot average more epochs than are run ({self.epochs}), got {self.average_last}"
            )
        if n_available is not None:
            if self.train_size > n_available:
                raise ParameterError(
                    "train_size", f"the training split has {n_available:,} samples, asked for {self.train_size:,}"
                )
            n_used = self.n_used(n_available)
            n_val = n_val_of(n_used, self.val_fraction)
            if n_classes is not None and n_val < n_classes:
                raise ParameterError(
                    "val_fraction",
                    f"{n_val} validation samples cannot hold one of each of the {n_classes} classes; "
                    f"raise the validation fraction or the train subset size",
                )
            n_fit = n_used - n_val
            if n_classes is not None and n_fit < n_classes:
                raise ParameterError("train_size", f"too few samples left to fit ({n_fit}) for {n_classes} classes")
            if self.model == "mlp" and self.batch_size > n_fit:
                raise ParameterError(
                    "batch_size", f"must be at most the {n_fit:,} samples trained on, got {self.batch_size:,}"
                )
        return self

    def n_used(self, n_available: int) -> int:
        """Samples taken from a training split of ``n_available`` samples."""
        return n_available if self.train_size == 0 else min(self.train_size, n_available)

    def to_dict(self) -> dict:
        """JSON-ready form (``hidden`` as a list)."""
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    def to_strings(self) -> dict[str, str]:
        """Every field as the text the form and CLI use."""
        return {spec.name: spec.format(getattr(self, spec.name)) for spec in PARAMS}

    @classmethod
    def from_dict(cls, values: Mapping) -> TrainParams:
        """Inverse of :meth:`to_dict`; unknown keys are refused, missing ones take defaults."""
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ParameterError(sorted(unknown)[0], "is not a training parameter")
        kwargs = dict(values)
        if "hidden" in kwargs:
            kwargs["hidden"] = tuple(kwargs["hidden"])
        return cls(**kwargs)

    @classmethod
    def from_strings(cls, values: Mapping[str, str | None], base: TrainParams | None = None) -> TrainParams:
        """Parse text fields (form or command line) over ``base`` and validate.

        Parameters
        ----------
        values : mapping of str to str or None
            Field name to its text; ``None`` keeps ``base``'s value.
        base : TrainParams, optional
            The starting values (a preset); defaults to ``TrainParams()``.

        Returns
        -------
        TrainParams
            Validated parameters (without data-dependent checks).

        Raises
        ------
        ParameterError
            Naming the field that cannot be parsed or is out of range.
        """
        base = base or cls()
        changes = {}
        for name, text in values.items():
            if name not in PARAM_BY_NAME:
                raise ParameterError(name, "is not a training parameter")
            if text is None:
                continue
            changes[name] = PARAM_BY_NAME[name].parse(str(text))
        return replace(base, **changes).validate()


def n_val_of(n_used: int, val_fraction: float) -> int:
    """Validation samples held out of ``n_used`` (the rounding ``train_test_split`` uses)."""
    return math.ceil(n_used * val_fraction)


# Presets: see docs/presets.md for how "best" was chosen and measured.
PRESETS: dict[str, TrainParams] = {
    "quick": TrainParams(hidden=(64,), batch_size=200, epochs=3, train_size=10000, val_fraction=0.1),
    "default": TrainParams(hidden=(256, 128), batch_size=200, epochs=10, val_fraction=0.1),
    # val_fraction 0.1: 6,000 validation images. average_last 10: the model ends with the mean of
    # the last 10 epochs' weights (beat keep-best and the last epoch on held-out validation halves
    # of both sets); keep_best stays on for when averaging is switched off.
    "best": TrainParams(
        hidden=(512, 256), alpha=1e-4, learning_rate=1e-3, batch_size=200, epochs=30, val_fraction=0.1,
        average_last=10,
    ),
    # The linear baseline: what the hidden layers buy.
    "linear": TrainParams(model="linear", alpha=1e-4, epochs=10, val_fraction=0.1),
}


def fit_preset(params: TrainParams, n_available: int, n_classes: int) -> tuple[TrainParams, list[str]]:
    """Adapt a preset to a small dataset; returns the parameters and what was changed (for the user).

    A preset written for MNIST's 60,000 images asks for a 10,000-image subset and
    200-sample batches; on the 1,437-image ``digits`` set that cannot run. The
    subset falls back to all samples, and the batch shrinks to fit the fit part.
    """
    changes: list[str] = []
    if params.train_size > n_available:
        changes.append(f"{PARAM_BY_NAME['train_size'].label}: {params.train_size:,} → 0 (all {n_available:,})")
        params = replace(params, train_size=0)
    n_used = params.n_used(n_available)
    n_fit = n_used - n_val_of(n_used, params.val_fraction)
    if params.model == "mlp" and n_fit >= 1 and params.batch_size > n_fit:
        new = max(1, min(params.batch_size, n_fit // 4 or 1))
        changes.append(f"{PARAM_BY_NAME['batch_size'].label}: {params.batch_size} → {new}")
        params = replace(params, batch_size=new)
    if n_val_of(n_used, params.val_fraction) < n_classes and n_used >= 2 * n_classes:
        new = min(0.5, math.ceil(n_classes / n_used * 100) / 100)
        if new != params.val_fraction:
            changes.append(f"{PARAM_BY_NAME['val_fraction'].label}: {params.val_fraction:g} → {new:g}")
            params = replace(params, val_fraction=new)
    return params, changes
