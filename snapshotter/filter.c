/* SPDX-License-Identifier: Apache-2.0 */
/* containerd's filters over snapshots (filter.h): a small parser and the match. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "filter.h"

enum op {
	OP_PRESENT,
	OP_EQUAL,
	OP_NOT_EQUAL,
	OP_MATCH,
};

struct cond {
	char *field; /* "name", "parent", "kind" or "labels" */
	char *label; /* the label's key for "labels" */
	enum op op;
	char *value;
	regex_t re;
	bool has_re;
};

/* the conditions of one string, all of which must hold */
struct clause {
	struct cond *conds;
	size_t n;
};

struct filter {
	struct clause *clauses;
	size_t n;
};

struct filter *filter_free(struct filter *f)
{
	if (!f)
		return NULL;
	for (size_t i = 0; i < f->n; i++) {
		for (size_t j = 0; j < f->clauses[i].n; j++) {
			struct cond *c = &f->clauses[i].conds[j];

			free(c->field);
			free(c->label);
			free(c->value);
			if (c->has_re)
				regfree(&c->re);
		}
		free(f->clauses[i].conds);
	}
	free(f->clauses);
	free(f);
	return NULL;
}

static void filter_freep(struct filter **f)
{
	*f = filter_free(*f);
}

/* A "quoted" string (\" and \\ escaped) or a run of characters none of which is in STOP. */
static char *token(const char **p, const char *stop)
{
	const char *s = *p;
	char *out, *o;

	if (*s != '"') {
		size_t n = strcspn(s, stop);

		*p = s + n;
		return strndup(s, n);
	}
	out = o = malloc(strlen(s));
	if (!out)
		return NULL;
	for (s++; *s && *s != '"'; s++) {
		if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
			s++;
		*o++ = *s;
	}
	if (*s != '"') {
		free(out);
		return NULL;
	}
	*o = '\0';
	*p = s + 1;
	return out;
}

static int bad(char **ret_err, const char *what, const char *s)
{
	if (asprintf(ret_err, "filter '%s': %s", s, what) < 0)
		*ret_err = NULL;
	return -EINVAL;
}

/* FIELD[.LABEL] [OP VALUE], up to a ',' or the end */
static int parse_cond(const char **p, const char *whole, struct cond *c, char **ret_err)
{
	c->field = token(p, ".,=!~");
	if (!c->field || !*c->field)
		return bad(ret_err, "a condition names no field", whole);
	if (strcmp(c->field, "name") != 0 && strcmp(c->field, "parent") != 0 &&
	    strcmp(c->field, "kind") != 0 && strcmp(c->field, "labels") != 0)
		return bad(ret_err, "fields are name, parent, kind and labels.KEY", whole);
	if (strcmp(c->field, "labels") == 0) {
		if (**p != '.')
			return bad(ret_err, "'labels' needs a key (labels.KEY)", whole);
		(*p)++;
		c->label = token(p, ",=!~");
		if (!c->label || !*c->label)
			return bad(ret_err, "a label key is empty or badly quoted", whole);
	} else if (**p == '.')
		return bad(ret_err, "only labels have subfields", whole);
	if (**p == ',' || !**p) {
		c->op = OP_PRESENT;
		return 0;
	}
	if (strncmp(*p, "==", 2) == 0)
		c->op = OP_EQUAL;
	else if (strncmp(*p, "!=", 2) == 0)
		c->op = OP_NOT_EQUAL;
	else if (strncmp(*p, "~=", 2) == 0)
		c->op = OP_MATCH;
	else
		return bad(ret_err, "expected ==, != or ~=", whole);
	*p += 2;
	c->value = token(p, ",");
	if (!c->value)
		return bad(ret_err, "a value is badly quoted", whole);
	if (**p && **p != ',')
		return bad(ret_err, "junk after a quoted value", whole);
	if (c->op == OP_MATCH) {
		if (regcomp(&c->re, c->value, REG_EXTENDED | REG_NOSUB) != 0)
			return bad(ret_err, "bad regular expression", whole);
		c->has_re = true;
	}
	return 0;
}

static int parse_clause(const char *s, struct clause *cl, char **ret_err)
{
	const char *p = s;

	for (;;) {
		struct cond *v = reallocarray(cl->conds, cl->n + 1, sizeof(*v));
		int r;

		if (!v)
			return -ENOMEM;
		cl->conds = v;
		memset(&v[cl->n], 0, sizeof(v[cl->n]));
		r = parse_cond(&p, s, &v[cl->n++], ret_err);
		if (r < 0)
			return r;
		if (!*p)
			return 0;
		p++; /* ',' */
	}
}

int filter_parse(char *const *filters, size_t n, struct filter **ret, char **ret_err)
{
	_cleanup_(filter_freep) struct filter *f = calloc(1, sizeof(*f));

	if (!f || (n && !(f->clauses = calloc(n, sizeof(*f->clauses)))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r;

		/* an empty string is no condition at all, as containerd reads it */
		if (!*filters[i])
			continue;
		r = parse_clause(filters[i], &f->clauses[f->n++], ret_err);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(f);
	return 0;
}

/* the field's value, NULL when the snapshot has none */
static const char *field_value(const struct cond *c, const struct snap *s)
{
	struct json_object *v;

	if (strcmp(c->field, "name") == 0)
		return s->key;
	if (strcmp(c->field, "parent") == 0)
		return s->parent ? s->parent : "";
	if (strcmp(c->field, "kind") == 0)
		return snap_kind_name(s->kind);
	if (strcmp(c->field, "labels") == 0 && json_object_object_get_ex(s->labels, c->label, &v))
		return json_object_get_string(v);
	return NULL;
}

static bool cond_match(const struct cond *c, const struct snap *s)
{
	const char *v = field_value(c, s);

	switch (c->op) {
	case OP_PRESENT:
		return v && *v;
	case OP_EQUAL:
		return strcmp(v ? v : "", c->value) == 0;
	case OP_NOT_EQUAL:
		return strcmp(v ? v : "", c->value) != 0;
	case OP_MATCH:
		return v && regexec(&c->re, v, 0, NULL, 0) == 0;
	}
	return false;
}

bool filter_match(const struct filter *f, const struct snap *snap)
{
	if (f->n == 0)
		return true;
	for (size_t i = 0; i < f->n; i++) {
		bool all = true;

		for (size_t j = 0; all && j < f->clauses[i].n; j++)
			all = cond_match(&f->clauses[i].conds[j], snap);
		if (all)
			return true;
	}
	return false;
}
