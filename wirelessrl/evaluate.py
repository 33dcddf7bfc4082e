"""Evaluation tables: per-layout metrics, percent of a reference, percentiles, 95 %
confidence intervals, and the per-layout / per-link rates behind them.

Percent columns follow the method paper's convention, the mean over layouts of the
per-layout ratio ``method / reference``; the ratio of the means is printed beside it.

Confidence intervals (:func:`t_interval`) are Student t intervals of a mean over
independent samples (layouts of one data file, or seeds): ``mean ± t(0.975, n - 1) s /
sqrt(n)`` with the sample standard deviation ``s`` (ddof 1). Layouts are drawn
independently, so this is the textbook interval; with thousands of layouts it equals the
normal interval to three digits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simulators.validation import ConfigError

if TYPE_CHECKING:
    from simulators.d2d import D2DConfig


@dataclass
class MetricSummary:
    """Summary of one per-layout metric of one method."""

    method: str
    metric: str
    unit: str
    mean: float
    std: float
    p5: float
    p50: float
    p95: float
    reference: str | None = None
    pct_of_reference_mean_ratio: float | None = None
    pct_of_reference_ratio_of_means: float | None = None
    n: int | None = None
    ci95_low: float | None = None
    ci95_high: float | None = None
    pct_ci95_low: float | None = None
    pct_ci95_high: float | None = None
    ci_method: str | None = None
    reference_note: str | None = None

    def as_dict(self) -> dict:
        """The fields by name (one row of a results table or JSON file)."""
        return asdict(self)


CI_LEVEL = 0.95
CI_METHOD = "student-t"
"""How :attr:`MetricSummary.ci95_low` / ``ci95_high`` are computed (see :func:`t_interval`)."""


def t_quantile(p: float, dof: int) -> float:
    """The ``p`` quantile of Student's t distribution with ``dof`` degrees of freedom
    (``scipy.special.stdtrit``, the function behind ``scipy.stats.t.ppf``, without the
    half-second import of ``scipy.stats`` in every command that prints an interval).

    Example
    -------
    >>> round(t_quantile(0.975, 2), 3)
    4.303
    """
    from scipy.special import stdtrit

    return float(stdtrit(dof, p))


def t_interval(values: Sequence[float] | np.ndarray, level: float = CI_LEVEL
               ) -> tuple[float, float]:
    r"""Student t confidence interval of the mean of independent samples.

    .. math::

        \bar x \pm t_{(1 + \text{level})/2,\, n - 1}\, \frac{s}{\sqrt n},
        \qquad s^2 = \frac{1}{n - 1} \sum_k (x_k - \bar x)^2

    Input
    -----
    values : [n], float, finite (layouts of one data file, or one figure per seed)
    level : float in (0, 1), coverage (0.95)

    Output
    ------
    (low, high) : floats in the unit of ``values``; NaN for fewer than 2 values

    Example
    -------
    >>> low, high = t_interval([1.0, 2.0, 3.0])        # t(0.975, 2) = 4.303
    >>> round(low, 3), round(high, 3)
    (-0.484, 4.484)
    """
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size < 2:
        return float("nan"), float("nan")
    half = t_quantile(0.5 + level / 2, a.size - 1) * float(a.std(ddof=1)) / math.sqrt(a.size)
    m = float(a.mean())
    return m - half, m + half


def summarize(
    method: str,
    metric: str,
    unit: str,
    values: np.ndarray,
    reference: np.ndarray | None = None,
    reference_name: str | None = None,
) -> MetricSummary:
    """Mean, std and 5/50/95th percentiles; percent of ``reference`` when given.

    ``values`` and ``reference`` are per-layout ``[n]`` arrays in ``unit``; the percent is
    given both as the mean of per-layout ratios and as the ratio of the means.

    Example
    -------
    >>> s = summarize("fp", "sum-rate", "Mbps", np.array([1.0, 2.0, 3.0]),
    ...               np.array([2.0, 2.0, 2.0]), "ref")
    >>> s.mean, s.p50, s.pct_of_reference_ratio_of_means
    (2.0, 2.0, 100.0)
    """
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        bad = int(np.sum(~np.isfinite(values)))
        raise ValueError(f"{method} {metric}: {bad} non-finite per-layout values")
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    out = MetricSummary(method, metric, unit, float(values.mean()), float(values.std()),
                        float(p5), float(p50), float(p95), n=int(values.size),
                        ci_method=CI_METHOD)
    out.ci95_low, out.ci95_high = t_interval(values)
    if reference is not None:
        ref = np.asarray(reference, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where(ref > 0, values / ref, np.nan)
        out.reference = reference_name
        out.pct_of_reference_mean_ratio = float(100 * np.nanmean(ratios))
        out.pct_of_reference_ratio_of_means = float(100 * values.mean() / ref.mean())
        low, high = t_interval(100 * ratios[np.isfinite(ratios)])
        out.pct_ci95_low, out.pct_ci95_high = low, high
    return out


def d2d_link_rates_mbps(g: np.ndarray, p_w: np.ndarray, config: D2DConfig) -> np.ndarray:
    """Per-link rates in Mbps, shape [batch, n]."""
    from simulators.rates import link_rates_bps  # numba: imported when rates are computed

    return 1e-6 * link_rates_bps(g, p_w, config.noise_w, config.bandwidth_hz, config.snr_gap_db)


def d2d_table(
    g: np.ndarray,
    config: D2DConfig,
    powers_w: Mapping[str, np.ndarray],
    sum_reference: str | None = "FP",
    min_reference: str | None = "max-min optimum",
) -> list[MetricSummary]:
    """Sum-rate and min-rate summaries (Mbps) of every method's powers on layouts ``g``.

    Input
    -----
    g : [batch, n, n], float, linear gains
    powers_w : {method name: [batch, n] powers in watts}
    sum_reference, min_reference : method names used as 100 % (skipped if absent)
    """
    rates = {name: d2d_link_rates_mbps(g, p, config) for name, p in powers_w.items()}
    return rate_table(rates, "Mbps", sum_reference, min_reference)


def rate_table(
    rates: Mapping[str, np.ndarray],
    unit: str,
    sum_reference: str | None = None,
    min_reference: str | None = None,
) -> list[MetricSummary]:
    """Sum-rate and min-rate summaries of every method from its per-link rates.

    Input
    -----
    rates : {method name: [batch, n] rates of each link (or user) of each layout, in unit}
    unit : str, e.g. ``"Mbps"`` or ``"bit/s/Hz"``
    sum_reference, min_reference : method names used as 100 % (skipped if absent)

    Output
    ------
    list of :class:`MetricSummary`, a sum-rate and a min-rate row per method

    Example
    -------
    >>> rows = rate_table({"a": np.array([[1.0, 2.0], [3.0, 1.0]])}, "Mbps", "a")
    >>> [(r.metric, r.mean, r.pct_of_reference_mean_ratio) for r in rows]
    [('sum-rate', 3.5, 100.0), ('min-rate', 1.0, None)]
    """
    sums, mins = layout_sums_mins(rates)
    return layout_table(sums, mins, unit, sum_reference, min_reference)


def layout_sums_mins(rates: Mapping[str, np.ndarray]
                     ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-layout sum-rate and min-rate ``[batch]`` of every method's ``[batch, n]`` rates
    (row by row: the same numbers whether the layouts come whole or in chunks)."""
    return ({name: r.sum(axis=-1) for name, r in rates.items()},
            {name: r.min(axis=-1) for name, r in rates.items()})


