/* The systemd driver's D-Bus half, on sd-bus.  libsystemd is loaded with
 * dlopen() the first time the driver is used: linking it costs every husk
 * command ~0.5 ms of loading (it pulls in half a dozen libraries), and
 * only --systemd-cgroup needs it. */
#include "cgroup/systemd.h"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

bool husk_sd_supported(void)
{
	return HAVE_SD_BUS;
}

#if HAVE_SD_BUS
#include <dlfcn.h>
#include <systemd/sd-bus.h>

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_JOB_TIMEOUT_US (30ULL * 1000 * 1000)

static struct {
	void *lib;
	int (*bus_new)(sd_bus **);
	int (*bus_set_address)(sd_bus *, const char *);
	int (*bus_start)(sd_bus *);
	int (*bus_open_system)(sd_bus **);
	int (*bus_open_user)(sd_bus **);
	sd_bus *(*bus_flush_close_unref)(sd_bus *);
	int (*new_method_call)(sd_bus *, sd_bus_message **, const char *, const char *, const char *,
			       const char *);
	int (*append)(sd_bus_message *, const char *, ...);
	int (*append_array)(sd_bus_message *, char, const void *, size_t);
	int (*open_container)(sd_bus_message *, char, const char *);
	int (*close_container)(sd_bus_message *);
	int (*read)(sd_bus_message *, const char *, ...);
	sd_bus_message *(*message_unref)(sd_bus_message *);
	int (*call)(sd_bus *, sd_bus_message *, uint64_t, sd_bus_error *, sd_bus_message **);
	int (*match_signal)(sd_bus *, sd_bus_slot **, const char *, const char *, const char *,
			    const char *, sd_bus_message_handler_t, void *);
	sd_bus_slot *(*slot_unref)(sd_bus_slot *);
	int (*process)(sd_bus *, sd_bus_message **);
	int (*wait)(sd_bus *, uint64_t);
	void (*error_free)(sd_bus_error *);
	int (*error_has_name)(const sd_bus_error *, const char *);
} sd;

static int load(struct husk_error *e)
{
	if (sd.lib)
		return 0;
	void *lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return husk_err(e, 0, "systemd cgroup driver: cannot load libsystemd: %s", dlerror());
	static const struct { const char *name; size_t off; } syms[] = {
#define SYM(field, name) { name, offsetof(__typeof__(sd), field) }
		SYM(bus_new, "sd_bus_new"),
		SYM(bus_set_address, "sd_bus_set_address"),
		SYM(bus_start, "sd_bus_start"),
		SYM(bus_open_system, "sd_bus_open_system"),
		SYM(bus_open_user, "sd_bus_open_user"),
		SYM(bus_flush_close_unref, "sd_bus_flush_close_unref"),
		SYM(new_method_call, "sd_bus_message_new_method_call"),
		SYM(append, "sd_bus_message_append"),
		SYM(append_array, "sd_bus_message_append_array"),
		SYM(open_container, "sd_bus_message_open_container"),
		SYM(close_container, "sd_bus_message_close_container"),
		SYM(read, "sd_bus_message_read"),
		SYM(message_unref, "sd_bus_message_unref"),
		SYM(call, "sd_bus_call"),
		SYM(match_signal, "sd_bus_match_signal"),
		SYM(slot_unref, "sd_bus_slot_unref"),
		SYM(process, "sd_bus_process"),
		SYM(wait, "sd_bus_wait"),
		SYM(error_free, "sd_bus_error_free"),
		SYM(error_has_name, "sd_bus_error_has_name"),
#undef SYM
	};
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
		void *f = dlsym(lib, syms[i].name);
		if (!f) {
			husk_err(e, 0, "systemd cgroup driver: libsystemd has no %s", syms[i].name);
			dlclose(lib);
			memset(&sd, 0, sizeof(sd));
			return -1;
		}
		memcpy((char *)&sd + syms[i].off, &f, sizeof(f));
	}
	sd.lib = lib;
	return 0;
}

