/* linux.seccomp -> struct husk_seccomp_profile, and back (spec_seccomp.h). */
#include "spec_seccomp.h"

#include <string.h>

#include "json_get.h"
#include "util.h"

const char *const husk_sc_action_name[HUSK_SC_ACTION__COUNT] = {
	"SCMP_ACT_ALLOW",	 "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",   "SCMP_ACT_KILL_PROCESS",
	"SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",   "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
	"SCMP_ACT_TRAP",
};

const char *const husk_sc_op_name[HUSK_SC_OP__COUNT] = {
	"SCMP_CMP_EQ", "SCMP_CMP_GE",	     "SCMP_CMP_GT", "SCMP_CMP_LE",
	"SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
};

const char *const husk_sc_flag_name[HUSK_SC_FLAG__COUNT] = {
	"SECCOMP_FILTER_FLAG_TSYNC",
	"SECCOMP_FILTER_FLAG_LOG",
	"SECCOMP_FILTER_FLAG_SPEC_ALLOW",
	"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

bool husk_sc_action_takes_errno(enum husk_sc_action a)
{
	return a == HUSK_SC_ERRNO || a == HUSK_SC_TRACE;
}

/* "parent.key[i]" */
static const char *member_index(char *buf, const char *parent, const char *key, size_t i)
{
	char m[SJ_PATH_MAX];
	return sj_index(buf, sj_path(m, parent, key), i);
}

static int opt_array(json_t *obj, const char *parent, const char *key, json_t **out,
		     struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	*out = sj_get(obj, key);
	return *out ? sj_array(*out, sj_path(p, parent, key), e) : 0;
}

/* A name of table (n entries) at path; -1 with "<path>: unknown <what>". */
static int lookup(const char *const *table, size_t n, const char *name, const char *path,
		  const char *what, struct husk_error *e)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, table[i]) == 0)
			return (int)i;
	return husk_err(e, 0, "%s: unknown %s \"%s\"", path, what, name);
}

/* action (required) and its errno return code (optional). */
static int parse_action(json_t *obj, const char *parent, const char *akey, const char *ekey,
			enum husk_sc_action *action, bool *has_ret, uint32_t *ret,
			struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *a = sj_get(obj, akey), *er = sj_get(obj, ekey);
	if (!a)
		return husk_err(e, 0, "%s: required", sj_path(p, parent, akey));
	if (!json_is_string(a))
		return sj_expected(e, sj_path(p, parent, akey), "a string");
	const char *name = json_string_value(a);
	int k = lookup(husk_sc_action_name, HUSK_SC_ACTION__COUNT, name, sj_path(p, parent, akey),
		       "action", e);
	if (k < 0)
		return -1;
	*action = (enum husk_sc_action)k;
	*has_ret = er != NULL;
	if (!er)
		return 0;
	if (!husk_sc_action_takes_errno(*action))
		return husk_err(e, 0, "%s: %s takes no errno return code", sj_path(p, parent, ekey),
				name);
	uint64_t v;
	if (sj_uint(er, sj_path(p, parent, ekey), 0xffff, &v, e) < 0)
		return -1;
	*ret = (uint32_t)v;
	return 0;
}

static int parse_flags(json_t *obj, const char *path, struct husk_seccomp_profile *sp,
		       struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *arr, *it;
	size_t i;
	if (opt_array(obj, path, "flags", &arr, e) < 0)
		return -1;
	sp->flags = xcalloc(json_array_size(arr) + 1, sizeof(*sp->flags));
	json_array_foreach(arr, i, it) {
		member_index(p, path, "flags", i);
		if (!json_is_string(it))
			return sj_expected(e, p, "a string");
		int k = lookup(husk_sc_flag_name, HUSK_SC_FLAG__COUNT, json_string_value(it), p, "flag", e);
		if (k < 0)
			return -1;
		sp->flags[sp->n_flags++] = (enum husk_sc_flag)k;
	}
	return 0;
}

/* listenerPath and listenerMetadata; syscalls: the raw rules, for whether
 * one notifies (checked before the rules themselves, as before). */