def layout_table(
    sums: Mapping[str, np.ndarray],
    mins: Mapping[str, np.ndarray],
    unit: str,
    sum_reference: str | None = None,
    min_reference: str | None = None,
) -> list[MetricSummary]:
    """Sum-rate and min-rate summaries from every method's per-layout sum and min rate.

    Input
    -----
    sums, mins : {method name: [batch] sum-rate / min-rate of each layout, in unit}
    unit, sum_reference, min_reference : as :func:`rate_table`

    Example
    -------
    >>> rows = layout_table({"a": np.array([3.0, 4.0])}, {"a": np.array([1.0, 1.0])}, "Mbps")
    >>> [(r.metric, r.mean) for r in rows]
    [('sum-rate', 3.5), ('min-rate', 1.0)]
    """
    rows = []
    for name in sums:
        rows.append(summarize(name, "sum-rate", unit, sums[name], sums.get(sum_reference),
                              sum_reference if sum_reference in sums else None))
        rows.append(summarize(name, "min-rate", unit, mins[name], mins.get(min_reference),
                              min_reference if min_reference in mins else None))
    return rows


@dataclass(frozen=True)
class ReferenceSpec:
    """Which solution is 100 % for one metric, and what to say when none is given.

    ``methods`` are solver names in order of preference (the first one present wins);
    ``name`` is how the percent column calls it (``"FP"``); ``hint`` is the command that
    makes one, with ``{data}`` for the data file (``"wirelessrl solve {data} --method fp
    -o fp.h5"``); ``stand_in`` says why a later method may replace the first.
    """

    metric: str
    methods: tuple[str, ...]
    name: str
    hint: str
    stand_in: str = ""


