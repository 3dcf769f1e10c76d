"""The metamorphic suite's frozen subset (bench/metamorphic.py): real event files from the
student-instrumentation writers and a loop writer, rewritten into variants that mean the same
(other names, other cadences) or say less (evidence groups removed). The doctor's primary
finding must not change under the first two, and under the third may only fall back to no
cause: never another cause, never an alarm on a healthy run.

The fixtures (tests/fixtures/metamorphic, written by `bench/metamorphic.py --freeze`):
students/vname/fail5 (softmax twice), students/scoped/fail3 (dead ReLUs), students/torch_ish/
fail4 (noisy inputs) and baseline (healthy), and a 512x512 Adam net that overfits the
4000-digit sample within 2000 steps.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from metamorphic import judge, variants, verdict  # noqa: E402
from metamorphic_rewrite import GROUPS, Role, conventions, read_records, roles_of, write_records  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "metamorphic"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())["runs"]
EXPECTED = {"healthy": "-", "overfitting": "overfitting"}


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_variant_keeps_the_primary_finding_or_falls_back_to_no_cause(name, tmp_path):
    entry = MANIFEST[name]
    base = verdict(FIXTURES / name, name)
    assert base[0] == EXPECTED.get(entry["label"], entry["label"])
    families = set()
    for family, variant, records, others in variants(FIXTURES / name, entry["spec"], renames=2, max_removed=1):
        folder = tmp_path / f"v{len(families)}-{abs(hash(variant))}"
        write_records(folder, records, others)
        found = verdict(folder, name)
        assert judge(family, base, found) == "ok", (family, variant, base, found)
        families.add(family)
    assert families == {"rename", "cadence", "remove"}


def test_every_tag_of_a_student_run_has_a_role_and_a_rename_is_real():
    entry = MANIFEST["students/torch_ish/baseline"]
    roles = roles_of("torch_ish", len(entry["spec"]["hidden"]))
    records, _ = read_records(FIXTURES / "students/torch_ish/baseline", roles)
    assert all(r.role is not None for r in records)
    kinds = {r.role.kind for r in records}
    assert {kind for group in GROUPS.values() for kind in group} - kinds == {"logits"}  # everything a student logs
    convention = next(c for c in conventions(6) if c.variables == "keras")
    assert convention.tag(Role("weights", 0, "kernel"), 3) == "dense/kernel:0"
    assert convention.tag(Role("grad", 2, "bias"), 3).count("dense_2/bias:0") == 1


def test_judging_a_variant():
    assert judge("rename", ("dead_relu", True), ("dead_relu", True)) == "ok"
    assert judge("cadence", ("dead_relu", True), ("-", False)) == "changed"
    assert judge("remove", ("dead_relu", True), ("-", False)) == "ok"  # not enough evidence
    assert judge("remove", ("dead_relu", True), ("loss_at_chance()", True)) == "ok"  # a symptom, no cause
    assert judge("remove", ("dead_relu", True), ("lr_too_low", True)) == "flip"
    assert judge("remove", ("-", False), ("lr_too_low", True)) == "new alarm"
