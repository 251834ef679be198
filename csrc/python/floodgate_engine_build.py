"""Build the cffi binding of the filter engine (API mode, out of line).

`make -C csrc binding` runs this: it compiles `_floodgate_engine` into csrc/build/python/, linking the engine
statically (csrc/build/libfgengine.a), so the module has no runtime dependency on the build tree's .so.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cffi import FFI

CSRC = Path(__file__).resolve().parent.parent
OUT = CSRC / "build" / "python"

CDEF = """
#define FG_BURST_MAX 64
#define FG_DECIDED_DEFAULT 0xFFFF
#define FG_DECIDED_MALFORMED 0xFFFE
struct fg_engine;
struct fg_counters { uint64_t packets; uint64_t passed; uint64_t dropped; uint64_t malformed; };
struct fg_compile_opts { const char *base_dir; int no_files; const struct fg_engine *tables_from; };
struct fg_engine *fg_engine_compile_ex(const char *text, size_t len, const struct fg_compile_opts *o,
                                       char *err, size_t errlen);
struct fg_engine *fg_rules_load_file(const char *path, char *err, size_t errlen);
void fg_engine_free(struct fg_engine *e);
void fg_engine_classify_explain(struct fg_engine *e, const uint8_t *const *frames, const uint32_t *lens,
                                uint32_t n, uint64_t now_ns, uint8_t *verdicts, uint16_t *decided);
void fg_engine_counters(const struct fg_engine *e, struct fg_counters *out);
uint32_t fg_engine_rule_count(const struct fg_engine *e);
int fg_engine_rule_info(const struct fg_engine *e, uint32_t i, const char **name, const char **action,
                        uint64_t *hits);
int fg_engine_default_verdict(const struct fg_engine *e, uint64_t *hits);
uint64_t fg_engine_ratelimit_evictions(const struct fg_engine *e);
void fg_engine_adopt_counters(struct fg_engine *fresh, const struct fg_engine *old);
int fg_engine_adopt_state(struct fg_engine *fresh, struct fg_engine *old);
size_t fg_engine_stats_json(const struct fg_engine *e, char *buf, size_t len);
int fg_engine_set_fast_path(struct fg_engine *e, int on);

/* one call per batch: frames packed back to back in buf, offsets[i] .. offsets[i] + lens[i] */
void fgpy_classify(struct fg_engine *e, const uint8_t *buf, const uint32_t *offsets, const uint32_t *lens,
                   uint32_t n, const uint64_t *now_ns, uint8_t *verdicts, uint16_t *decided);
"""

SOURCE = """
#include "fg_engine.h"
#include "fg_rules_file.h"

/* The whole batch in one call (a cffi call costs ~0.5 us): bursts of FG_BURST_MAX, each with its own clock. */
static void fgpy_classify(struct fg_engine *e, const uint8_t *buf, const uint32_t *offsets, const uint32_t *lens,
                          uint32_t n, const uint64_t *now_ns, uint8_t *verdicts, uint16_t *decided)
{
    const uint8_t *frames[FG_BURST_MAX];
    for (uint32_t off = 0; off < n; off += FG_BURST_MAX) {
        uint32_t m = n - off < FG_BURST_MAX ? n - off : FG_BURST_MAX;
        for (uint32_t i = 0; i < m; i++)
            frames[i] = buf + offsets[off + i];
        fg_engine_classify_explain(e, frames, lens + off, m, now_ns[off / FG_BURST_MAX], verdicts + off,
                                   decided ? decided + off : NULL); /* NULL: as fg_engine_classify */
    }
}
"""


def main() -> int:
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source(
        "_floodgate_engine",
        SOURCE,
        include_dirs=[str(CSRC)],
        extra_objects=[str(CSRC / "build" / "libfgengine.a")],
        extra_compile_args=["-std=c11", "-O2"],
    )
    OUT.mkdir(parents=True, exist_ok=True)
    # distutils does not see that libfgengine.a changed: drop the old module so it always relinks
    for old in OUT.glob("_floodgate_engine*.so"):
        old.unlink()
    ffi.compile(tmpdir=str(OUT), verbose=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
