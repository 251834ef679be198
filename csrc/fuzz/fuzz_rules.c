/* libFuzzer: any bytes as a rules file. Compiles or fails with a "line N: ..." message; never crashes,
 * never leaks (src-file is refused, so the fuzzer cannot make it open files). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../fg_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t = malloc(size ? size : 1);
	memcpy(t, data, size);
	char err[512];
	err[0] = 'x';
	struct fg_compile_opts o = {.no_files = 1};
	struct fg_engine *e = fg_engine_compile_ex(t, size, &o, err, sizeof(err));
	if (!e && strncmp(err, "line ", 5) != 0 && strncmp(err, "rules file larger", 17) != 0)
		abort(); /* every error names its line */
	if (e) {
		char js[256];
		fg_engine_stats_json(e, js, sizeof(js));
		fg_engine_free(e);
	}
	free(t);
	return 0;
}