struct husk_sd_bus {
	sd_bus *bus;
};

/* A direct connection to a systemd's own socket: no bus daemon in
 * between (systemctl does the same), and it works before dbus is up. */
static sd_bus *connect_private(const char *path)
{
	sd_bus *bus = NULL;
	_cleanup_free_ char *address = xasprintf("unix:path=%s", path);
	if (access(path, F_OK) < 0 || sd.bus_new(&bus) < 0)
		return NULL;
	if (sd.bus_set_address(bus, address) < 0 || sd.bus_start(bus) < 0) {
		sd.bus_flush_close_unref(bus);
		return NULL;
	}
	return bus;
}

int husk_sd_connect(bool user, struct husk_sd_bus **out, struct husk_error *e)
{
	if (load(e) < 0)
		return -1;
	sd_bus *bus = NULL;
	int r = 0;
	if (user) {
		const char *dir = getenv("XDG_RUNTIME_DIR");
		if (dir && *dir) {
			_cleanup_free_ char *path = xasprintf("%s/systemd/private", dir);
			bus = connect_private(path);
		}
		if (!bus && (r = sd.bus_open_user(&bus)) < 0)
			return husk_err(e, -r, "systemd cgroup driver: connect to the user's systemd (is XDG_RUNTIME_DIR set?)");
	} else {
		if (geteuid() == 0)
			bus = connect_private("/run/systemd/private");
		if (!bus && (r = sd.bus_open_system(&bus)) < 0)
			return husk_err(e, -r, "systemd cgroup driver: connect to systemd");
	}
	*out = xmalloc(sizeof(**out));
	(*out)->bus = bus;
	return 0;
}

void husk_sd_close(struct husk_sd_bus *b)
{
	if (!b)
		return;
	sd.bus_flush_close_unref(b->bus);
	free(b);
}

static int append_props(sd_bus_message *m, const struct sd_props *ps)
{
	int r = sd.open_container(m, 'a', "(sv)");
	for (size_t i = 0; r >= 0 && i < ps->n; i++) {
		const struct sd_prop *p = &ps->p[i];
		switch (p->type) {
		case 't':
			r = sd.append(m, "(sv)", p->name, "t", p->u);
			break;
		case 'b':
			r = sd.append(m, "(sv)", p->name, "b", (int)p->u);
			break;
		case 's':
			r = sd.append(m, "(sv)", p->name, "s", p->s);
			break;
		case 'P':
			r = sd.append(m, "(sv)", p->name, "au", 1, (uint32_t)p->u);
			break;
		case 'u':
			r = sd.append(m, "(sv)", p->name, "u", (uint32_t)p->u);
			break;
		case 'x':
			r = sd.append(m, "(sv)", p->name, "x", (int64_t)p->u);
			break;
		case 'i':
			r = sd.append(m, "(sv)", p->name, "i", (int32_t)p->u);
			break;
		case 'd':
			r = sd.append(m, "(sv)", p->name, "d", p->d);
			break;
		case 'y':
			if ((r = sd.open_container(m, 'r', "sv")) < 0 || (r = sd.append(m, "s", p->name)) < 0 ||
			    (r = sd.open_container(m, 'v', "ay")) < 0 ||
			    (r = sd.append_array(m, 'y', p->bytes, p->nbytes)) < 0 ||
			    (r = sd.close_container(m)) < 0)
				break;
			r = sd.close_container(m);
			break;
		case 'D':
			if ((r = sd.open_container(m, 'r', "sv")) < 0 || (r = sd.append(m, "s", p->name)) < 0 ||
			    (r = sd.open_container(m, 'v', "a(ss)")) < 0 || (r = sd.open_container(m, 'a', "(ss)")) < 0)
				break;
			for (size_t j = 0; r >= 0 && j < p->ndev; j++)
				r = sd.append(m, "(ss)", p->dev[j].path, p->dev[j].perm);
			if (r < 0 || (r = sd.close_container(m)) < 0 || (r = sd.close_container(m)) < 0)
				break;
			r = sd.close_container(m);
			break;
		default:
			r = -EINVAL;
		}
	}
	return r < 0 ? r : sd.close_container(m);
}