@dataclass
class ReferenceChoice:
    """The reference :func:`evaluate_rates` used for one metric (``label`` None: none)."""

    metric: str
    label: str | None
    note: str


@dataclass
class Evaluation:
    """Everything ``wirelessrl evaluate`` reports on one data file.

    Attributes
    ----------
    rows : list of :class:`MetricSummary`, sum-rate and min-rate per method, with 95 % CIs
    references : one :class:`ReferenceChoice` per metric (which method is 100 %, or why the
        percent column is empty)
    rates : {label: [batch, n] rates of each link (user) of each layout (sample), in unit};
        empty when they were not kept (a streamed evaluation without ``per_link``)
    unit : str; sample, link : the words for a layout and a link (``"layout"``, ``"link"``)
    files : {label: solution file}; data_file : str; meta : provenance of the data file
    sums, mins : {label: [batch] sum-rate / min-rate of each layout, in unit} (from
        ``rates`` when not given)
    """

    rows: list[MetricSummary]
    references: list[ReferenceChoice]
    rates: dict[str, np.ndarray]
    unit: str
    sample: str = "layout"
    link: str = "link"
    files: dict[str, str] = field(default_factory=dict)
    data_file: str = ""
    meta: dict = field(default_factory=dict)
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    mins: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rates and not self.sums:
            self.sums, self.mins = layout_sums_mins(self.rates)

    @property
    def ci_text(self) -> str:
        """How the 95 % intervals are computed, in one sentence."""
        n = self.rows[0].n if self.rows and self.rows[0].n else 0
        return (f"95 % CI of each mean: Student t interval over the {n:,} {self.sample}s "
                f"(mean ± t(0.975, {n - 1}) s / sqrt({n}), s with ddof 1)")

    def per_layout_records(self) -> list[dict]:
        """One record per (method, layout): sum-rate, min-rate and every link's rate."""
        self._require_rates()
        key = unit_key(self.unit)
        out = []
        for label, r in self.rates.items():
            sums, mins = self.sums[label], self.mins[label]
            for b in range(r.shape[0]):
                rec = {"method": label, self.sample: b, f"sum_rate_{key}": float(sums[b]),
                       f"min_rate_{key}": float(mins[b])}
                rec.update({f"{self.link}_{i}_rate_{key}": float(v)
                            for i, v in enumerate(r[b])})
                out.append(rec)
        return out

    def _require_rates(self) -> None:
        if not self.rates and self.sums:
            raise ConfigError(f"{self.data_file or 'these files'}: the per-link rates were "
                              "not kept; expected an evaluation made with per_link=True")
        if not self.rates:
            raise ConfigError(f"{self.data_file or 'these files'}: no per-link rates (MISO "
                              "pilot files give gains and errors); expected a D2D or mu-miso "
                              "data file for --per-link")

    def records(self) -> list[dict]:
        """The summary rows as dicts (``evaluate --json`` without ``--per-link``)."""
        return [r.as_dict() for r in self.rows]

    def document(self, per_link: bool = False) -> dict:
        """The JSON document of ``evaluate -o FILE.json`` (and of ``--json --per-link``):
        the summary rows under ``records``, the references, the CI method and the data
        file's provenance; with ``per_link`` also ``per_layout``: per method its file, the
        sum-rate and min-rate of every layout and the ``[batch][n]`` link rates."""
        doc = {
            "kind": "evaluation", "data_file": self.data_file, "unit": self.unit,
            "confidence_interval": {"level": CI_LEVEL, "method": CI_METHOD,
                                    "over": f"{self.sample}s", "text": self.ci_text},
            "references": [asdict(c) for c in self.references],
            "records": self.records(),
            "provenance": {k: self.meta.get(k) for k in ("kind", "seed", "version", "config")},
        }
        if per_link:
            self._require_rates()
            key = unit_key(self.unit)
            doc["per_layout"] = {label: {"file": self.files.get(label),
                                         f"sum_rate_{key}": self.sums[label].tolist(),
                                         f"min_rate_{key}": self.mins[label].tolist(),
                                         f"{self.link}_rates_{key}": r.tolist()}
                                 for label, r in self.rates.items()}
        return doc

    def csv_rows(self, per_link: bool = False) -> list[dict]:
        """The CSV of ``evaluate --csv``: the summary rows, or with ``per_link`` one row
        per method and layout (:meth:`per_layout_records`)."""
        return self.per_layout_records() if per_link else self.records()

    def csv_text(self, per_link: bool = False) -> str:
        """:meth:`csv_rows` as CSV text."""
        from wirelessrl.results import csv_text

        return csv_text(self.csv_rows(per_link))

    def write(self, path: str | Path, fmt: str, *, per_link: bool = False,
              overwrite: bool = False) -> Path:
        """Write :meth:`document` (``fmt="json"``) or :meth:`csv_rows` (``"csv"``) to
        ``path`` atomically; an existing file is replaced only with ``overwrite``."""
        from wirelessrl.fileio import ensure_writable
        from wirelessrl.results import write_csv, write_json

        ensure_writable(path, overwrite)
        if fmt == "json":
            return write_json(path, self.document(per_link))
        return write_csv(path, self.csv_rows(per_link))

    def text(self) -> str:
        """The plain table ``wirelessrl evaluate`` prints, with the references and the CI
        method below it."""
        head = (f"{'method':<14}{'metric':<10}{'mean':>10}{'±95% CI':>9}{'% ref':>8}"
                f"{'% RoM':>8}{'p5':>10}{'p50':>10}{'p95':>10}  reference")
        lines = [head]
        for r in self.rows:
            half = "" if r.ci95_high is None or math.isnan(r.ci95_high) \
                else f"{(r.ci95_high - r.ci95_low) / 2:9.3f}"
            pct = "" if r.pct_of_reference_mean_ratio is None else \
                f"{r.pct_of_reference_mean_ratio:8.1f}{r.pct_of_reference_ratio_of_means:8.1f}"
            lines.append(f"{r.method:<14}{r.metric:<10}{r.mean:10.3f}{half or ' ' * 9}"
                         f"{pct or ' ' * 16}{r.p5:10.3f}{r.p50:10.3f}{r.p95:10.3f}  "
                         f"{r.reference or ''}")
        units = ", ".join(sorted({r.unit for r in self.rows}))
        lines.append(f"units: {units}; % ref = mean of per-{self.sample} ratios, % RoM = "
                     "ratio of means")
        lines += [f"{c.metric} reference: {c.note}" for c in self.references]
        lines.append(self.ci_text)
        return "\n".join(lines)