static int parse_listener(json_t *obj, const char *path, json_t *syscalls,
			  struct husk_seccomp_profile *sp, struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *meta = sj_get(obj, "listenerMetadata"), *lp = sj_get(obj, "listenerPath"), *it;
	size_t i;
	if (meta && !json_is_string(meta))
		return sj_expected(e, sj_path(p, path, "listenerMetadata"), "a string");
	if (lp && !json_is_string(lp))
		return sj_expected(e, sj_path(p, path, "listenerPath"), "a string");
	if (lp && *json_string_value(lp))
		sp->listener_path = xstrdup(json_string_value(lp));
	if (meta && !sp->listener_path)
		return husk_err(e, 0, "%s: set without listenerPath", sj_path(p, path, "listenerMetadata"));
	if (meta)
		sp->listener_metadata = xstrdup(json_string_value(meta));
	json_array_foreach(syscalls, i, it) {
		const char *act = json_string_value(sj_get(it, "action"));
		sp->notifies |= act && strcmp(act, husk_sc_action_name[HUSK_SC_NOTIFY]) == 0;
	}
	if (sp->notifies && !sp->listener_path)
		return husk_err(e, 0, "%s: SCMP_ACT_NOTIFY needs a listenerPath for the agent",
				sj_path(p, path, "listenerPath"));
	return 0;
}

static int parse_archs(json_t *obj, const char *path, struct husk_seccomp_profile *sp,
		       struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *arr, *it;
	size_t i;
	if (opt_array(obj, path, "architectures", &arr, e) < 0)
		return -1;
	sp->architectures = xcalloc(json_array_size(arr) + 1, sizeof(char *));
	json_array_foreach(arr, i, it) {
		if (!json_is_string(it))
			return sj_expected(e, member_index(p, path, "architectures", i), "a string");
		sp->architectures[sp->n_architectures++] = xstrdup(json_string_value(it));
	}
	return 0;
}

static int parse_arg(json_t *a, const char *path, struct husk_sc_arg *out, struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	uint64_t index;
	if (!json_is_object(a))
		return sj_expected(e, path, "an object");
	json_t *vi = sj_get(a, "index"), *vv = sj_get(a, "value"), *v2 = sj_get(a, "valueTwo"),
	       *vo = sj_get(a, "op");
	if (!vi)
		return husk_err(e, 0, "%s: required", sj_path(p, path, "index"));
	if (sj_uint(vi, sj_path(p, path, "index"), HUSK_SC_MAX_ARGS - 1, &index, e) < 0)
		return -1;
	out->index = (unsigned int)index;
	if (!vv)
		return husk_err(e, 0, "%s: required", sj_path(p, path, "value"));
	if (sj_uint(vv, sj_path(p, path, "value"), UINT64_MAX, &out->value, e) < 0)
		return -1;
	if (v2 && sj_uint(v2, sj_path(p, path, "valueTwo"), UINT64_MAX, &out->value_two, e) < 0)
		return -1;
	if (!vo)
		return husk_err(e, 0, "%s: required", sj_path(p, path, "op"));
	if (!json_is_string(vo))
		return sj_expected(e, sj_path(p, path, "op"), "a string");
	int k = lookup(husk_sc_op_name, HUSK_SC_OP__COUNT, json_string_value(vo),
		       sj_path(p, path, "op"), "operator", e);
	if (k < 0)
		return -1;
	out->op = (enum husk_sc_op)k;
	return 0;
}

static int parse_rule(json_t *sc, const char *path, struct husk_sc_rule *r, struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *names, *args, *it;
	size_t i;
	if (!json_is_object(sc))
		return sj_expected(e, path, "an object");
	if (opt_array(sc, path, "names", &names, e) < 0 || opt_array(sc, path, "args", &args, e) < 0)
		return -1;
	if (!names || json_array_size(names) == 0)
		return husk_err(e, 0, "%s: at least one name required", sj_path(p, path, "names"));
	json_array_foreach(names, i, it)
		if (!json_is_string(it))
			return sj_expected(e, member_index(p, path, "names", i), "a string");
	r->names = xcalloc(json_array_size(names) + 1, sizeof(char *));
	json_array_foreach(names, i, it)
		r->names[r->n_names++] = xstrdup(json_string_value(it));
	if (parse_action(sc, path, "action", "errnoRet", &r->action, &r->has_errno_ret, &r->errno_ret,
			 e) < 0)
		return -1;
	if (json_array_size(args) > HUSK_SC_MAX_ARGS)
		return husk_err(e, 0, "%s: at most %d conditions", sj_path(p, path, "args"),
				HUSK_SC_MAX_ARGS);
	json_array_foreach(args, i, it) {
		if (parse_arg(it, member_index(p, path, "args", i), &r->args[i], e) < 0)
			return -1;
		r->n_args++;
	}
	return 0;
}

/* The checks in the order the compiler made them before it took this
 * struct, so that a profile with several errors reports the same one. */
