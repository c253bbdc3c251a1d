/* husk events: stats (and OOM events) of a container as JSON lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "container_cgroup.h"

struct events_opts {
	const char *interval;
	bool stats;
};

static const struct husk_flag flags[] = {
	{ "interval", 0, HUSK_FLAG_STRING, offsetof(struct events_opts, interval),
	  "how often to print stats, a duration like 5s or 500ms (default 5s)" },
	{ "stats", 0, HUSK_FLAG_BOOL, offsetof(struct events_opts, stats),
	  "print the container's stats once and exit" },
	HUSK_FLAGS_END,
};

/* A Go duration ("1.5s", "300ms", "2m", "1h30m") in milliseconds. */
static int parse_duration(const char *s, unsigned *ms)
{
	static const struct { const char *u; double ms; } units[] = {
		{ "ns", 1e-6 }, { "us", 1e-3 }, { "µs", 1e-3 }, { "ms", 1 }, { "s", 1e3 }, { "m", 6e4 }, { "h", 3.6e6 },
	};
	double total = 0;
	if (!*s)
		return -1;
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		if (end == s || v < 0)
			return -1;
		s = end;
		size_t best = 0, blen = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].u);
			if (!strncmp(s, units[i].u, l) && l > blen) {
				best = i;
				blen = l;
			}
		}
		if (!blen)
			return -1;
		total += v * units[best].ms;
		s += blen;
	}
	if (total < 1 || total > 86400000.0)
		return -1;
	*ms = (unsigned)(total + 0.5);
	return 0;
}

static int events_cmd(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct events_opts o = { 0 };
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, &o, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	unsigned ms = 5000;
	if (o.interval && parse_duration(o.interval, &ms) < 0)
		return husk_cli_failf(cmd->name, pos[0], "invalid --interval \"%s\": expected a duration like 5s",
				      o.interval);
	struct husk_error e = { 0 };
	if (husk_container_events(g, pos[0], o.stats, ms, stdout, &e) < 0)
		return husk_cli_fail(cmd->name, pos[0], &e);
	return 0;
}

const struct husk_cmd husk_events_cmd = {
	.name = "events",
	.run = events_cmd,
	.summary = "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
	.args = "<container-id>",
	.description = "   Print the container's resource usage as JSON, one event a line\n"
		       "   ({\"type\":\"stats\",\"id\":...,\"data\":{...}}) every --interval, and an\n"
		       "   {\"type\":\"oom\"} event for each OOM, until the container stops.\n",
	.flags = flags,
};
