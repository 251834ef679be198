"""floodgate_mitogen_linear wraps a task's variables for lazy templating once, not at every render
(strategy_plugins/, FLOODGATE_LAZY_VARS_CACHE): every render still gets what ansible-core's own wrapping gives -
the same values, a value set or removed since the last render, a loop's new item, a template rendered again at
each render - through the real TemplateEngine of the pinned ansible-core."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ansible._internal._templating import _jinja_bits
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "strategy_plugins"))
import floodgate_mitogen_linear as strategy  # noqa: E402

EXPRESSIONS = [
    "{{ iface }}",
    "{{ instance }}",  # a variable that is a template of two others
    "{{ rules | map(attribute='port') | list }}",
    "{{ nested.inner }}",
    "{{ 'yes' if queue | int > 3 else 'no' }}",
    "{{ undefined_here | default('fallback') }}",
]


def variables() -> dict[str, Any]:
    """A task's variables as VariableManager gives them: a plain dict, more entries than the cache's minimum,
    some of them templates."""
    v: dict[str, Any] = {f"filler_{i}": trust_as_template("{{ 'x' }}") if i % 2 else i for i in range(40)}
    v.update(
        iface="eth3",
        queue=4,
        instance=trust_as_template("{{ iface }}-{{ queue }}"),
        rules=[{"port": 53}, {"port": 123}],
        nested={"inner": trust_as_template("{{ instance }}!")},
        doubled=trust_as_template("{{ item * 2 }}"),
        stamp=trust_as_template("{{ now().timestamp() }}"),
    )
    return v


def render_all(templar: Templar) -> list[Any]:
    return [templar.template(trust_as_template(e)) for e in EXPRESSIONS]


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[int, int], tuple[Any, ...]]:
    assert _jinja_bits._flatten_and_lazify_vars is strategy._flatten_and_lazify_vars_kept
    fresh: dict[tuple[int, int], tuple[Any, ...]] = {}
    monkeypatch.setattr(strategy, "_LAZY_VARS", fresh)
    return fresh


def test_renders_equal_ansible_cores_own_wrapping(
    kept: dict[tuple[int, int], tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    v = variables()
    templar = Templar(loader=DataLoader(), variables=v)
    with_cache = [render_all(templar) for _ in range(3)]
    # one wrapper for the task's dict, made at the first render and used by the others
    assert len(kept) == 1 and next(iter(kept.values()))[0] is v
    monkeypatch.setattr(_jinja_bits, "_flatten_and_lazify_vars", strategy._flatten_and_lazify_vars)
    without = render_all(Templar(loader=DataLoader(), variables=variables()))
    assert with_cache == [without] * 3
    assert without == ["eth3", "eth3-4", [53, 123], "eth3-4!", "yes", "fallback"]


def test_each_render_gets_its_own_copy(kept: dict[tuple[int, int], tuple[Any, ...]]) -> None:
    """A template is rendered again at each render (nothing one render produced is handed to the next), and the
    kept wrapper itself is never rendered into."""
    templar = Templar(loader=DataLoader(), variables=variables())
    first = templar.template(trust_as_template("{{ stamp }}"))
    time.sleep(0.01)
    second = templar.template(trust_as_template("{{ stamp }}"))
    assert float(second) > float(first)
    (entry,) = kept.values()
    lazy = entry[4]
    assert type(dict.__getitem__(lazy, "stamp")).__name__ == "_LazyValue"  # still unrendered


def test_a_changed_dict_gets_a_new_wrapper(kept: dict[tuple[int, int], tuple[Any, ...]]) -> None:
    v = variables()
    templar = Templar(loader=DataLoader(), variables=v)
    assert templar.template(trust_as_template("{{ iface }}")) == "eth3"
    v["iface"] = "eth5"  # a value replaced (a registered result, set again)
    assert templar.template(trust_as_template("{{ instance }}")) == "eth5-4"
    v["registered"] = {"changed": True}  # a key added
    assert templar.template(trust_as_template("{{ registered.changed }}")) is True
    del v["registered"]  # a key removed
    assert templar.template(trust_as_template("{{ registered | default('gone') }}")) == "gone"
    for item in (1, 5, 7):  # a loop's item, the same key with a new value each time
        v["item"] = item
        assert templar.template(trust_as_template("{{ doubled }}")) == item * 2
    assert len(kept) == 1  # the one entry for (dict, templar), remade at each change


def test_each_templar_and_dict_has_its_own_entry_and_the_cache_is_bounded(
    kept: dict[tuple[int, int], tuple[Any, ...]],
) -> None:
    v = variables()
    a, b = Templar(loader=DataLoader(), variables=v), Templar(loader=DataLoader(), variables=v)
    assert a.template(trust_as_template("{{ instance }}")) == b.template(trust_as_template("{{ instance }}"))
    assert len(kept) == 2
    for _ in range(strategy._LAZY_VARS_KEEP + 3):
        Templar(loader=DataLoader(), variables=variables()).template(trust_as_template("{{ iface }}"))
    assert 0 < len(kept) <= strategy._LAZY_VARS_KEEP


def test_small_dicts_go_through_ansible_core(kept: dict[tuple[int, int], tuple[Any, ...]]) -> None:
    small = {"iface": "eth3", "queue": 4, "instance": trust_as_template("{{ iface }}-{{ queue }}")}
    templar = Templar(loader=DataLoader(), variables=small)
    assert templar.template(trust_as_template("{{ instance }}")) == "eth3-4"
    assert not kept
