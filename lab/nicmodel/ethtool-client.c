/* ethtool on lab edges (installed as /usr/local/sbin/ethtool and fg-nicmodel by lab/up.sh): the client of the
 * lab NIC model's ethtool server (lab/nicmodel/ethtool-server) - a MODEL of an 82599's RSS and ntuple, not
 * hardware; docs/lab.md.
 *
 * Every ethtool call is a new process (a mitigation makes ~21 per host). Started as Python, each call paid the
 * interpreter's start (~7 ms of ~11). This client costs well under a millisecond: options the model never
 * touches go straight to the real ethtool; the rest go to the server on a UNIX socket with this process's
 * argv and its stdin, stdout and stderr (SCM_RIGHTS), and the exit code comes back. The server's child runs
 * the front end's main() on those descriptors, so the output, the exit code and the model's state are the
 * front end's own. Without a server (not started yet, stopped) the client runs the front end itself, as
 * the earlier launcher did: python3 -I -S on the module installed in ../lib/floodgate-lab. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REAL_ETHTOOL "/usr/sbin/ethtool"
#define PYTHON "/usr/bin/python3"
#define DEFAULT_SOCK "/run/floodgate-lab/nicmodel.sock"
#define MAX_REQUEST 65536

/* NEVER_MODELLED: options the front end never models (it runs the real ethtool for them whatever the interface). */
static const char *const never_modelled[] = {"-i", "--driver", "-l", "--show-channels", "-S", "--statistics", NULL};

static const char launch_code[] = "import sys\n"
				  "sys.path.insert(0, sys.argv[1])\n"
				  "import nicmodel_ethtool\n"
				  "sys.exit(nicmodel_ethtool.main(sys.argv[2:]))\n";

static int is_never_modelled(const char *opt)
{
	for (const char *const *p = never_modelled; *p; p++)
		if (strcmp(opt, *p) == 0)
			return 1;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* The front end run by Python in this process (no server): the module beside this binary's directory. */
static _Noreturn void run_front_end(int argc, char **argv)
{
	char exe[PATH_MAX], lib[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		fprintf(stderr, "ethtool (lab NIC model): cannot read /proc/self/exe: %s\n", strerror(errno));
		exit(1);
	}
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(lib, sizeof(lib), "%s/../lib/floodgate-lab", exe);
	char **args = calloc((size_t)argc + 6, sizeof(*args));
	if (!args) {
		fprintf(stderr, "ethtool (lab NIC model): out of memory\n");
		exit(1);
	}
	int i = 0;
	args[i++] = (char *)PYTHON;
	args[i++] = (char *)"-I";
	args[i++] = (char *)"-S";
	args[i++] = (char *)"-c";
	args[i++] = (char *)launch_code;
	args[i++] = lib;
	for (int a = 0; a < argc; a++)
		args[i++] = argv[a];
	args[i] = NULL;
	execv(PYTHON, args);
	fprintf(stderr, "ethtool (lab NIC model): cannot run %s: %s\n", PYTHON, strerror(errno));
	exit(1);
}

/* The call through the server: 0 with *code set, -1 when there is no server to take it (nothing was run). */
static int call_server(int argc, char **argv, int *code)
{
	static char request[MAX_REQUEST];
	size_t len = 0;
	for (int a = 0; a < argc; a++) {
		size_t n = strlen(argv[a]) + 1;
		if (len + n > sizeof(request))
			return -1; /* longer than any ethtool call: let Python take it */
		memcpy(request + len, argv[a], n);
		len += n;
	}
	const char *path = getenv("FLOODGATE_NICMODEL_SOCK");
	if (!path || !*path)
		path = DEFAULT_SOCK;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path))
		return -1;
	strcpy(addr.sun_path, path);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(s);
		return -1;
	}
	int fds[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof(control));
	struct iovec iov = {.iov_base = request, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	ssize_t sent;
	do
		sent = sendmsg(s, &msg, MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	if (sent != (ssize_t)len) {
		/* e.g. one of stdin/stdout/stderr closed (EBADF): nothing reached the server */
		close(s);
		return -1;
	}
	int reply;
	ssize_t got;
	do
		got = recv(s, &reply, sizeof(reply), 0);
	while (got < 0 && errno == EINTR);
	close(s);
	if (got != (ssize_t)sizeof(reply)) {
		/* The call may have run in part: never run it a second time. */
		fprintf(stderr, "ethtool (lab NIC model): the model's server ended the call without its exit code; "
				"see 'journalctl -u fg-nicmodel' on this host\n");
		*code = 1;
		return 0;
	}
	*code = reply;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 1)
		return 1;
	if (strcmp(base_name(argv[0]), "fg-nicmodel") != 0 && argc > 1 && is_never_modelled(argv[1])) {
		argv[0] = (char *)REAL_ETHTOOL;
		execv(REAL_ETHTOOL, argv);
		fprintf(stderr, "ethtool (lab NIC model): cannot run %s: %s\n", REAL_ETHTOOL, strerror(errno));
		return 1;
	}
	int code;
	if (call_server(argc, argv, &code) == 0)
		return code & 0xff;
	run_front_end(argc, argv);
}
