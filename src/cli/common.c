/* Shared command-line machinery: flag parsing, help layout, errors,
 * signal names. */
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "log.h"
#include "util.h"

int husk_cli_fail(const char *cmd, const char *id, const struct husk_error *e)
{
	if (cmd) {
		husk_log_fatal(cmd, id, e);
	} else {
		/* Global option errors come before the log is open. */
		char buf[HUSK_ERR_MSG_MAX + 128];
		fprintf(stderr, "husk: %s\n", husk_err_str(e, buf, sizeof(buf)));
	}
	return 1;
}

int husk_cli_failf(const char *cmd, const char *id, const char *fmt, ...)
{
	struct husk_error e = { 0 };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	return husk_cli_fail(cmd, id, &e);
}

static const struct husk_flag *flag_find(const struct husk_flag *flags, const char *name, size_t len)
{
	for (const struct husk_flag *f = flags; f && f->name; f++) {
		if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
			return f;
		if (len == 1 && f->short_name == name[0])
			return f;
	}
	return NULL;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "t", "true" }, *const no[] = { "0", "f", "false" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

/* "-it": every letter a short bool flag, all set; else nothing is set. */
static bool short_bools(const struct husk_flag *flags, const char *name, void *opts)
{
	if (!name[0] || !name[1])
		return false;
	for (const char *c = name; *c; c++) {
		const struct husk_flag *f = flag_find(flags, c, 1);
		if (!f || f->type != HUSK_FLAG_BOOL)
			return false;
	}
	for (const char *c = name; *c; c++)
		*(bool *)((char *)opts + flag_find(flags, c, 1)->offset) = true;
	return true;
}

/* The one parser behind both global options (stop_at_positional: the first
 * positional is the command) and command options (flags may also follow
 * positionals).  *consumed is the index of the first unparsed argument. */
static int parse_flags(const struct husk_flag *flags, bool implicit_help, bool stop_at_positional,
		       int argc, char **argv, void *opts, char **pos, int *npos, int *consumed,
		       struct husk_error *e)
{
	int i = 0, failed = 0;
	*npos = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			if (stop_at_positional) {
				i++;
				break;
			}
			while (++i < argc)
				pos[(*npos)++] = argv[i];
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			if (stop_at_positional)
				break;
			pos[(*npos)++] = argv[i];
			continue;
		}
		/* "-x", "-name", "--name", optionally "=value". */
		const char *name = a + (a[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		char shown[256];
		snprintf(shown, sizeof(shown), "%.*s", (int)(name - a + len), a);
		if (len == 0 || name[0] == '-') {
			if (!failed)
				failed = husk_err(e, 0, "bad flag syntax: %s", a);
			continue;
		}
		const struct husk_flag *f = flag_find(flags, name, len);
		if (!f && a[1] != '-' && !eq && short_bools(flags, name, opts))
			continue;
		if (!f) {
			if (implicit_help && ((len == 4 && strncmp(name, "help", 4) == 0) ||
					      (len == 1 && name[0] == 'h')))
				return *consumed = i + 1, HUSK_CLI_HELP;
			/* Keep going: the error line should name the id. */
			if (!failed)
				failed = husk_err(e, 0, "unknown flag %s", shown);
			continue;
		}
		char *slot = (char *)opts + f->offset;
		if (f->type == HUSK_FLAG_BOOL) {
			bool v = true;
			if (eq && parse_bool(eq + 1, &v) < 0 && !failed)
				failed = husk_err(e, 0, "invalid value \"%s\" for flag %s: expected true or false",
						  eq + 1, shown);
			*(bool *)slot = v;
			continue;
		}
		const char *val;
		if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			if (!failed)
				failed = husk_err(e, 0, "flag %s needs a value", shown);
			break;
		}
		if (f->type == HUSK_FLAG_STRING) {
			*(const char **)slot = val;
		} else if (f->type == HUSK_FLAG_LIST) {
			husk_list_push((struct husk_list *)slot, val);
		} else {
			long n;
			if (husk_parse_long(val, 0, INT_MAX, &n) == 0)
				*(int *)slot = (int)n;
			else if (!failed)
				failed = husk_err(e, 0,
						  "invalid value \"%s\" for flag %s: expected a non-negative integer",
						  val, shown);
		}
	}
	*consumed = i;
	return failed;
}

int husk_cli_parse_globals(const struct husk_flag *flags, int argc, char **argv, void *opts,
			   int *consumed, struct husk_error *e)
{
	char *unused[1];
	int n;
	return parse_flags(flags, false, true, argc, argv, opts, unused, &n, consumed, e);
}

int husk_cli_parse_leading(const struct husk_cmd *cmd, int argc, char **argv, void *opts,
			   int *consumed, struct husk_error *e)
{
	char *unused[1];
	int n;
	int r = parse_flags(cmd->flags, true, true, argc - 1, argv + 1, opts, unused, &n, consumed, e);
	*consumed += 1;
	if (r == HUSK_CLI_HELP)
		husk_cli_print_cmd_help(cmd);
	return r;
}

int husk_cli_parse(const struct husk_cmd *cmd, int argc, char **argv, void *opts, char **pos,
		   int *npos, struct husk_error *e)
{
	int consumed;
	int r = parse_flags(cmd->flags, true, false, argc - 1, argv + 1, opts, pos, npos, &consumed, e);
	if (r == HUSK_CLI_HELP)
		husk_cli_print_cmd_help(cmd);
	return r;
}