/* A failed call: the D-Bus error's own message says what systemd did not like. */
static int call_error(struct husk_error *e, int r, sd_bus_error *err, const char *what, const char *unit)
{
	if (err->message)
		husk_err(e, 0, "systemd: %s %s: %s", what, unit, err->message);
	else
		husk_err(e, -r, "systemd: %s %s", what, unit);
	return -1;
}

struct job_wait {
	const char *path; /* the job we wait for; NULL until the call returned */
	char *result;
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	(void)ret_error;
	struct job_wait *w = userdata;
	uint32_t id;
	const char *path, *unit, *result;
	if (sd.read(m, "uoss", &id, &path, &unit, &result) >= 0 && w->path && !w->result &&
	    strcmp(path, w->path) == 0)
		w->result = xstrdup(result);
	return 0;
}

/* Call a Manager method that queues a job (signature "s..." first arg the
 * unit) and wait until the job is done; sends the message m. */
static int run_job(struct husk_sd_bus *b, sd_bus_message *m, const char *what, const char *unit,
		   bool *no_such_unit, bool *exists, struct husk_error *e)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	sd_bus_slot *slot = NULL;
	struct job_wait w = { 0 };
	int ret = -1;
	/* Listen before asking, so the job's end cannot be missed. */
	int r = sd.match_signal(b->bus, &slot, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed, &w);
	if (r < 0) {
		husk_err(e, -r, "systemd: subscribe to job results");
		goto out;
	}
	r = sd.call(b->bus, m, SD_JOB_TIMEOUT_US, &err, &reply);
	if (r < 0) {
		if (no_such_unit)
			*no_such_unit = sd.error_has_name(&err, "org.freedesktop.systemd1.NoSuchUnit");
		if (exists)
			*exists = sd.error_has_name(&err, "org.freedesktop.systemd1.UnitExists");
		call_error(e, r, &err, what, unit);
		goto out;
	}
	if ((r = sd.read(reply, "o", &w.path)) < 0) {
		husk_err(e, -r, "systemd: %s %s: reply", what, unit);
		goto out;
	}
	uint64_t deadline = husk_now_ns() + SD_JOB_TIMEOUT_US * 1000;
	while (!w.result) {
		r = sd.process(b->bus, NULL);
		if (r > 0)
			continue;
		uint64_t now = husk_now_ns();
		if (r == 0 && now >= deadline) {
			husk_err(e, ETIMEDOUT, "systemd: %s %s: waiting for the job", what, unit);
			goto out;
		}
		if (r == 0)
			r = sd.wait(b->bus, (deadline - now) / 1000);
		if (r < 0 && r != -EINTR) {
			husk_err(e, -r, "systemd: %s %s: waiting for the job", what, unit);
			goto out;
		}
	}
	if (strcmp(w.result, "done") != 0) {
		husk_err(e, 0, "systemd: %s %s: job %s (see journalctl -u %s)", what, unit, w.result, unit);
		goto out;
	}
	ret = 0;
out:
	free(w.result);
	sd.slot_unref(slot);
	sd.message_unref(reply);
	sd.error_free(&err);
	return ret;
}

static int simple_call(struct husk_sd_bus *b, const char *method, const char *unit, struct husk_error *e)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	int r = sd.new_method_call(b->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, method);
	if (r >= 0)
		r = sd.append(m, "s", unit);
	if (r >= 0)
		r = sd.call(b->bus, m, SD_JOB_TIMEOUT_US, &err, &reply);
	if (r < 0)
		call_error(e, r, &err, method, unit);
	sd.message_unref(m);
	sd.message_unref(reply);
	sd.error_free(&err);
	return r < 0 ? -1 : 0;
}

