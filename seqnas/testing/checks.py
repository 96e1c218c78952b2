"""Assertions on what a strategy proposed (the records a ``driver.Driver`` kept)."""

from __future__ import annotations

from seqnas.strategies.base import Strategy
from seqnas.strategies.multifidelity import MultiFidelity
from seqnas.trial import TrialRecord, TrialState


def keys(records: list[TrialRecord]) -> list[str | None]:
    """What each trial proposed: its architecture's key, or for a one-shot job's trial ``kind#number``."""
    return [r.arch.key if r.arch is not None else f"{r.kind}#{r.number}" for r in records]


def arch_records(records: list[TrialRecord]) -> list[TrialRecord]:
    """The architecture trials (a one-shot job's trial has no architecture); each must carry its architecture."""
    out = [r for r in records if r.kind == "arch"]
    assert all(r.arch is not None for r in out)
    assert all(r.arch is None for r in records if r.kind != "arch"), "only architecture trials propose an architecture"
    return out


def promotions(records: list[TrialRecord]) -> list[TrialRecord]:
    """A multi-fidelity strategy's trials that continue an earlier trial (``info["parent"]``)."""
    return [r for r in records if r.info.get("parent") is not None]


def is_multi_fidelity(s: Strategy) -> bool:
    """Whether ``s`` proposes an architecture once per rung (the built-in ``MultiFidelity`` schedulers)."""
    return isinstance(s, MultiFidelity)


def assert_no_repeats(s: Strategy, records: list[TrialRecord], multi_fidelity: bool | None = None) -> None:
    """Nothing is proposed twice: for most strategies, no architecture twice (each one-shot job is a
    trial of its own). A multi-fidelity strategy (``multi_fidelity``; None: ``is_multi_fidelity(s)``)
    proposes an architecture once per rung it reaches, each run being a trial with ``info`` rung /
    rung_epochs / bracket / parent, its rungs' epochs in ``s.rungs``; for it:

    - never the same (architecture, rung) twice, and ``rung_epochs`` is that rung's epochs;
    - a trial without a parent starts an architecture new to the study, and all of a bracket's new
      architectures start at one rung (the bracket's first);
    - every promotion (a trial with a parent: a rung above its bracket's first) names as parent a
      trial of the same architecture in the same bracket at the previous rung, which had finished
      before the promotion was asked (its result told) and was not FAILED.
    """
    if not (is_multi_fidelity(s) if multi_fidelity is None else multi_fidelity):
        assert len(set(keys(records))) == len(records), f"{s.name} proposed an architecture twice"
        return
    rungs = list(getattr(s, "rungs"))  # noqa: B009 - a multi-fidelity strategy's rungs, whatever its class
    by_number = {r.number: r for r in records}
    runs: set[tuple[str, int]] = set()
    started: set[str] = set()  # architectures proposed so far
    first_rungs: dict[int, set[int]] = {}  # bracket -> rungs its new architectures started at
    for r in sorted(records, key=lambda r: r.number):
        assert r.kind == "arch" and r.arch is not None, f"{s.name} proposed a {r.kind!r} trial without an architecture"
        rung, parent, bracket = r.info["rung"], r.info["parent"], r.info["bracket"]
        assert 0 <= rung < len(rungs) and r.info["rung_epochs"] == rungs[rung], f"trial {r.number}: {r.info}"
        assert (r.arch.key, rung) not in runs, f"trial {r.number} runs {dict(r.arch)} at rung {rung} again"
        runs.add((r.arch.key, rung))
        if parent is None:
            assert r.arch.key not in started, f"trial {r.number} starts {dict(r.arch)} anew, proposed before"
            first_rungs.setdefault(bracket, set()).add(rung)
        else:
            p = by_number.get(parent)
            assert p is not None and p.number < r.number, f"trial {r.number}'s parent {parent} is no earlier trial"
            assert p.arch == r.arch, f"trial {r.number} continues trial {parent} of another architecture"
            assert (p.info["bracket"], p.info["rung"]) == (bracket, rung - 1), \
                f"trial {r.number} (bracket {bracket}, rung {rung}) continues trial {parent} at {p.info}"
            assert p.tell_seq is not None and p.tell_seq <= r.told_before, \
                f"trial {r.number} promotes trial {parent} before its result was told"
            assert p.state is TrialState.COMPLETE, f"trial {r.number} promotes trial {parent}, which {p.state.value}"
        started.add(r.arch.key)
    assert all(len(v) == 1 for v in first_rungs.values()), f"a bracket started architectures at several rungs: {first_rungs}"


__all__ = ["arch_records", "assert_no_repeats", "is_multi_fidelity", "keys", "promotions"]