int husk_cli_parse_args(const struct husk_cmd *cmd, int argc, char **argv, void *opts,
			char **pos, int *npos, int min, int max, bool id_first)
{
	struct husk_error e = { 0 };
	int r = husk_cli_parse(cmd, argc, argv, opts, pos, npos, &e);
	const char *id = id_first && *npos > 0 ? pos[0] : NULL;
	if (r == HUSK_CLI_HELP)
		return r;
	if (r < 0) {
		husk_cli_fail(cmd->name, id, &e);
		return -1;
	}
	if (*npos < min) {
		husk_cli_failf(cmd->name, NULL, "missing %s", id_first ? "container id" : "argument");
		return -1;
	}
	if (*npos > max) {
		husk_cli_failf(cmd->name, id, "unexpected argument \"%s\"", pos[max]);
		return -1;
	}
	if (id && husk_validate_id(id, &e) < 0) {
		husk_cli_fail(cmd->name, id, &e);
		return -1;
	}
	return 0;
}

int husk_cli_parse_create(const struct husk_cmd *cmd, int argc, char **argv, void *opts,
			  struct husk_create_opts *o)
{
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, opts, pos, &npos, 1, 1, true);
	if (r)
		return r;
	o->id = pos[0];
	o->bundle = husk_nonempty(o->bundle);
	o->pid_file = husk_nonempty(o->pid_file);
	o->console_socket = husk_nonempty(o->console_socket);
	return 0;
}

int husk_cli_id_cmd(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc,
		    char **argv)
{
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, NULL, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	struct husk_error e = { 0 };
	if (cmd->id_op(g, pos[0], &e) < 0)
		return husk_cli_fail(cmd->name, pos[0], &e);
	return 0;
}

/* Flag column of the help: "--name value, -s value". */
static void flag_label(const struct husk_flag *f, char *buf, size_t len)
{
	const char *v = f->type == HUSK_FLAG_BOOL ? "" : " value";
	if (f->short_name)
		snprintf(buf, len, "--%s%s, -%c%s", f->name, v, f->short_name, v);
	else
		snprintf(buf, len, "--%s%s", f->name, v);
}

void husk_cli_print_flags(FILE *out, const struct husk_flag *flags)
{
	char label[128];
	size_t w = 0;
	for (const struct husk_flag *f = flags; f && f->name; f++) {
		if (!f->help)
			continue;
		flag_label(f, label, sizeof(label));
		if (strlen(label) > w)
			w = strlen(label);
	}
	for (const struct husk_flag *f = flags; f && f->name; f++) {
		if (!f->help)  /* accepted for compatibility, not advertised */
			continue;
		flag_label(f, label, sizeof(label));
		fprintf(out, "   %-*s  %s\n", (int)w, label, f->help);
	}
}

void husk_cli_print_cmd_help(const struct husk_cmd *cmd)
{
	bool has_flags = false;
	for (const struct husk_flag *f = cmd->flags; f && f->name; f++)
		has_flags |= f->help != NULL;
	printf("NAME:\n   husk %s - %s\n\nUSAGE:\n   husk %s%s%s%s\n", cmd->name, cmd->summary,
	       cmd->name, has_flags ? " [command options]" : "", cmd->args[0] ? " " : "", cmd->args);
	if (cmd->description)
		printf("\nDESCRIPTION:\n%s", cmd->description);
	if (has_flags) {
		printf("\nOPTIONS:\n");
		husk_cli_print_flags(stdout, cmd->flags);
	}
}

/* Signal names without the SIG prefix (aliases included). */
static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },       { "INT", SIGINT },       { "QUIT", SIGQUIT },   { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },     { "ABRT", SIGABRT },     { "IOT", SIGIOT },     { "BUS", SIGBUS },
	{ "FPE", SIGFPE },       { "KILL", SIGKILL },     { "USR1", SIGUSR1 },   { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },     { "PIPE", SIGPIPE },     { "ALRM", SIGALRM },   { "TERM", SIGTERM },
#ifdef SIGSTKFLT
	{ "STKFLT", SIGSTKFLT },
#endif
	{ "CHLD", SIGCHLD },     { "CLD", SIGCHLD },      { "CONT", SIGCONT },   { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },     { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU },   { "URG", SIGURG },
	{ "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ },     { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH },   { "IO", SIGIO },         { "POLL", SIGPOLL },   { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

int husk_signal_parse(const char *s)
{
	long n;
	if (husk_parse_long(s, 0, SIGRTMAX, &n) == 0)
		return (int)n;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].sig;
	/* RTMIN, RTMIN+N, RTMAX, RTMAX-N */
	int base, dir;
	if (strncasecmp(s, "RTMIN", 5) == 0) {
		base = SIGRTMIN;
		dir = 1;
	} else if (strncasecmp(s, "RTMAX", 5) == 0) {
		base = SIGRTMAX;
		dir = -1;
	} else {
		return -1;
	}
	s += 5;
	if (!*s)
		return base;
	if (*s != (dir > 0 ? '+' : '-') || husk_parse_long(s + 1, 0, SIGRTMAX - SIGRTMIN, &n) < 0)
		return -1;
	return base + dir * (int)n;
}
