/* See fg_rules_file.h. Runs outside the packet path (start, SIGHUP). */
#define _GNU_SOURCE
#include "fg_rules_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RULES_FILE_MAX (16u << 20)

static void too_big(const char *name, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: larger than %u MiB: put big prefix lists in src-files", name, RULES_FILE_MAX >> 20);
}

/* Compile text (freed here) with src-file paths relative to dir; errors prefixed with name. */
static struct fg_engine *compile_text(char *text, size_t n, const char *dir, const char *name,
				      const struct fg_engine *running, char *err, size_t errlen)
{
	struct fg_compile_opts o = {.base_dir = dir, .no_files = 0, .tables_from = running};
	char e2[512];
	struct fg_engine *e = fg_engine_compile_ex(text, n, &o, e2, sizeof(e2));
	free(text);
	if (!e)
		snprintf(err, errlen, "%s: %s", name, e2);
	return e;
}

struct fg_engine *fg_rules_reload_file(const char *path, const struct fg_engine *running, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot read the rules file: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > (off_t)RULES_FILE_MAX) {
		too_big(path, err, errlen);
		close(fd);
		return NULL;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *text = malloc(cap);
	if (!text) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	/* the file may change while we read it: never read more than we sized for */
	while (n < cap - 1) {
		ssize_t k = read(fd, text + n, cap - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
			free(text);
			close(fd);
			return NULL;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	return compile_text(text, n, dir, path, running, err, errlen);
}

struct fg_engine *fg_rules_load_file(const char *path, char *err, size_t errlen)
{
	return fg_rules_reload_file(path, NULL, err, errlen);
}

struct fg_engine *fg_rules_load_fd(int fd, const char *name, const char *base_dir, const struct fg_engine *running,
				   char *err, size_t errlen)
{
	/* room for one byte past the limit: a stream that fills it is too big */
	size_t cap = 1 << 16, n = 0;
	char *text = malloc(cap);
	for (;;) {
		if (!text) {
			snprintf(err, errlen, "%s: out of memory", name);
			return NULL;
		}
		if (n == cap) {
			if (cap > RULES_FILE_MAX)
				break;
			size_t bigger = cap * 2 > RULES_FILE_MAX + 1 ? RULES_FILE_MAX + 1 : cap * 2;
			char *grown = realloc(text, bigger);
			if (!grown)
				free(text);
			text = grown;
			cap = bigger;
			continue;
		}
		ssize_t k = read(fd, text + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			snprintf(err, errlen, "%s: read error: %s", name, strerror(errno));
			free(text);
			return NULL;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n > RULES_FILE_MAX) {
		too_big(name, err, errlen);
		free(text);
		return NULL;
	}
	return compile_text(text, n, base_dir, name, running, err, errlen);
}
