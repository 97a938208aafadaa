/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device rules. Both versions start from the same emulation of the v1 kernel's list (as
 * runc does): a default (allow or deny all) plus the exceptions to it, merged per device and
 * sorted by (major, minor, type). v1 writes that to devices.deny/devices.allow; v2 compiles it
 * into a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "cgroup-internal.h"

void cgroup_dev_state_done(struct cgroup_dev_state *s)
{
	free(s->rules);
	*s = (struct cgroup_dev_state){0};
}

static bool same_device(const struct cgroup_device_rule *a, const struct cgroup_device_rule *b)
{
	return a->type == b->type && a->major == b->major && a->minor == b->minor;
}

/* An exception: merge into the one for the same device, or append. */
static int add_exception(struct cgroup_dev_state *s, const struct cgroup_device_rule *rule)
{
	struct cgroup_device_rule *n;

	for (size_t i = 0; i < s->n_rules; i++)
		if (same_device(&s->rules[i], rule)) {
			s->rules[i].access |= rule->access;
			return 0;
		}
	n = realloc(s->rules, (s->n_rules + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->rules = n;
	s->rules[s->n_rules] = *rule;
	s->rules[s->n_rules++].allow = !s->default_allow;
	return 0;
}

/* Take RULE's access away from every exception it covers (a wildcard covers many). */
static void remove_exception(struct cgroup_dev_state *s, const struct cgroup_device_rule *rule)
{
	size_t j = 0;

	for (size_t i = 0; i < s->n_rules; i++) {
		struct cgroup_device_rule *e = &s->rules[i];

		if (e->type == rule->type &&
		    (rule->major == CGROUP_WILDCARD || rule->major == e->major) &&
		    (rule->minor == CGROUP_WILDCARD || rule->minor == e->minor))
			e->access &= ~rule->access;
		if (e->access)
			s->rules[j++] = *e;
	}
	s->n_rules = j;
}

static int cmp_rules(const void *x, const void *y)
{
	const struct cgroup_device_rule *a = x, *b = y;

	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	return (a->type > b->type) - (a->type < b->type);
}

int cgroup_devices_emulate(const struct cgroup_device_rule *rules, size_t n,
			   struct cgroup_dev_state *ret)
{
	/* Deny all to start with, as runc: rules that never allow everything are an allow-list,
	 * and a device no rule allows stays denied (the kernel's new v1 cgroup would allow it). */
	struct cgroup_dev_state s = {.default_allow = false};
	int r;

	for (size_t i = 0; i < n; i++) {
		const struct cgroup_device_rule *rule = &rules[i];

		/* Type 'a' is every device whatever the numbers: a new default. */
		if (rule->type == 'a') {
			free(s.rules);
			s = (struct cgroup_dev_state){.default_allow = rule->allow};
			continue;
		}
		if (rule->allow == s.default_allow)
			remove_exception(&s, rule);
		else if ((r = add_exception(&s, rule)) < 0) {
			cgroup_dev_state_done(&s);
			return r;
		}
	}
	if (s.n_rules > 1)
		qsort(s.rules, s.n_rules, sizeof(*s.rules), cmp_rules);
	*ret = s;
	return 0;
}

void cgroup_device_rule_format(const struct cgroup_device_rule *rule, char *buf, size_t size)
{
	char major[24] = "*", minor[24] = "*", access[4];
	size_t n = 0;

	if (rule->type != 'a' && rule->major != CGROUP_WILDCARD)
		snprintf(major, sizeof(major), "%lld", (long long)rule->major);
	if (rule->type != 'a' && rule->minor != CGROUP_WILDCARD)
		snprintf(minor, sizeof(minor), "%lld", (long long)rule->minor);
	if (rule->access & CGROUP_DEV_READ)
		access[n++] = 'r';
	if (rule->access & CGROUP_DEV_WRITE)
		access[n++] = 'w';
	if (rule->access & CGROUP_DEV_MKNOD)
		access[n++] = 'm';
	access[n] = '\0';
	snprintf(buf, size, "%c %s:%s %s", rule->type, major, minor, access);
}

static int write_rule(const char *dir, const struct cgroup_device_rule *rule)
{
	const char *file = rule->allow ? "devices.allow" : "devices.deny";
	char line[80];
	int r;

	cgroup_device_rule_format(rule, line, sizeof(line));
	if ((r = cg_write(dir, file, line)) < 0)
		return log_error_errno(r, "write '%s' to %s of cgroup '%s': %m", line, file, dir);
	return 0;
}

/* devices.list: "a *:* rwm" (everything allowed) or the allow-list, one rule a line. */
static int read_v1_list(const char *dir, struct cgroup_dev_state *ret)
{
	_cleanup_free_ char *s = NULL;
	struct cgroup_dev_state st = {0};
	char *save = NULL;
	int r;

	if ((r = cg_read(dir, "devices.list", &s)) < 0)
		return r;
	for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct cgroup_device_rule rule = {.allow = true};
		char type, major[24], minor[24], access[8];

		if (sscanf(l, "%c %23[^:]:%23s %7s", &type, major, minor, access) != 4)
			continue;
		if (type == 'a') {
			cgroup_dev_state_done(&st);
			st.default_allow = true;
			break;
		}
		rule.type = type;
		rule.major = strcmp(major, "*") == 0 ? CGROUP_WILDCARD : strtoll(major, NULL, 10);
		rule.minor = strcmp(minor, "*") == 0 ? CGROUP_WILDCARD : strtoll(minor, NULL, 10);
		for (const char *p = access; *p; p++)
			rule.access |= *p == 'r'   ? CGROUP_DEV_READ
				       : *p == 'w' ? CGROUP_DEV_WRITE
				       : *p == 'm' ? CGROUP_DEV_MKNOD
						   : 0;
		if ((r = add_exception(&st, &rule)) < 0) {
			cgroup_dev_state_done(&st);
			return r;
		}
	}
	*ret = st;
	return 0;
}

static unsigned access_of(const struct cgroup_dev_state *s, const struct cgroup_device_rule *rule)
{
	for (size_t i = 0; i < s->n_rules; i++)
		if (same_device(&s->rules[i], rule))
			return s->rules[i].access;
	return 0;
}

/*
 * From one allow-list to another without a moment of "deny all": take away what goes, then
 * add what comes (runc's transition). Only for allow-lists: the kernel does not list the
 * exceptions of an allow-all cgroup.
 */
static int transition_v1(const char *dir, const struct cgroup_dev_state *cur,
			 const struct cgroup_dev_state *target)
{
	int r;

	for (size_t i = 0; i < cur->n_rules; i++) {
		struct cgroup_device_rule d = cur->rules[i];

		d.allow = false;
		d.access &= ~access_of(target, &d);
		if (d.access && (r = write_rule(dir, &d)) < 0)
			return r;
	}
	for (size_t i = 0; i < target->n_rules; i++) {
		struct cgroup_device_rule a = target->rules[i];

		a.access &= ~access_of(cur, &a);
		if (a.access && (r = write_rule(dir, &a)) < 0)
			return r;
	}
	return 0;
}

/*
 * v1: the default first ("a *:* rwm" to devices.deny for an allow-list), then every exception.
 * An update of an allow-list goes by difference instead, so devices in use stay usable.
 */
int cgroup_devices_apply_v1(const char *dir, const struct cgroup_device_rule *rules, size_t n,
			    bool update)
{
	struct cgroup_dev_state s, cur = {0};
	struct cgroup_device_rule all = {.type = 'a',
					 .major = CGROUP_WILDCARD,
					 .minor = CGROUP_WILDCARD,
					 .access = CGROUP_DEV_ALL};
	int r;

	if ((r = cgroup_devices_emulate(rules, n, &s)) < 0)
		return r;
	if (update && !s.default_allow && read_v1_list(dir, &cur) >= 0 && !cur.default_allow) {
		r = transition_v1(dir, &cur, &s);
		cgroup_dev_state_done(&cur);
		cgroup_dev_state_done(&s);
		return r;
	}
	cgroup_dev_state_done(&cur);
	all.allow = s.default_allow;
	r = write_rule(dir, &all);
	for (size_t i = 0; r >= 0 && i < s.n_rules; i++)
		r = write_rule(dir, &s.rules[i]);
	cgroup_dev_state_done(&s);
	return r;
}

/* The eBPF program. Context: struct bpf_cgroup_dev_ctx { access_type, major, minor }. */
#define INSN(c, d, s, o, i) \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(d, s, off) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, off, 0)
#define ALU32_IMM(op, d, imm) INSN(BPF_ALU | (op) | BPF_K, d, 0, 0, imm)
#define MOV32_REG(d, s) INSN(BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0)
#define JNE_IMM(d, imm, off) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, off, imm)
#define JNE_REG(d, s, off) INSN(BPF_JMP | BPF_JNE | BPF_X, d, s, off, 0)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

int cgroup_devices_bpf_build(const struct cgroup_device_rule *rules, size_t n,
			     struct bpf_insn **ret, size_t *ret_n)
{
	struct cgroup_dev_state s;
	struct bpf_insn *p;
	size_t len = 0;
	int r;

	if ((r = cgroup_devices_emulate(rules, n, &s)) < 0)
		return r;
	/* prologue 6 + at most 8 per rule + epilogue 2 */
	p = calloc(8 + 8 * s.n_rules, sizeof(*p));
	if (!p) {
		cgroup_dev_state_done(&s);
		return -ENOMEM;
	}
	p[len++] = LDX_W(BPF_REG_2, BPF_REG_1, 0); /* r2 = type */
	p[len++] = ALU32_IMM(BPF_AND, BPF_REG_2, 0xFFFF);
	p[len++] = LDX_W(BPF_REG_3, BPF_REG_1, 0); /* r3 = access */
	p[len++] = ALU32_IMM(BPF_RSH, BPF_REG_3, 16);
	p[len++] = LDX_W(BPF_REG_4, BPF_REG_1, 4); /* r4 = major */
	p[len++] = LDX_W(BPF_REG_5, BPF_REG_1, 8); /* r5 = minor */
	for (size_t i = 0; i < s.n_rules; i++) {
		const struct cgroup_device_rule *rule = &s.rules[i];
		/* the access bits are the same as BPF_DEVCG_ACC_* */
		_Static_assert((int)CGROUP_DEV_MKNOD == (int)BPF_DEVCG_ACC_MKNOD &&
				   (int)CGROUP_DEV_READ == (int)BPF_DEVCG_ACC_READ &&
				   (int)CGROUP_DEV_WRITE == (int)BPF_DEVCG_ACC_WRITE,
			       "access bits");
		bool has_access = rule->access != CGROUP_DEV_ALL;
		bool has_major = rule->major != CGROUP_WILDCARD;
		bool has_minor = rule->minor != CGROUP_WILDCARD;
		size_t end = len + 1 + (has_access ? 3 : 0) + has_major + has_minor + 2;
		/* a failed match jumps to END, the next rule (offsets count from the next insn) */
#define TO_END() ((int16_t)(end - len - 1))

		p[len] =
		    JNE_IMM(BPF_REG_2, rule->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK,
			    TO_END());
		len++;
		if (has_access) {
			/* every requested bit must be in the rule's: (access & rule) == access */
			p[len++] = MOV32_REG(BPF_REG_1, BPF_REG_3);
			p[len++] = ALU32_IMM(BPF_AND, BPF_REG_1, (int32_t)rule->access);
			p[len] = JNE_REG(BPF_REG_1, BPF_REG_3, TO_END());
			len++;
		}
		if (has_major) {
			p[len] = JNE_IMM(BPF_REG_4, (int32_t)rule->major, TO_END());
			len++;
		}
		if (has_minor) {
			p[len] = JNE_IMM(BPF_REG_5, (int32_t)rule->minor, TO_END());
			len++;
		}
#undef TO_END
		p[len++] = ALU32_IMM(BPF_MOV, BPF_REG_0, rule->allow ? 1 : 0);
		p[len++] = EXIT();
	}
	p[len++] = ALU32_IMM(BPF_MOV, BPF_REG_0, s.default_allow ? 1 : 0);
	p[len++] = EXIT();
	cgroup_dev_state_done(&s);
	*ret = p;
	*ret_n = len;
	return 0;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	long r = syscall(__NR_bpf, cmd, attr, sizeof(*attr));

	return r < 0 ? -errno : (int)r;
}

static int prog_load(const struct bpf_insn *insns, size_t n)
{
	char log[4096] = "";
	union bpf_attr attr = {
	    .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
	    .insns = (uintptr_t)insns,
	    .insn_cnt = (uint32_t)n,
	    .license = (uintptr_t) "Apache",
	};
	int r = sys_bpf(BPF_PROG_LOAD, &attr);

	if (r == -EACCES || r == -EINVAL) {
		/* Load again with the verifier's log, to say why. */
		attr.log_buf = (uintptr_t)log;
		attr.log_size = sizeof(log);
		attr.log_level = 1;
		r = sys_bpf(BPF_PROG_LOAD, &attr);
		if (r < 0)
			log_debug("bpf verifier: %s", log);
	}
	return r;
}

/*
 * Attach the new program next to the old ones (BPF_F_ALLOW_MULTI), then detach those, so that
 * the cgroup is never without a device filter during an update.
 */
int cgroup_devices_apply_v2(const char *dir, const struct cgroup_device_rule *rules, size_t n)
{
	_cleanup_free_ struct bpf_insn *insns = NULL;
	_cleanup_close_ int prog = -EBADF, dirfd = -EBADF;
	uint32_t old[64], n_old = 0;
	size_t len;
	int r;

	if ((r = cgroup_devices_bpf_build(rules, n, &insns, &len)) < 0)
		return r;
	if ((prog = prog_load(insns, len)) < 0)
		return log_error_errno(prog, "load the device filter of cgroup '%s': %m", dir);
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return log_error_errno(-errno, "open cgroup '%s': %m", dir);
	union bpf_attr q = {.query = {.target_fd = (uint32_t)dirfd,
				      .attach_type = BPF_CGROUP_DEVICE,
				      .prog_ids = (uintptr_t)old,
				      .prog_cnt = ELEMENTSOF(old)}};
	if (sys_bpf(BPF_PROG_QUERY, &q) >= 0)
		n_old = q.query.prog_cnt;
	union bpf_attr a = {.target_fd = (uint32_t)dirfd,
			    .attach_bpf_fd = (uint32_t)prog,
			    .attach_type = BPF_CGROUP_DEVICE,
			    .attach_flags = BPF_F_ALLOW_MULTI};
	if ((r = sys_bpf(BPF_PROG_ATTACH, &a)) < 0)
		return log_error_errno(r, "attach the device filter to cgroup '%s': %m", dir);
	for (uint32_t i = 0; i < n_old && i < ELEMENTSOF(old); i++) {
		union bpf_attr g = {.prog_id = old[i]};
		_cleanup_close_ int fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
		union bpf_attr d = {.target_fd = (uint32_t)dirfd,
				    .attach_bpf_fd = (uint32_t)fd,
				    .attach_type = BPF_CGROUP_DEVICE};

		if (fd < 0 || (r = sys_bpf(BPF_PROG_DETACH, &d)) < 0)
			log_warning_errno(fd < 0 ? fd : r,
					  "detach the old device filter of '%s': %m, ignoring",
					  dir);
	}
	return 0;
}
