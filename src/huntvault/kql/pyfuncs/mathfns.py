"""Math, statistics, unit conversions and series arithmetic in Python: beta family, erf, gamma, welch_test,
convert_*, the element-wise series_* functions, dot product, cosine similarity, fft."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _ibeta(x: float, a: float, b: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1.0 - x)
    front = math.exp(ln)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def beta_cdf(x: Any, alpha: Any, beta: Any) -> Any:
    x, a, b = float(x), float(alpha), float(beta)
    if not (0 < a <= 10000 and 0 < b <= 10000):  # the reference: NaN outside (0, 10000]
        return math.nan
    if x < 0 or x > 1:
        return math.nan
    return _ibeta(x, a, b)


def beta_pdf(x: Any, alpha: Any, beta: Any) -> Any:
    x, a, b = float(x), float(alpha), float(beta)
    if a <= 0 or b <= 0 or x < 0 or x > 1:
        return math.nan
    if x in (0.0, 1.0):
        return 0.0 if (x == 0.0 and a > 1) or (x == 1.0 and b > 1) else math.inf
    ln = (a - 1) * math.log(x) + (b - 1) * math.log(1 - x)
    return math.exp(ln + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))


def beta_inv(p: Any, alpha: Any, beta: Any) -> Any:
    p, a, b = float(p), float(alpha), float(beta)
    if p < 0 or p > 1:
        return None
    if a <= 0 or b <= 0:
        return math.nan
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if _ibeta(mid, a, b) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def welch_test(m1: Any, v1: Any, n1: Any, m2: Any, v2: Any, n2: Any) -> Any:
    a, b = float(v1) / float(n1), float(v2) / float(n2)
    if a + b == 0:
        return math.nan
    t = (float(m1) - float(m2)) / math.sqrt(a + b)
    df = (a + b) ** 2 / (a * a / (float(n1) - 1) + b * b / (float(n2) - 1))
    return _ibeta(df / (df + t * t), df / 2, 0.5)


def gamma(x: Any) -> Any:
    try:
        return math.gamma(float(x))
    except (ValueError, OverflowError):
        return math.nan if float(x) <= 0 else math.inf


def loggamma(x: Any) -> Any:
    try:
        return math.lgamma(float(x))
    except ValueError:
        return math.inf


_LENGTH = {
    "angstrom": 1e-10, "astronomicalunit": 1.495978707e11, "centimeter": 0.01, "chain": 20.1168,
    "datamile": 1828.8, "decameter": 10.0, "decimeter": 0.1, "dtppica": 0.0254 / 6, "dtppoint": 0.0254 / 72,
    "fathom": 1.8288, "foot": 0.3048, "hand": 0.1016, "hectometer": 100.0, "inch": 0.0254,
    "kilolightyear": 9.46073047258e18, "kilometer": 1000.0, "kiloparsec": 3.08567758128e19,
    "lightyear": 9.46073047258e15, "megalightyear": 9.46073047258e21, "megaparsec": 3.08567758128e22,
    "meter": 1.0, "microinch": 2.54e-8, "micrometer": 1e-6, "mil": 2.54e-5, "mile": 1609.344,
    "millimeter": 0.001, "nanometer": 1e-9, "nauticalmile": 1852.0, "parsec": 3.08567758128e16,
    "printerpica": 0.0254 / 6.0225, "printerpoint": 0.0254 / 72.27, "shackle": 27.432,
    "solarradius": 6.95510e8, "twip": 0.0254 / 1440, "ussurveyfoot": 1200 / 3937, "yard": 0.9144,
}  # fmt: skip
_VOLUME = {
    "acrefoot": 1233.48183754752, "auTablespoon": 2e-5, "centiliter": 1e-5, "cubiccentimeter": 1e-6,
    "cubicdecimeter": 1e-3, "cubicfoot": 0.028316846592, "cubichectometer": 1e6, "cubicinch": 1.6387064e-5,
    "cubickilometer": 1e9, "cubicmeter": 1.0, "cubicmicrometer": 1e-18, "cubicmile": 4.168181825440579584e9,
    "cubicmillimeter": 1e-9, "cubicyard": 0.764554857984, "decaliter": 0.01, "decausgallon": 0.03785411784,
    "deciliter": 1e-4, "deciusgallon": 3.785411784e-4, "hectocubicfoot": 2.8316846592,
    "hectocubicmeter": 100.0, "hectoliter": 0.1, "hectousgallon": 0.3785411784, "imperialbeerbarrel": 0.16365924,
    "imperialgallon": 0.00454609, "imperialounce": 2.84130625e-5, "imperialpint": 5.6826125e-4,
    "kilocubicfoot": 28.316846592, "kilocubicmeter": 1000.0, "kiloimperialgallon": 4.54609,
    "kiloliter": 1.0, "kilousgallon": 3.785411784, "liter": 1e-3, "megacubicfoot": 28316.846592,
    "megaimperialgallon": 4546.09, "megaliter": 1000.0, "megausgallon": 3785.411784, "metriccup": 2.5e-4,
    "metricteaspoon": 5e-6, "microliter": 1e-9, "milliliter": 1e-6, "oilbarrel": 0.158987294928,
    "uktablespoon": 1.5e-5, "usbeerbarrel": 0.1173477658, "uscustomarycup": 2.365882365e-4,
    "usgallon": 0.003785411784, "uslegalcup": 2.4e-4, "usounce": 2.95735295625e-5, "uspint": 4.73176473e-4,
    "usquart": 9.46352946e-4, "ustablespoon": 1.478676478125e-5, "usteaspoon": 4.92892159375e-6,
}  # fmt: skip
_MASS = {
    "centigram": 1e-5, "decagram": 0.01, "decigram": 1e-4, "earthmass": 5.9722e24, "grain": 6.479891e-5,
    "gram": 1e-3, "hectogram": 0.1, "kilogram": 1.0, "kilopound": 453.59237, "kilotonne": 1e6,
    "longhundredweight": 50.80234544, "longton": 1016.0469088, "megapound": 453592.37, "megatonne": 1e9,
    "microgram": 1e-9, "milligram": 1e-6, "nanogram": 1e-12, "ounce": 0.028349523125, "pound": 0.45359237,
    "shorthundredweight": 45.359237, "shortton": 907.18474, "slug": 14.593902937206, "solarmass": 1.98947e30,
    "stone": 6.35029318, "tonne": 1000.0,
}  # fmt: skip
_SPEED = {
    "centimeterperhour": 0.01 / 3600, "centimeterperminute": 0.01 / 60, "centimeterpersecond": 0.01,
    "decimeterperminute": 0.1 / 60, "decimeterpersecond": 0.1, "footperhour": 0.3048 / 3600,
    "footperminute": 0.3048 / 60, "footpersecond": 0.3048, "inchperhour": 0.0254 / 3600,
    "inchperminute": 0.0254 / 60, "inchpersecond": 0.0254, "kilometerperhour": 1 / 3.6,
    "kilometerperminute": 1000 / 60, "kilometerpersecond": 1000.0, "knot": 1852 / 3600,
    "meterperhour": 1 / 3600, "meterperminute": 1 / 60, "meterpersecond": 1.0,
    "micrometerperminute": 1e-6 / 60, "micrometerpersecond": 1e-6, "mileperhour": 0.44704,
    "millimeterperhour": 0.001 / 3600, "millimeterperminute": 0.001 / 60, "millimeterpersecond": 0.001,
    "nanometerperminute": 1e-9 / 60, "nanometerpersecond": 1e-9, "ussurveyfootperhour": 1200 / 3937 / 3600,
    "ussurveyfootperminute": 1200 / 3937 / 60, "ussurveyfootpersecond": 1200 / 3937,
    "yardperhour": 0.9144 / 3600, "yardperminute": 0.9144 / 60, "yardpersecond": 0.9144,
}  # fmt: skip
_ENERGY = {
    "britishthermalunit": 1055.05585262, "calorie": 4.184, "decathermec": 1.05505585262e9,
    "decathermimperial": 1.05505585257348e9, "decathermus": 1.054804e9, "electronvolt": 1.602176634e-19,
    "erg": 1e-7, "footpound": 1.355817948, "gigabritishthermalunit": 1.05505585262e12,
    "gigaelectronvolt": 1.602176634e-10, "gigajoule": 1e9, "gigawattday": 8.64e13, "gigawatthour": 3.6e12,
    "horsepowerhour": 2684519.537696172792, "joule": 1.0, "kilobritishthermalunit": 1055055.85262,
    "kilocalorie": 4184.0, "kiloelectronvolt": 1.602176634e-16, "kilojoule": 1000.0, "kilowattday": 8.64e7,
    "kilowatthour": 3.6e6, "megabritishthermalunit": 1.05505585262e9, "megacalorie": 4.184e6,
    "megaelectronvolt": 1.602176634e-13, "megajoule": 1e6, "megawattday": 8.64e10, "megawatthour": 3.6e9,
    "millijoule": 1e-3, "terajoule": 1e12, "terawattday": 8.64e16, "terawatthour": 3.6e15,
    "thermec": 1.05505585262e8, "thermimperial": 1.05505585257348e8, "thermus": 1.054804e8,
    "wattday": 86400.0, "watthour": 3600.0,
}  # fmt: skip
_FORCE = {
    "decanewton": 10.0, "dyn": 1e-5, "dyne": 1e-5, "kilogramforce": 9.80665, "kilonewton": 1000.0,
    "kilopond": 9.80665, "kilopoundforce": 4448.2216152605, "meganewton": 1e6, "micronewton": 1e-6,
    "millinewton": 1e-3, "newton": 1.0, "ounceforce": 0.278013850953781, "poundal": 0.138254954376,
    "poundforce": 4.4482216152605, "shorttonforce": 8896.443230521, "tonneforce": 9806.65,
}  # fmt: skip
_ANGLE = {
    "arcminute": math.pi / 10800, "arcsecond": math.pi / 648000, "centiradian": 0.01, "deciradian": 0.1,
    "degree": math.pi / 180, "gradian": math.pi / 200, "microdegree": math.pi / 180e6, "microradian": 1e-6,
    "millidegree": math.pi / 180e3, "milliradian": 1e-3, "nanodegree": math.pi / 180e9, "nanoradian": 1e-9,
    "natomil": 2 * math.pi / 6400, "radian": 1.0, "revolution": 2 * math.pi,
}  # fmt: skip

_TO_KELVIN: dict[str, tuple[Callable[[float], float], Callable[[float], float]]] = {
    "kelvin": (lambda v: v, lambda k: k),
    "degreecelsius": (lambda v: v + 273.15, lambda k: k - 273.15),
    "millidegreecelsius": (lambda v: v / 1000 + 273.15, lambda k: (k - 273.15) * 1000),
    "degreefahrenheit": (lambda v: (v + 459.67) * 5 / 9, lambda k: k * 9 / 5 - 459.67),
    "degreerankine": (lambda v: v * 5 / 9, lambda k: k * 9 / 5),
    "degreedelisle": (lambda v: 373.15 - v * 2 / 3, lambda k: (373.15 - k) * 3 / 2),
    "degreenewton": (lambda v: v * 100 / 33 + 273.15, lambda k: (k - 273.15) * 33 / 100),
    "degreereaumur": (lambda v: v * 5 / 4 + 273.15, lambda k: (k - 273.15) * 4 / 5),
    "degreeroemer": (lambda v: (v - 7.5) * 40 / 21 + 273.15, lambda k: (k - 273.15) * 21 / 40 + 7.5),
    "solartemperature": (lambda v: v * 5778, lambda k: k / 5778),
}


def _converter(table: dict[str, float]) -> Callable[..., Any]:
    units = {k.lower(): v for k, v in table.items()}

    def run(value: Any, src: Any, dst: Any) -> Any:
        a, b = units.get(str(src).lower()), units.get(str(dst).lower())
        if a is None or b is None or value is None:
            return None
        return float(value) * a / b

    return run


def convert_temperature(value: Any, src: Any, dst: Any) -> Any:
    a, b = _TO_KELVIN.get(str(src).lower()), _TO_KELVIN.get(str(dst).lower())
    if a is None or b is None or value is None:
        return None
    return b[1](a[0](float(value)))


def _series(v: Any) -> list[float | None] | None:
    if not isinstance(v, list):
        return None
    return [_num(x) for x in v]


def _elementwise(f: Callable[[float], float]) -> Callable[[Any], Any]:
    def run(s: Any) -> Any:
        xs = _series(s)
        if xs is None:
            return None
        out: list[float | None] = []
        for x in xs:
            try:
                out.append(None if x is None else f(x))
            except (ValueError, OverflowError):
                out.append(None)
        return out

    return run


def _pair(a: Any, b: Any) -> tuple[list[float], list[float]] | None:
    xs, ys = _series(a), _series(b)
    if xs is None and ys is None:
        return None
    if xs is None:
        xs = [_num(a)] * len(ys or [])
    if ys is None:
        ys = [_num(b)] * len(xs)
    n = min(len(xs), len(ys))
    return [x if x is not None else math.nan for x in xs[:n]], [
        y if y is not None else math.nan for y in ys[:n]
    ]


def series_dot_product(a: Any, b: Any) -> Any:
    got = _pair(a, b)
    if got is None:
        return None
    return float(sum(x * y for x, y in zip(*got, strict=True)))


def series_magnitude(a: Any) -> Any:
    xs = _series(a)
    if xs is None:
        return None
    return math.sqrt(sum((x or 0.0) ** 2 for x in xs))


def series_cosine_similarity(a: Any, b: Any, mag_a: Any = None, mag_b: Any = None) -> Any:
    """Cosine similarity over the shorter length; non-numeric elements are left out; empty input is null."""
    xs, ys = _series(a), _series(b)
    if not xs or not ys:
        return None
    pairs = [(x, y) for x, y in zip(xs, ys, strict=False) if x is not None and y is not None]
    ma = float(mag_a) if mag_a is not None else math.sqrt(sum(x * x for x, _ in pairs))
    mb = float(mag_b) if mag_b is not None else math.sqrt(sum(y * y for _, y in pairs))
    if ma == 0 or mb == 0:
        return None
    return sum(x * y for x, y in pairs) / (ma * mb)


def series_pearson_correlation(a: Any, b: Any) -> Any:
    """Pearson's r; a non-numeric element or arrays of different lengths give null."""
    xs, ys = _series(a), _series(b)
    if xs is None or ys is None or len(xs) != len(ys) or len(xs) < 2:
        return None
    if any(v is None for v in xs) or any(v is None for v in ys):
        return None
    return float(np.corrcoef(np.array(xs, dtype=float), np.array(ys, dtype=float))[0, 1])


