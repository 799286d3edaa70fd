"""Two runs of ``savkit eval`` on the same objects, compared per object and globally (B minus A, in points)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from savkit.errors import SavkitError
from savkit.eval.results_file import headline, read_results
from savkit.report.stats import paired_bootstrap_ci, sign_test

MEASURES = ("J&F", "J", "F")


@dataclass
class ObjectDelta:
    video: str
    object: str
    a: float
    b: float

    @property
    def delta(self) -> float:
        return self.b - self.a


@dataclass
class Comparison:
    a_path: Path
    b_path: Path
    protocol: str
    delta: dict[str, float]  # global J&F, J, F of B minus A
    ci95: tuple[float, float]
    sign_test_p: float
    objects: list[ObjectDelta]  # in A's order

    def most(self, count: int, improved: bool) -> list[ObjectDelta]:
        """The ``count`` objects that improved (or regressed) most, excluding unchanged ones."""
        ranked = sorted(self.objects, key=lambda o: o.delta, reverse=improved)
        return [o for o in ranked[:count] if (o.delta > 0 if improved else o.delta < 0)]

    def to_json(self) -> dict:
        return {
            "a": str(self.a_path),
            "b": str(self.b_path),
            "protocol": self.protocol,
            "delta": self.delta,
            "ci95": list(self.ci95),
            "sign_test_p": self.sign_test_p,
            "objects": [
                {"video": o.video, "object": o.object, "a": o.a, "b": o.b, "delta": o.delta}
                for o in self.objects
            ],
        }

    def console_text(self, count: int = 5) -> str:
        improved = sum(o.delta > 0 for o in self.objects)
        regressed = sum(o.delta < 0 for o in self.objects)
        lines = [
            f"A: {self.a_path}",
            f"B: {self.b_path}",
            f"protocol {self.protocol}, {len(self.objects)} objects: {improved} improved, {regressed} regressed, "
            f"{len(self.objects) - improved - regressed} unchanged",
            "",
            f"{'':<8}{'B - A':>8}",
            *(f"{name:<8}{self.delta[name]:>+8.2f}" for name in self.delta),
            f"95% CI of the J&F difference (paired bootstrap): [{self.ci95[0]:+.2f}, {self.ci95[1]:+.2f}]",
            f"sign test p = {self.sign_test_p:.4g}",
        ]
        for title, rows in (
            ("improved most", self.most(count, True)),
            ("regressed most", self.most(count, False)),
        ):
            if rows:
                lines += ["", f"{title}:", f"{'video':<24}{'obj':>5}{'A':>8}{'B':>8}{'B - A':>8}"]
                lines += [f"{o.video:<24}{o.object:>5}{o.a:>8.1f}{o.b:>8.1f}{o.delta:>+8.1f}" for o in rows]
        return "\n".join(lines) + "\n"


def compare_results(a_path: str | Path, b_path: str | Path) -> Comparison:
    """Match the objects of two results files by (video, object) and compare them; a mismatch is an error."""
    a_path, b_path = Path(a_path), Path(b_path)
    a, b = read_results(a_path), read_results(b_path)
    if a.get("protocol") != b.get("protocol"):
        raise SavkitError(
            f"{a_path} is protocol {a.get('protocol')!r} but {b_path} is {b.get('protocol')!r}: compare runs "
            "of the same protocol"
        )
    b_objects = {(o["video"], o["object"]): o for o in b["objects"]}
    keys = [(o["video"], o["object"]) for o in a["objects"]]
    _check_same_objects(keys, b_objects, a_path, b_path)
    objects = [
        ObjectDelta(o["video"], o["object"], headline(o), headline(b_objects[k]))
        for k, o in zip(keys, a["objects"], strict=True)
    ]
    deltas = np.array([o.delta for o in objects])
    measures = [m for m in MEASURES if m in a.get("global", {}) and m in b.get("global", {})]
    delta = {m: float(b["global"][m] - a["global"][m]) for m in measures}
    return Comparison(
        a_path, b_path, str(a.get("protocol")), delta, paired_bootstrap_ci(deltas), sign_test(deltas), objects
    )


def _check_same_objects(keys: list[tuple[str, str]], b_objects: dict, a_path: Path, b_path: Path) -> None:
    only_a = [k for k in keys if k not in b_objects]
    only_b = sorted(set(b_objects) - set(keys))
    if only_a or only_b or len(set(keys)) != len(keys):
        example = only_a[0] if only_a else only_b[0] if only_b else keys[0]
        raise SavkitError(
            f"{a_path} and {b_path} score different objects ({len(only_a)} only in A, {len(only_b)} only in B, "
            f"e.g. video {example[0]} object {example[1]}): compare two runs on the same GT"
        )