static int parse_profile(json_t *v, const char *path, struct husk_seccomp_profile *sp,
			 struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *arr, *it;
	size_t i;
	if (!json_is_object(v))
		return sj_expected(e, path, "an object");
	if (parse_action(v, path, "defaultAction", "defaultErrnoRet", &sp->default_action,
			 &sp->has_default_errno_ret, &sp->default_errno_ret, e) < 0 ||
	    parse_flags(v, path, sp, e) < 0 || opt_array(v, path, "syscalls", &arr, e) < 0)
		return -1;
	if (sp->default_action == HUSK_SC_NOTIFY)
		/* It would stop the runtime's own last system calls too. */
		return husk_err(e, 0, "%s: SCMP_ACT_NOTIFY is for syscalls[], not the default",
				sj_path(p, path, "defaultAction"));
	if (parse_listener(v, path, arr, sp, e) < 0 || parse_archs(v, path, sp, e) < 0)
		return -1;
	sp->syscalls = xcalloc(json_array_size(arr) + 1, sizeof(*sp->syscalls));
	json_array_foreach(arr, i, it) {
		struct husk_sc_rule *r = &sp->syscalls[sp->n_syscalls++];
		if (parse_rule(it, member_index(p, path, "syscalls", i), r, e) < 0)
			return -1;
	}
	return 0;
}

int husk_seccomp_parse(json_t *v, const char *path, struct husk_seccomp_profile **out,
		       struct husk_error *e)
{
	struct husk_seccomp_profile *sp = xcalloc(1, sizeof(*sp));
	*out = NULL;
	if (parse_profile(v, path, sp, e) < 0) {
		husk_seccomp_profile_free(sp);
		return -1;
	}
	*out = sp;
	return 0;
}

void husk_seccomp_profile_free(struct husk_seccomp_profile *sp)
{
	if (!sp)
		return;
	husk_strv_free(sp->architectures);
	free(sp->flags);
	free(sp->listener_path);
	free(sp->listener_metadata);
	for (size_t i = 0; i < sp->n_syscalls; i++)
		husk_strv_free(sp->syscalls[i].names);
	free(sp->syscalls);
	free(sp);
}

/* Above INT64_MAX as a real, as a document decoded with reals has it
 * (UINT64_MAX rounds to 2^64, which reads back as UINT64_MAX). */
static json_t *u64_json(uint64_t v)
{
	return v <= INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *rule_json(const struct husk_sc_rule *r)
{
	json_t *o = json_pack("{s:o, s:s}", "names", strv_json(r->names), "action",
			      husk_sc_action_name[r->action]);
	if (r->has_errno_ret)
		json_object_set_new(o, "errnoRet", json_integer(r->errno_ret));
	if (!r->n_args)
		return o;
	json_t *args = json_array();
	for (size_t k = 0; k < r->n_args; k++) {
		const struct husk_sc_arg *a = &r->args[k];
		json_t *ao = json_pack("{s:i, s:o, s:s}", "index", (int)a->index, "value",
				       u64_json(a->value), "op", husk_sc_op_name[a->op]);
		if (a->value_two)
			json_object_set_new(ao, "valueTwo", u64_json(a->value_two));
		json_array_append_new(args, ao);
	}
	json_object_set_new(o, "args", args);
	return o;
}

json_t *husk_seccomp_profile_json(const struct husk_seccomp_profile *sp)
{
	if (!sp)
		return NULL;
	json_t *o = json_pack("{s:s}", "defaultAction", husk_sc_action_name[sp->default_action]);
	if (sp->has_default_errno_ret)
		json_object_set_new(o, "defaultErrnoRet", json_integer(sp->default_errno_ret));
	if (sp->n_architectures)
		json_object_set_new(o, "architectures", strv_json(sp->architectures));
	if (sp->n_flags) {
		json_t *f = json_array();
		for (size_t i = 0; i < sp->n_flags; i++)
			json_array_append_new(f, json_string(husk_sc_flag_name[sp->flags[i]]));
		json_object_set_new(o, "flags", f);
	}
	if (sp->listener_path)
		json_object_set_new(o, "listenerPath", json_string(sp->listener_path));
	if (sp->listener_metadata)
		json_object_set_new(o, "listenerMetadata", json_string(sp->listener_metadata));
	if (sp->n_syscalls) {
		json_t *rules = json_array();
		for (size_t i = 0; i < sp->n_syscalls; i++)
			json_array_append_new(rules, rule_json(&sp->syscalls[i]));
		json_object_set_new(o, "syscalls", rules);
	}
	return o;
}
