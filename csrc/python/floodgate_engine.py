"""Python view of the C filter engine (cffi): compile rules, classify a batch of frames in one call.

Build first with `make -C csrc binding`; the compiled part lives in csrc/build/python/.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "build" / "python"))

from _floodgate_engine import ffi, lib

BURST_MAX = 64
DECIDED_DEFAULT = 0xFFFF
DECIDED_MALFORMED = 0xFFFE


class RulesError(ValueError):
    """The rules text did not compile; the message is the engine's ("line N: ...")."""


@dataclass(frozen=True)
class RuleStats:
    name: str
    action: str
    hits: int


class Engine:
    """A compiled rule set with its counters and rate-limit tables."""

    def __init__(
        self,
        text: str | bytes,
        *,
        allow_files: bool = False,
        base_dir: str | None = None,
        fast_path: bool = True,
    ) -> None:
        """fast_path=False: every frame through the general parser and evaluator (the fast path's tests)."""
        raw = text.encode() if isinstance(text, str) else text
        err = ffi.new("char[]", 1024)
        opts = ffi.new("struct fg_compile_opts *")
        opts.no_files = 0 if allow_files else 1
        keep = ffi.new("char[]", base_dir.encode()) if base_dir else ffi.NULL
        opts.base_dir = keep
        self._e = lib.fg_engine_compile_ex(raw, len(raw), opts, err, 1024)
        if self._e == ffi.NULL:
            raise RulesError(ffi.string(err).decode())
        self._e = ffi.gc(self._e, lib.fg_engine_free)
        lib.fg_engine_set_fast_path(self._e, 1 if fast_path else 0)

    def classify(
        self, frames: list[bytes], now_ns: int | list[int] = 0, *, explain: bool = True
    ) -> tuple[list[int], list[int]]:
        """Verdicts (1 pass, 0 drop) and deciding rule indexes for frames, in bursts of BURST_MAX.

        now_ns: one clock for all bursts, or one per burst. explain=False: verdicts only, through the
        engine's path for callers that do not ask which rule decided (fg_engine_classify, as the live
        backends call it); the deciding rules come back empty."""
        n = len(frames)
        nb = (n + BURST_MAX - 1) // BURST_MAX
        clocks = [now_ns] * max(nb, 1) if isinstance(now_ns, int) else list(now_ns)
        if len(clocks) < nb:
            raise ValueError(f"{nb} bursts need {nb} clocks, got {len(clocks)}")
        buf = b"".join(frames)
        offsets, pos = [], 0
        for f in frames:
            offsets.append(pos)
            pos += len(f)
        verdicts = ffi.new("uint8_t[]", max(n, 1))
        decided = ffi.new("uint16_t[]", max(n, 1)) if explain else ffi.NULL
        lib.fgpy_classify(
            self._e,
            ffi.from_buffer(buf) if buf else ffi.NULL,
            ffi.new("uint32_t[]", offsets or [0]),
            ffi.new("uint32_t[]", [len(f) for f in frames] or [0]),
            n,
            ffi.new("uint64_t[]", clocks or [0]),
            verdicts,
            decided,
        )
        return list(verdicts[0:n]), (list(decided[0:n]) if explain else [])

    def counters(self) -> dict[str, int]:
        c = ffi.new("struct fg_counters *")
        lib.fg_engine_counters(self._e, c)
        return {"packets": c.packets, "passed": c.passed, "dropped": c.dropped, "malformed": c.malformed}

    def rules(self) -> list[RuleStats]:
        out = []
        name, action, hits = ffi.new("char **"), ffi.new("char **"), ffi.new("uint64_t *")
        for i in range(lib.fg_engine_rule_count(self._e)):
            lib.fg_engine_rule_info(self._e, i, name, action, hits)
            out.append(RuleStats(ffi.string(name[0]).decode(), ffi.string(action[0]).decode(), hits[0]))
        return out

    def default(self) -> tuple[str, int]:
        hits = ffi.new("uint64_t *")
        v = lib.fg_engine_default_verdict(self._e, hits)
        return ("pass" if v == 1 else "drop"), hits[0]

    def evictions(self) -> int:
        return int(lib.fg_engine_ratelimit_evictions(self._e))

    def stats_json(self) -> str:
        n = lib.fg_engine_stats_json(self._e, ffi.NULL, 0)
        buf = ffi.new("char[]", n + 1)
        lib.fg_engine_stats_json(self._e, buf, n + 1)
        return ffi.string(buf).decode()

    def adopt_state(self, old: Engine) -> None:
        if lib.fg_engine_adopt_state(self._e, old._e):
            raise MemoryError("out of memory for a rate-limit table")