def unit_key(unit: str) -> str:
    """A unit as it appears in column names: ``Mbps`` -> ``mbps``, ``bit/s/Hz`` ->
    ``bit_per_s_per_hz``.

    Example
    -------
    >>> unit_key("bit/s/Hz")
    'bit_per_s_per_hz'
    """
    return unit.lower().replace("/", "_per_")


def evaluate_rates(
    rates: Mapping[str, np.ndarray],
    methods: Mapping[str, str],
    rules: Mapping[str, str],
    unit: str,
    references: Sequence[ReferenceSpec],
    *,
    sample: str = "layout",
    link: str = "link",
    files: Mapping[str, str] | None = None,
    data_file: str = "",
) -> Evaluation:
    """Summaries with CIs and the reference choice, from every method's per-link rates.

    Input
    -----
    rates : {label: [batch, n] rates in ``unit``}; methods : {label: solver name};
    rules : {label: stopping rule text}; references : one :class:`ReferenceSpec` per metric
    (``sum-rate``, ``min-rate``); sample, link : words for the output; files : {label: path};
    data_file : the data file's name, for the hints

    Output
    ------
    :class:`Evaluation`; each row's ``reference_note`` says which reference its percent
    columns use or why they are empty

    Example
    -------
    >>> spec = ReferenceSpec("sum-rate", ("fp",), "FP", "wirelessrl solve {data} --method fp")
    >>> ev = evaluate_rates({"full": np.ones((3, 2))}, {"full": "full"}, {}, "Mbps", [spec],
    ...                     data_file="d.h5")
    >>> print(ev.references[0].note)
    empty: no fp solution given; pass a file from 'wirelessrl solve d.h5 --method fp' to get % of FP
    """
    sums, mins = layout_sums_mins(rates)
    return evaluate_layouts(sums, mins, methods, rules, unit, references, rates=rates,
                            sample=sample, link=link, files=files, data_file=data_file)


