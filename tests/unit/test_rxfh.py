"""rxfh: parsing `ethtool -x`, and predicting the tables `ethtool -X` builds.

The prediction is checked against the real ethtool binary (Debian's ethtool 6.1, whose fill_indir_table
computes the table) through the stand-in NIC, for table sizes 64, 128 and 512.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from ansible.module_utils.floodgate.rxfh import (
    RxfhError,
    equal_table,
    format_table,
    parse_rxfh,
    spec_args,
    table_to_spec,
    weights_to_table,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standin import nic

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ethtool"
SIZES = (64, 128, 512)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


# ------------------------------------------------------------------------------------ parser fixtures


@pytest.mark.parametrize(
    ("name", "device", "rings", "size"),
    [
        ("ixgbe-82599/ethtool-5.10_x_default_8q.txt", "enp3s0f1", 8, 128),
        ("ixgbe-82599/ethtool-6.1_x_default.txt", "eth3", 16, 128),
        ("ixgbe-82599/ethtool-6.1_x_weight_q4_excluded.txt", "eth3", 16, 128),
        ("i40e-xl710/ethtool-6.1_x_default.txt", "ens1f0", 8, 512),
        ("i40e-xl710/ethtool-6.9_x_weight.txt", "ens1f0", 8, 512),
        ("mlx5-cx5/ethtool-6.14_x_default.txt", "enp65s0f0np0", 12, 256),
    ],
)
def test_parse_fixture_header_and_table(name: str, device: str, rings: int, size: int) -> None:
    parsed = parse_rxfh(fixture(name))
    assert parsed["device"] == device
    assert parsed["ring_count"] == rings
    assert len(parsed["table"]) == size
    assert all(0 <= q < rings for q in parsed["table"])
    assert parsed["hash_funcs"] == {"toeplitz": True, "xor": False, "crc32": False}
    assert parsed["hash_key"] and len(parsed["hash_key"].split(":")) in (40, 52)


def test_parse_default_tables_are_the_kernel_default() -> None:
    # ethtool_rxfh_indir_default(i, n) = i % n: what ixgbe, i40e and mlx5 program at probe time
    for name in ("ixgbe-82599/ethtool-6.1_x_default.txt", "mlx5-cx5/ethtool-6.14_x_default.txt"):
        parsed = parse_rxfh(fixture(name))
        assert parsed["table"] == equal_table(parsed["ring_count"], len(parsed["table"]))
        assert table_to_spec(parsed["table"]) == ("equal", [parsed["ring_count"]])


def test_parse_weight_table_q4_excluded_is_what_ethtool_builds() -> None:
    parsed = parse_rxfh(fixture("ixgbe-82599/ethtool-6.1_x_weight_q4_excluded.txt"))
    weights = [0 if q == 4 else 1 for q in range(16)]
    assert parsed["table"] == weights_to_table(weights, 128)
    assert table_to_spec(parsed["table"]) == ("weight", weights)


def test_parse_input_xfrm_ethtool_6_9_and_6_14() -> None:
    assert parse_rxfh(fixture("i40e-xl710/ethtool-6.9_x_weight.txt"))["input_xfrm"] == {
        "symmetric-xor": False
    }
    assert parse_rxfh(fixture("mlx5-cx5/ethtool-6.14_x_default.txt"))["input_xfrm"] == {
        "symmetric-xor": False,
        "symmetric-or-xor": False,
    }


def test_parse_rejects_output_without_table() -> None:
    with pytest.raises(RxfhError, match="no 'RX flow hash indirection table' header"):
        parse_rxfh("Cannot get RX ring count: Operation not supported\n")


def test_parse_rejects_gap_in_rows() -> None:
    text = "RX flow hash indirection table for eth0 with 2 RX ring(s):\n    0:      0     1\n   16:      0     1\n"
    with pytest.raises(RxfhError, match="row 16 follows 2 entries"):
        parse_rxfh(text)


def test_format_table_round_trips_through_parser() -> None:
    table = weights_to_table([1, 1, 1, 1, 0, 1, 1, 1], 128)
    text = "RX flow hash indirection table for eth3 with 8 RX ring(s):\n" + format_table(table)
    assert parse_rxfh(text)["table"] == table


# --------------------------------------------------------------------------------- weight arithmetic


def test_weight_fixture_matches_prediction() -> None:
    """weight_tables.ethtool-6.1.jsonl: see weight_tables.PROVENANCE.md (re-verified below with real ethtool)."""
    cases = [json.loads(line) for line in fixture("weight_tables.ethtool-6.1.jsonl").splitlines() if line]
    assert len(cases) == 24
    for case in cases:
        assert weights_to_table(case["weights"], case["size"]) == case["table"], case


def test_issue_example_queue_4_gets_nothing() -> None:
    table = weights_to_table([1, 1, 1, 1, 0, 1, 1, 1], 128)
    assert 4 not in table
    assert Counter(table) == {0: 18, 1: 18, 2: 18, 3: 19, 5: 18, 6: 18, 7: 19}


@pytest.mark.parametrize(
    ("weights", "size", "message"),
    [
        ([0, 0, 0], 128, "at least one weight must be non-zero"),
        ([], 128, "must not be empty"),
        ([1, -1], 128, ">= 0"),
        ([100, 100], 128, "exceeds the indirection table size 128"),
    ],
)
def test_weights_ethtool_refuses(weights: list[int], size: int, message: str) -> None:
    with pytest.raises(RxfhError, match=message):
        weights_to_table(weights, size)


# total weight stays <= 64, the smallest table size (ethtool refuses a total above the table size)
weights_strategy = st.lists(st.integers(0, 6), min_size=1, max_size=16).filter(lambda w: 0 < sum(w) <= 64)


@given(weights=weights_strategy, size=st.sampled_from(SIZES))
def test_property_weight_table_shape(weights: list[int], size: int) -> None:
    table = weights_to_table(weights, size)
    counts = Counter(table)
    total = sum(weights)
    assert len(table) == size
    assert table == sorted(table)  # one contiguous run per queue, in queue order
    for queue, weight in enumerate(weights):
        if weight == 0:
            assert queue not in counts
        else:
            assert queue in counts
            # proportional: within one entry of size * w / sum
            assert abs(counts[queue] - size * weight / total) < 1


@given(weights=weights_strategy, size=st.sampled_from(SIZES))
def test_property_table_to_spec_rebuilds_weight_tables(weights: list[int], size: int) -> None:
    table = weights_to_table(weights, size)
    kind, args = table_to_spec(table)
    rebuilt = equal_table(args[0], size, *args[1:]) if kind == "equal" else weights_to_table(args, size)
    assert rebuilt == table


@given(count=st.integers(1, 16), size=st.sampled_from(SIZES), start=st.integers(0, 4))
def test_property_equal_table(count: int, size: int, start: int) -> None:
    table = equal_table(count, size, start)
    assert set(table) == set(range(start, start + min(count, size)))
    assert table_to_spec(equal_table(count, size)) == ("equal", [count])
    if start:
        assert table_to_spec(table) == ("equal", [count, start])
        assert spec_args(table_to_spec(table)) == ["start", str(start), "equal", str(count)]


def test_table_to_spec_refuses_tables_ethtool_cannot_build() -> None:
    table = equal_table(8, 128)
    table[0], table[1] = table[1], table[0]
    assert table_to_spec(table) is None
    assert table_to_spec([]) is None


# ------------------------------------------------------ the real ethtool computes the same tables


@pytest.fixture(scope="module")
def standin_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if nic.real_ethtool() is None:
        pytest.fail("ethtool is not installed: make deps installs it (mk/apt-packages.txt)")
    return nic.build(tmp_path_factory.mktemp("standin"))


def _real_table(lib: Path, directory: Path, size: int, rings: int, *spec: str) -> list[int]:
    script = nic.make_ethtool(directory, lib, rings=rings, indir_size=size)
    (directory / "nic.state").unlink(missing_ok=True)
    done = nic.ethtool(script, "-X", nic.NAME, *spec)
    assert done.returncode == 0, done.stderr
    return parse_rxfh(nic.ethtool(script, "-x", nic.NAME).stdout)["table"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weights=weights_strategy, size=st.sampled_from(SIZES), start=st.integers(0, 2))
def test_prediction_equals_real_ethtool_weight(
    standin_lib: Path, tmp_path: Path, weights: list[int], size: int, start: int
) -> None:
    spec = ["weight", *map(str, weights)]
    if start:
        spec = ["start", str(start), *spec]
    real = _real_table(standin_lib, tmp_path, size, len(weights) + start, *spec)
    assert real == weights_to_table(weights, size, start)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("count", [1, 3, 7, 8, 16])
def test_prediction_equals_real_ethtool_equal(
    standin_lib: Path, tmp_path: Path, size: int, count: int
) -> None:
    assert _real_table(standin_lib, tmp_path, size, 16, "equal", str(count)) == equal_table(count, size)


def test_weight_fixture_equals_real_ethtool(standin_lib: Path, tmp_path: Path) -> None:
    for line in fixture("weight_tables.ethtool-6.1.jsonl").splitlines():
        case = json.loads(line)
        real = _real_table(
            standin_lib, tmp_path, case["size"], len(case["weights"]), "weight", *map(str, case["weights"])
        )
        assert real == case["table"], case


def test_real_ethtool_refuses_total_above_table_size(standin_lib: Path, tmp_path: Path) -> None:
    script = nic.make_ethtool(tmp_path, standin_lib, rings=16, indir_size=64)
    done = nic.ethtool(script, "-X", nic.NAME, "weight", *["5"] * 13)
    assert done.returncode != 0
    assert "Total weight exceeds the size of the indirection table" in done.stderr
    with pytest.raises(RxfhError, match="exceeds the indirection table size 64"):
        weights_to_table([5] * 13, 64)
