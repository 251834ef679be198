/* Load a rules file from disk into a fresh engine: used at start and on SIGHUP by every backend.
 * The file is read whole (at most 16 MiB, the format's limit) and relative `src-file` paths resolve
 * against the rules file's directory (docs/rules-format.md). */
#ifndef FG_RULES_FILE_H
#define FG_RULES_FILE_H

#include <stddef.h>

#include "fg_engine.h"

/* NULL on error, with err = "PATH: line N: ..." or "PATH: cannot read: ..." (what to do included). */
struct fg_engine *fg_rules_load_file(const char *path, char *err, size_t errlen);
/* A reload's compile (in a thread beside the loop): fg_rules_load_file with fg_compile_opts.tables_from =
 * running, so that unchanged rate limits get no table of their own; fg_engine_adopt_state(new, running) next. */
struct fg_engine *fg_rules_reload_file(const char *path, const struct fg_engine *running, char *err,
				       size_t errlen);
/* The same from an open descriptor read to its end (e.g. stdin: rules rendered elsewhere, checked before they
 * are written), relative src-file paths against base_dir; name stands for the file in messages; running as
 * for fg_rules_reload_file, or NULL. */
struct fg_engine *fg_rules_load_fd(int fd, const char *name, const char *base_dir, const struct fg_engine *running,
				   char *err, size_t errlen);

#endif