def evaluate_layouts(
    sums: Mapping[str, np.ndarray],
    mins: Mapping[str, np.ndarray],
    methods: Mapping[str, str],
    rules: Mapping[str, str],
    unit: str,
    references: Sequence[ReferenceSpec],
    *,
    rates: Mapping[str, np.ndarray] | None = None,
    sample: str = "layout",
    link: str = "link",
    files: Mapping[str, str] | None = None,
    data_file: str = "",
) -> Evaluation:
    """:func:`evaluate_rates` from every method's per-layout sum-rate and min-rate, e.g.
    gathered chunk by chunk (:func:`wirelessrl.solutions.evaluate_solutions`).

    Input
    -----
    sums, mins : {label: [batch] sum-rate / min-rate of each layout, in ``unit``}
    rates : {label: [batch, n] per-link rates} kept for ``--per-link``, or None
    methods, rules, unit, references, sample, link, files, data_file : as
    :func:`evaluate_rates`

    Example
    -------
    >>> spec = ReferenceSpec("min-rate", ("maxmin",), "the max-min optimum", "solve")
    >>> ev = evaluate_layouts({"mm": np.array([4.0, 2.0])}, {"mm": np.array([2.0, 1.0])},
    ...                       {"mm": "maxmin"}, {}, "Mbps", [spec])
    >>> [(r.metric, r.mean, r.pct_of_reference_mean_ratio) for r in ev.rows]
    [('sum-rate', 3.0, None), ('min-rate', 1.5, 100.0)]
    """
    chosen: dict[str, str | None] = {}
    choices = []
    for spec in references:
        label = next((lab for m in spec.methods for lab in sums if methods.get(lab) == m),
                     None)
        chosen[spec.metric] = label
        if label is None:
            note = (f"empty: no {spec.methods[0]} solution given; pass a file from "
                    f"'{spec.hint.format(data=data_file or 'DATA')}' to get % of {spec.name}")
        else:
            note = f"% of {label} ({rules.get(label, label)})"
            if methods[label] != spec.methods[0]:
                note += (f", standing in for {spec.name}: no {spec.methods[0]} solution "
                         f"given; {spec.stand_in}").rstrip("; ")
        choices.append(ReferenceChoice(spec.metric, label, note))
    rows = layout_table(sums, mins, unit, chosen.get("sum-rate"), chosen.get("min-rate"))
    notes = {c.metric: c.note for c in choices}
    for r in rows:
        r.reference_note = notes.get(r.metric)
    return Evaluation(rows, choices, dict(rates or {}), unit, sample, link,
                      dict(files or {}), data_file, sums=dict(sums), mins=dict(mins))


def rows_to_markdown(rows: list[MetricSummary], metrics: tuple[str, ...]) -> str:
    """A markdown table, one row per method, ``mean (% of reference)`` per metric."""
    methods = list(dict.fromkeys(r.method for r in rows))
    by_key = {(r.method, r.metric): r for r in rows}
    header = ["method"]
    for m in metrics:
        unit = next((r.unit for r in rows if r.metric == m), "")
        ref = next((r.reference for r in rows if r.metric == m and r.reference), None)
        header += [f"{m} ({unit})"]
        if ref:
            header += [f"% of {ref} (mean ratio)", "% (ratio of means)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in methods:
        cells = [method]
        for m in metrics:
            r = by_key.get((method, m))
            has_ref = any(x.metric == m and x.reference for x in rows)
            if r is None:
                cells += [""] * (3 if has_ref else 1)
                continue
            cells.append(f"{r.mean:.3f}")
            if has_ref:
                if r.pct_of_reference_mean_ratio is None:
                    cells += ["", ""]
                else:
                    cells += [f"{r.pct_of_reference_mean_ratio:.1f}",
                              f"{r.pct_of_reference_ratio_of_means:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