def series_sum(a: Any) -> Any:
    xs = _series(a)
    return None if xs is None else float(sum(x for x in xs if x is not None))


def series_product(a: Any) -> Any:
    xs = _series(a)
    return None if xs is None else float(math.prod(x for x in xs if x is not None))


_COT = lambda v: 1.0 / math.tan(v)  # noqa: E731

IMPLS: dict[str, Any] = {
    "beta_cdf": beta_cdf,
    "beta_pdf": beta_pdf,
    "beta_inv": beta_inv,
    "welch_test": welch_test,
    "erf": lambda v: math.erf(float(v)),
    "erfc": lambda v: math.erfc(float(v)),
    "gamma": gamma,
    "loggamma": loggamma,
    "convert_length": _converter(_LENGTH),
    "convert_volume": _converter(_VOLUME),
    "convert_mass": _converter(_MASS),
    "convert_speed": _converter(_SPEED),
    "convert_energy": _converter(_ENERGY),
    "convert_force": _converter(_FORCE),
    "convert_angle": _converter(_ANGLE),
    "convert_temperature": convert_temperature,
    "series_abs": _elementwise(abs),
    "series_acos": _elementwise(math.acos),
    "series_asin": _elementwise(math.asin),
    "series_atan": _elementwise(math.atan),
    "series_ceiling": _elementwise(lambda v: float(math.ceil(v))),
    "series_cos": _elementwise(math.cos),
    "series_cot": _elementwise(_COT),
    "series_exp": _elementwise(math.exp),
    "series_floor": _elementwise(lambda v: float(math.floor(v))),
    "series_log": _elementwise(math.log),
    "series_sign": _elementwise(lambda v: float((v > 0) - (v < 0))),
    "series_sin": _elementwise(math.sin),
    "series_tan": _elementwise(math.tan),
    "series_dot_product": series_dot_product,
    "series_magnitude": series_magnitude,
    "series_cosine_similarity": series_cosine_similarity,
    "series_pearson_correlation": series_pearson_correlation,
    "series_sum": series_sum,
    "series_product": series_product,
}