int husk_sd_start_unit(struct husk_sd_bus *b, const char *unit, const struct sd_props *ps,
		       struct husk_error *e)
{
	for (int attempt = 0;; attempt++) {
		sd_bus_message *m = NULL;
		int r = sd.new_method_call(b->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit");
		if (r >= 0)
			r = sd.append(m, "ss", unit, "replace");
		if (r >= 0)
			r = append_props(m, ps);
		if (r >= 0)
			r = sd.append(m, "a(sa(sv))", 0);
		if (r < 0) {
			sd.message_unref(m);
			return husk_err(e, -r, "systemd: StartTransientUnit %s: build the call", unit);
		}
		bool exists = false;
		r = run_job(b, m, "StartTransientUnit", unit, NULL, &exists, e);
		sd.message_unref(m);
		if (r == 0 || !exists || attempt > 0)
			return r;
		/* A failed unit of an earlier container with this name stays
		 * loaded until reset; a live one keeps the name taken. */
		struct husk_error ignored;
		if (simple_call(b, "ResetFailedUnit", unit, &ignored) < 0)
			return -1;
	}
}

int husk_sd_stop_unit(struct husk_sd_bus *b, const char *unit, struct husk_error *e)
{
	sd_bus_message *m = NULL;
	int r = sd.new_method_call(b->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StopUnit");
	if (r >= 0)
		r = sd.append(m, "ss", unit, "replace");
	if (r < 0) {
		sd.message_unref(m);
		return husk_err(e, -r, "systemd: StopUnit %s: build the call", unit);
	}
	bool gone = false;
	r = run_job(b, m, "StopUnit", unit, &gone, NULL, e);
	sd.message_unref(m);
	if (r < 0 && !gone)
		return -1;
	/* A unit whose processes were killed may be left "failed". */
	struct husk_error ignored;
	simple_call(b, "ResetFailedUnit", unit, &ignored);
	return 0;
}

int husk_sd_set_properties(struct husk_sd_bus *b, const char *unit, const struct sd_props *ps,
			   struct husk_error *e)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	int r = sd.new_method_call(b->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "SetUnitProperties");
	if (r >= 0)
		r = sd.append(m, "sb", unit, 1);
	if (r >= 0)
		r = append_props(m, ps);
	if (r >= 0)
		r = sd.call(b->bus, m, SD_JOB_TIMEOUT_US, &err, &reply);
	if (r < 0)
		call_error(e, r, &err, "SetUnitProperties", unit);
	sd.message_unref(m);
	sd.message_unref(reply);
	sd.error_free(&err);
	return r < 0 ? -1 : 0;
}

#else /* !HAVE_SD_BUS */

struct husk_sd_bus {
	int unused;
};

int husk_sd_connect(bool user, struct husk_sd_bus **out, struct husk_error *e)
{
	(void)user;
	(void)out;
	return husk_err(e, EOPNOTSUPP, "systemd cgroup driver: this husk was built without sd-bus (a static build)");
}

void husk_sd_close(struct husk_sd_bus *b)
{
	(void)b;
}

int husk_sd_start_unit(struct husk_sd_bus *b, const char *unit, const struct sd_props *ps,
		       struct husk_error *e)
{
	(void)b;
	(void)ps;
	return husk_err(e, EOPNOTSUPP, "systemd: %s: no sd-bus", unit);
}

int husk_sd_stop_unit(struct husk_sd_bus *b, const char *unit, struct husk_error *e)
{
	(void)b;
	return husk_err(e, EOPNOTSUPP, "systemd: %s: no sd-bus", unit);
}

int husk_sd_set_properties(struct husk_sd_bus *b, const char *unit, const struct sd_props *ps,
			   struct husk_error *e)
{
	(void)b;
	(void)ps;
	return husk_err(e, EOPNOTSUPP, "systemd: %s: no sd-bus", unit);
}

#endif
