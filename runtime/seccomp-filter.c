/* SPDX-License-Identifier: Apache-2.0 */
/* linux.seccomp: compile a profile with libseccomp in the parent, install its BPF in the child. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "seccomp-filter.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* The kernel's cap on a syscall's arguments and libseccomp's on a rule's comparisons. */
#define SYSCALL_ARGS_MAX 6

struct seccomp_prog {
	struct sock_filter *filter;
	unsigned short len;
	unsigned int flags; /* SECCOMP_FILTER_FLAG_* */
	bool needs_listener;
	char *listener_path;
	char *listener_metadata;
};

/* Every table is sorted by name, which is the order `features` lists them in. */
static const struct action_name {
	const char *name;
	uint32_t action;
	bool takes_errno; /* the low 16 bits carry errnoRet (default EPERM) */
} action_table[] = {
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
};

static const struct op_name {
	const char *name;
	enum scmp_compare op;
} op_table[] = {
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    {"SCMP_CMP_NE", SCMP_CMP_NE},
};

/* The runtime-spec's names are libseccomp's macro names. */
#define ARCH(a)       \
	{             \
#a, a \
	}
static const struct arch_name {
	const char *name;
	uint32_t token;
} arch_table[] = {
    ARCH(SCMP_ARCH_AARCH64),
#ifdef SCMP_ARCH_LOONGARCH64
    ARCH(SCMP_ARCH_LOONGARCH64),
#endif
    ARCH(SCMP_ARCH_ARM),	 ARCH(SCMP_ARCH_MIPS),	 ARCH(SCMP_ARCH_MIPS64),
    ARCH(SCMP_ARCH_MIPS64N32),	 ARCH(SCMP_ARCH_MIPSEL), ARCH(SCMP_ARCH_MIPSEL64),
    ARCH(SCMP_ARCH_MIPSEL64N32), ARCH(SCMP_ARCH_PARISC), ARCH(SCMP_ARCH_PARISC64),
    ARCH(SCMP_ARCH_PPC),	 ARCH(SCMP_ARCH_PPC64),	 ARCH(SCMP_ARCH_PPC64LE),
    ARCH(SCMP_ARCH_RISCV64),	 ARCH(SCMP_ARCH_S390),	 ARCH(SCMP_ARCH_S390X),
    ARCH(SCMP_ARCH_X32),	 ARCH(SCMP_ARCH_X86),	 ARCH(SCMP_ARCH_X86_64),
};
#undef ARCH

static const struct flag_name {
	const char *name;
	unsigned int flag;
} flag_table[] = {
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

struct seccomp_prog *seccomp_prog_free(struct seccomp_prog *p)
{
	if (!p)
		return NULL;
	free(p->filter);
	free(p->listener_path);
	free(p->listener_metadata);
	free(p);
	return NULL;
}

void seccomp_prog_freep(struct seccomp_prog **p)
{
	int saved = errno;

	*p = seccomp_prog_free(*p);
	errno = saved;
}

static void seccomp_ctxp(scmp_filter_ctx *ctx)
{
	if (*ctx) {
		seccomp_release(*ctx);
		*ctx = NULL;
	}
}

/* ACTION of NAME with errnoRet RET (UINT32_MAX: absent, EPERM as runc). */
static int parse_action(const char *name, uint32_t errno_ret, uint32_t *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(action_table); i++) {
		const struct action_name *a = &action_table[i];

		if (strcmp(a->name, name) != 0)
			continue;
		if (!a->takes_errno) {
			*ret = a->action;
			return 0;
		}
		if (errno_ret == UINT32_MAX)
			errno_ret = EPERM;
		/* The kernel hands back at most MAX_ERRNO. */
		if (errno_ret > 4095)
			return log_error_errno(
			    -EINVAL, "seccomp: errnoRet %u out of range (0-4095)", errno_ret);
		*ret = a->action | errno_ret;
		return 0;
	}
	return log_error_errno(-EINVAL, "seccomp: unknown action '%s'", name);
}

static int get_errno_ret(struct json_object *o, const char *key, uint32_t *ret)
{
	int r = json_get_uint32(o, key, ret);

	if (r == -ENOENT) {
		*ret = UINT32_MAX;
		return 0;
	}
	if (r < 0)
		return log_error_errno(r, "seccomp: '%s' is not an unsigned integer", key);
	return 0;
}

static int parse_arg(struct json_object *a, struct scmp_arg_cmp *ret)
{
	uint32_t index;
	uint64_t value, value_two = 0;
	const char *op;
	int r;

	if (!json_object_is_type(a, json_type_object))
		return log_error_errno(-EINVAL, "seccomp: syscall argument is not an object");
	r = json_get_uint32(a, "index", &index);
	if (r < 0 || index >= SYSCALL_ARGS_MAX)
		return log_error_errno(-EINVAL,
				       "seccomp: syscall argument 'index' missing or not 0-5");
	r = json_get_uint64(a, "value", &value);
	if (r < 0)
		return log_error_errno(-EINVAL, "seccomp: syscall argument 'value' missing or not "
						"an unsigned integer");
	r = json_get_uint64(a, "valueTwo", &value_two);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "seccomp: syscall argument 'valueTwo' is not an unsigned "
					  "integer");
	r = json_get_string(a, "op", &op);
	if (r < 0)
		return log_error_errno(-EINVAL, "seccomp: syscall argument 'op' missing or not a "
						"string");
	for (size_t i = 0; i < ELEMENTSOF(op_table); i++) {
		if (strcmp(op_table[i].name, op) == 0) {
			/* MASKED_EQ: value is the mask, valueTwo the expected result. */
			*ret = (struct scmp_arg_cmp){.arg = index,
						     .op = op_table[i].op,
						     .datum_a = value,
						     .datum_b = value_two};
			return 0;
		}
	}
	return log_error_errno(-EINVAL, "seccomp: unknown operator '%s'", op);
}

/* libseccomp takes one comparison per argument in a rule: repeats become rules of their own. */
static bool args_repeat_index(const struct scmp_arg_cmp *args, size_t n)
{
	unsigned int seen = 0;

	for (size_t i = 0; i < n; i++) {
		if (seen & (1u << args[i].arg))
			return true;
		seen |= 1u << args[i].arg;
	}
	return false;
}

static int add_syscall(scmp_filter_ctx ctx, const char *name, uint32_t action,
		       const struct scmp_arg_cmp *args, size_t n_args)
{
	int nr = seccomp_syscall_resolve_name(name);
	int r;

	if (nr == __NR_SCMP_ERROR) {
		log_debug("seccomp: unknown syscall '%s', skipping", name);
		return 0;
	}
	if (n_args > SYSCALL_ARGS_MAX || args_repeat_index(args, n_args)) {
		for (size_t i = 0; i < n_args; i++) {
			r = seccomp_rule_add_array(ctx, action, nr, 1, &args[i]);
			if (r < 0)
				return log_error_errno(r, "seccomp: add rule for '%s': %m", name);
		}
		return 1;
	}
	r = seccomp_rule_add_array(ctx, action, nr, (unsigned int)n_args, args);
	if (r < 0)
		return log_error_errno(r, "seccomp: add rule for '%s': %m", name);
	return 1;
}

static int add_rule(scmp_filter_ctx ctx, struct json_object *rule, uint32_t default_action,
		    struct seccomp_prog *p)
{
	struct json_object *names, *args = NULL;
	_cleanup_free_ struct scmp_arg_cmp *cmps = NULL;
	size_t n_args = 0;
	const char *action_name;
	uint32_t action, errno_ret;
	int r;

	if (!json_object_is_type(rule, json_type_object))
		return log_error_errno(-EINVAL, "seccomp: syscalls entry is not an object");
	r = json_get_string(rule, "action", &action_name);
	if (r < 0)
		return log_error_errno(-EINVAL,
				       "seccomp: syscalls entry without an 'action' string");
	r = get_errno_ret(rule, "errnoRet", &errno_ret);
	if (r < 0)
		return r;
	r = parse_action(action_name, errno_ret, &action);
	if (r < 0)
		return r;
	r = json_get_array(rule, "names", &names);
	if (r < 0)
		return log_error_errno(-EINVAL, "seccomp: syscalls entry without a 'names' array");
	r = json_get_array(rule, "args", &args);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "seccomp: syscall 'args' is not an array");
	if (args && (n_args = json_object_array_length(args)) > 0) {
		cmps = calloc(n_args, sizeof(*cmps));
		if (!cmps)
			return log_error_errno(-ENOMEM, "seccomp: %m");
		for (size_t i = 0; i < n_args; i++) {
			r = parse_arg(json_object_array_get_idx(args, i), &cmps[i]);
			if (r < 0)
				return r;
		}
	}

	for (size_t i = 0; i < json_object_array_length(names); i++) {
		struct json_object *n = json_object_array_get_idx(names, i);
		const char *name;

		r = json_as_string(n, &name);
		if (r < 0)
			return log_error_errno(r, "seccomp: syscall name %s",
					       r == -EILSEQ ? "contains a NUL byte"
							    : "is not a string");
		if (action == SCMP_ACT_NOTIFY) {
			if (!p->listener_path)
				return log_error_errno(-EINVAL,
						       "seccomp: SCMP_ACT_NOTIFY for '%s' "
						       "needs a listenerPath",
						       name);
			/* The runtime itself may write(2) between install and execve. */
			if (strcmp(name, "write") == 0)
				return log_error_errno(-EINVAL,
						       "seccomp: SCMP_ACT_NOTIFY cannot be "
						       "used for 'write'");
		}
		/* libseccomp refuses a rule that repeats the default action (-EACCES). */
		if (action == default_action) {
			log_debug("seccomp: rule for '%s' is the default action, skipping", name);
			continue;
		}
		r = add_syscall(ctx, name, action, cmps, n_args);
		if (r < 0)
			return r;
		if (r > 0 && action == SCMP_ACT_NOTIFY)
			p->needs_listener = true;
	}
	return 0;
}

static int add_architectures(scmp_filter_ctx ctx, struct json_object *archs)
{
	for (size_t i = 0; i < json_object_array_length(archs); i++) {
		struct json_object *a = json_object_array_get_idx(archs, i);
		const struct arch_name *found = NULL;
		const char *name;
		int r = json_as_string(a, &name);

		if (r < 0)
			return log_error_errno(r, "seccomp: architecture %s",
					       r == -EILSEQ ? "contains a NUL byte"
							    : "is not a string");
		for (size_t j = 0; j < ELEMENTSOF(arch_table); j++)
			if (strcmp(arch_table[j].name, name) == 0)
				found = &arch_table[j];
		if (!found)
			return log_error_errno(-EINVAL, "seccomp: unknown architecture '%s'", name);
		r = seccomp_arch_add(ctx, found->token);
		if (r < 0 && r != -EEXIST)
			return log_error_errno(r, "seccomp: add architecture '%s': %m", name);
	}
	return 0;
}

static int parse_flags(struct json_object *flags, unsigned int *ret)
{
	unsigned int f = 0;

	for (size_t i = 0; i < json_object_array_length(flags); i++) {
		struct json_object *o = json_object_array_get_idx(flags, i);
		const char *name;
		size_t j;
		int r = json_as_string(o, &name);

		if (r < 0)
			return log_error_errno(r, "seccomp: flag %s",
					       r == -EILSEQ ? "contains a NUL byte"
							    : "is not a string");
		for (j = 0; j < ELEMENTSOF(flag_table); j++)
			if (strcmp(flag_table[j].name, name) == 0)
				break;
		if (j == ELEMENTSOF(flag_table))
			return log_error_errno(-EINVAL, "seccomp: unknown flag '%s'", name);
		f |= flag_table[j].flag;
	}
	*ret = f;
	return 0;
}

static int parse_listener(struct json_object *s, struct seccomp_prog *p)
{
	const char *v;
	int r;

	r = json_get_string(s, "listenerPath", &v);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "seccomp: 'listenerPath' is not a string");
	if (r == 0 && *v && !(p->listener_path = strdup(v)))
		return log_error_errno(-ENOMEM, "seccomp: %m");
	r = json_get_string(s, "listenerMetadata", &v);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "seccomp: 'listenerMetadata' is not a string");
	if (r == 0 && !(p->listener_metadata = strdup(v)))
		return log_error_errno(-ENOMEM, "seccomp: %m");
	return 0;
}

/* Export the filter's BPF through a memfd and keep a copy the child can hand to seccomp(2). */
static int export_bpf(scmp_filter_ctx ctx, struct seccomp_prog *p)
{
	_cleanup_close_ int fd = memfd_create("brisk-seccomp", MFD_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	if (fd < 0)
		return log_error_errno(-errno, "seccomp: memfd_create: %m");
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return log_error_errno(r, "seccomp: export BPF: %m");
	if (lseek(fd, 0, SEEK_SET) < 0)
		return log_error_errno(-errno, "seccomp: seek BPF: %m");
	r = read_fd_all(fd, (BPF_MAXINSNS + 1) * sizeof(struct sock_filter), &buf, &len);
	if (r < 0 && r != -EFBIG)
		return log_error_errno(r, "seccomp: read BPF: %m");
	if (r == -EFBIG || len / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return log_error_errno(-E2BIG,
				       "seccomp: profile compiles to more than %d BPF "
				       "instructions",
				       BPF_MAXINSNS);
	if (len == 0 || len % sizeof(struct sock_filter) != 0)
		return log_error_errno(-EIO, "seccomp: exported BPF has a bad size %zu", len);
	p->filter = (struct sock_filter *)TAKE_PTR(buf);
	p->len = (unsigned short)(len / sizeof(struct sock_filter));
	return 0;
}

/*
 * ENOSYS for the syscalls a profile is too old to know.
 *
 * A profile is a list of the syscalls that existed when it was written. Its default action
 * (EPERM, say) also hits every syscall added to the kernel since, and libc only falls back
 * to an older call (clone3 -> clone, faccessat2 -> faccessat) on ENOSYS. So, as runc does,
 * a syscall whose number is above the highest one the profile names, for that architecture,
 * gets ENOSYS; the rest go to the filter libseccomp made. Numbers are not handed out in
 * strict order of age (a syscall may be numbered into an old hole), so this is a guess, the
 * same one runc makes. A permissive default (ALLOW, LOG, TRACE) or a default that already is
 * ENOSYS needs none of this. The architectures are those of the filter: the profile's, and
 * the native one, which libseccomp's filter always holds (runc only looks at the profile's,
 * so a profile without "architectures" gets no ENOSYS there).
 *
 * The stub runs before libseccomp's program:
 *
 *	ld arch; for each architecture: jeq AUDIT_ARCH, 0, 1; ja section; then ja filter
 *	section: ld nr; [s390: jeq #0 -> enosys]; [x86-64: jset X32_BIT -> x32 part];
 *		 part: jgt #highest, 0, 1; ret ERRNO(ENOSYS); ja filter
 *
 * x86-64 and x32 share AUDIT_ARCH_X86_64 and differ by bit 30 of the number, which
 * libseccomp's x32 numbers include. s390's syscall 0 is the multiplexer that carries the
 * numbers above the table (its own syscall setup(2) is long gone): an unknown one arrives
 * as 0, and gets ENOSYS too.
 */
#define X32_SYSCALL_BIT 0x40000000u
#define STUB_MAX 256
#define ENOSYS_ARCHS_MAX (ELEMENTSOF(arch_table) + 1)

struct enosys_arch {
	uint32_t audit;		      /* AUDIT_ARCH_* of seccomp_data.arch */
	int64_t highest, highest_x32; /* -1: none named */
	bool x86_64;
};

struct stub {
	struct sock_filter v[STUB_MAX];
	size_t n;
	size_t to_filter[STUB_MAX]; /* the ja instructions whose target is the filter */
	size_t n_to_filter;
};

static void emit(struct stub *st, struct sock_filter insn)
{
	if (st->n < STUB_MAX)
		st->v[st->n] = insn;
	st->n++;
}

static void emit_ja_filter(struct stub *st)
{
	if (st->n_to_filter < STUB_MAX)
		st->to_filter[st->n_to_filter++] = st->n;
	emit(st, (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0));
}

/* Syscall numbers above HIGHEST: ENOSYS; the others: on to the filter. */
static void emit_part(struct stub *st, int64_t highest)
{
	if (highest < 0) {
		emit_ja_filter(st);
		return;
	}
	emit(st, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)highest, 0, 1));
	emit(st, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
	emit_ja_filter(st);
}

static void emit_section(struct stub *st, const struct enosys_arch *a)
{
	emit(st, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr)));
	if (a->audit == AUDIT_ARCH_S390 || a->audit == AUDIT_ARCH_S390X)
		/* to the ret of the part below */
		emit(st, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0));
	if (!a->x86_64) {
		emit_part(st, a->highest);
		return;
	}
	/* the x86-64 part is 3 instructions long, or 1 when it only jumps to the filter */
	emit(st, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT,
					      a->highest < 0 ? 1 : 3, 0));
	emit_part(st, a->highest);
	emit_part(st, a->highest_x32);
}

/* The highest number any rule of the profile names on architecture TOKEN; -1 if none. */
static int64_t highest_syscall(struct json_object *syscalls, uint32_t token)
{
	int64_t highest = -1;

	for (size_t i = 0; syscalls && i < json_object_array_length(syscalls); i++) {
		struct json_object *names;

		if (json_get_array(json_object_array_get_idx(syscalls, i), "names", &names) < 0)
			continue;
		for (size_t j = 0; j < json_object_array_length(names); j++) {
			const char *name;
			int nr;

			if (json_as_string(json_object_array_get_idx(names, j), &name) < 0)
				continue;
			/* negative: unknown, or a pseudo-syscall that this arch multiplexes */
			nr = seccomp_syscall_resolve_name_arch(token, name);
			if (nr >= 0 && nr > highest)
				highest = nr;
		}
	}
	return highest;
}

static bool is_permissive(uint32_t action)
{
	uint32_t kind = action & SECCOMP_RET_ACTION_FULL;

	return action == SCMP_ACT_ALLOW || action == SCMP_ACT_LOG ||
	       kind == (SCMP_ACT_TRACE(0) & SECCOMP_RET_ACTION_FULL) ||
	       action == SCMP_ACT_ERRNO(ENOSYS);
}

/* The filter's architectures (libseccomp's native one and the profile's), by AUDIT_ARCH. */
static size_t enosys_archs(struct json_object *s, struct enosys_arch *v)
{
	struct json_object *archs = NULL, *syscalls = NULL;
	uint32_t tokens[ENOSYS_ARCHS_MAX];
	size_t n_tokens = 0, n = 0;

	(void)json_get_array(s, "syscalls", &syscalls);
	(void)json_get_array(s, "architectures", &archs);
	tokens[n_tokens++] = seccomp_arch_native();
	for (size_t i = 0; archs && i < json_object_array_length(archs); i++) {
		const char *name = NULL;

		(void)json_as_string(json_object_array_get_idx(archs, i), &name);
		for (size_t j = 0; name && j < ELEMENTSOF(arch_table); j++)
			if (strcmp(arch_table[j].name, name) == 0 && n_tokens < ENOSYS_ARCHS_MAX)
				tokens[n_tokens++] = arch_table[j].token;
	}
	for (size_t i = 0; i < n_tokens; i++) {
		bool x32 = tokens[i] == SCMP_ARCH_X32;
		uint32_t audit = x32 ? AUDIT_ARCH_X86_64 : tokens[i];
		int64_t highest = highest_syscall(syscalls, tokens[i]);
		size_t k;

		for (k = 0; k < n && v[k].audit != audit; k++)
			;
		if (k == n)
			v[n++] = (struct enosys_arch){.audit = audit,
						      .highest = -1,
						      .highest_x32 = -1,
						      .x86_64 = audit == AUDIT_ARCH_X86_64};
		if (x32)
			v[k].highest_x32 = highest < 0 ? -1 : (highest | X32_SYSCALL_BIT);
		else
			v[k].highest = highest;
	}
	return n;
}

/* Prepend the ENOSYS stub (see above) to P's filter, unless DEFAULT_ACTION needs none. */
static int add_enosys_stub(struct json_object *s, uint32_t default_action, struct seccomp_prog *p)
{
	struct enosys_arch archs[ENOSYS_ARCHS_MAX];
	_cleanup_free_ struct stub *st = NULL;
	size_t n_archs, jumps[ENOSYS_ARCHS_MAX], n_jumps = 0, len;
	struct sock_filter *f;

	if (is_permissive(default_action))
		return 0;
	n_archs = enosys_archs(s, archs);
	st = calloc(1, sizeof(*st));
	if (!st)
		return log_error_errno(-ENOMEM, "seccomp: %m");
	emit(st, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch)));
	for (size_t i = 0; i < n_archs; i++) {
		if (archs[i].highest < 0 && archs[i].highest_x32 < 0) {
			log_debug("seccomp: the profile names no syscall of arch 0x%x",
				  archs[i].audit);
			continue;
		}
		emit(st,
		     (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, archs[i].audit, 0, 1));
		jumps[n_jumps++] = st->n;
		emit(st, (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0));
	}
	if (n_jumps == 0)
		return 0;
	emit_ja_filter(st);
	for (size_t i = 0, j = 0; i < n_archs; i++) {
		if (archs[i].highest < 0 && archs[i].highest_x32 < 0)
			continue;
		st->v[jumps[j]].k = (uint32_t)(st->n - jumps[j] - 1);
		j++;
		emit_section(st, &archs[i]);
	}
	if (st->n > STUB_MAX || st->n_to_filter > STUB_MAX)
		return log_error_errno(-E2BIG, "seccomp: ENOSYS stub of %zu instructions", st->n);
	for (size_t i = 0; i < st->n_to_filter; i++)
		st->v[st->to_filter[i]].k = (uint32_t)(st->n - st->to_filter[i] - 1);

	len = st->n + p->len;
	if (len > BPF_MAXINSNS)
		return log_error_errno(-E2BIG,
				       "seccomp: profile compiles to more than %d BPF "
				       "instructions",
				       BPF_MAXINSNS);
	f = malloc(len * sizeof(*f));
	if (!f)
		return log_error_errno(-ENOMEM, "seccomp: %m");
	memcpy(f, st->v, st->n * sizeof(*f));
	memcpy(f + st->n, p->filter, p->len * sizeof(*f));
	free(p->filter);
	p->filter = f;
	p->len = (unsigned short)len;
	return 0;
}

static int compile_rules(scmp_filter_ctx ctx, struct json_object *s, uint32_t default_action,
			 struct seccomp_prog *p)
{
	struct json_object *o;
	int r;

	r = json_get_array(s, "architectures", &o);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "seccomp: 'architectures' is not an array");
	if (r == 0 && (r = add_architectures(ctx, o)) < 0)
		return r;
	r = json_get_array(s, "flags", &o);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "seccomp: 'flags' is not an array");
	if (r == 0 && (r = parse_flags(o, &p->flags)) < 0)
		return r;
	r = json_get_array(s, "syscalls", &o);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "seccomp: 'syscalls' is not an array");
	for (size_t i = 0; r == 0 && i < json_object_array_length(o); i++) {
		int k = add_rule(ctx, json_object_array_get_idx(o, i), default_action, p);

		if (k < 0)
			return k;
	}
	return 0;
}

int seccomp_prog_compile(struct json_object *linux_seccomp, struct seccomp_prog **ret)
{
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p = NULL;
	_cleanup_(seccomp_ctxp) scmp_filter_ctx ctx = NULL;
	const char *default_name;
	uint32_t default_action, errno_ret;
	int r;

	if (!linux_seccomp) {
		*ret = NULL;
		return 0;
	}
	if (!json_object_is_type(linux_seccomp, json_type_object))
		return log_error_errno(-EINVAL, "seccomp: linux.seccomp is not an object");
	p = calloc(1, sizeof(*p));
	if (!p)
		return log_error_errno(-ENOMEM, "seccomp: %m");
	r = parse_listener(linux_seccomp, p);
	if (r < 0)
		return r;

	r = json_get_string(linux_seccomp, "defaultAction", &default_name);
	if (r < 0)
		return log_error_errno(-EINVAL, "seccomp: 'defaultAction' missing or not a string");
	r = get_errno_ret(linux_seccomp, "defaultErrnoRet", &errno_ret);
	if (r < 0)
		return r;
	r = parse_action(default_name, errno_ret, &default_action);
	if (r < 0)
		return r;
	/* Every syscall the runtime makes after install would wait on an agent that has no fd. */
	if (default_action == SCMP_ACT_NOTIFY)
		return log_error_errno(-EINVAL, "seccomp: SCMP_ACT_NOTIFY cannot be the default "
						"action");

	ctx = seccomp_init(default_action);
	if (!ctx)
		return log_error_errno(-EINVAL,
				       "seccomp: cannot initialise a filter with default "
				       "action '%s'",
				       default_name);
	/* A binary tree of syscall numbers: large profiles cost O(log n) per syscall. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		log_debug_errno(r, "seccomp: binary tree optimisation: %m, ignoring");

	r = compile_rules(ctx, linux_seccomp, default_action, p);
	if (r < 0)
		return r;
	/* The kernel takes WAIT_KILLABLE_RECV only with a listener; without one it means nothing.
	 */
	if ((p->flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) && !p->needs_listener) {
		log_debug(
		    "seccomp: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV without SCMP_ACT_NOTIFY, "
		    "ignoring");
		p->flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	}
	r = export_bpf(ctx, p);
	if (r < 0)
		return r;
	r = add_enosys_stub(linux_seccomp, default_action, p);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

/*
 * Runs in the container child between clone and execve: no allocation, no logging.
 * TSYNC and NEW_LISTENER together need TSYNC_ESRCH (Linux >= 5.7); the child is
 * single-threaded here, so with a listener TSYNC is dropped instead.
 */
int seccomp_prog_install(const struct seccomp_prog *p, int *ret_listener_fd)
{
	struct sock_fprog prog;
	unsigned int flags;
	long r;

	if (!p) {
		*ret_listener_fd = -1;
		return 0;
	}
	prog = (struct sock_fprog){.len = p->len, .filter = p->filter};
	flags = p->flags;
	if (p->needs_listener)
		flags = (flags & ~SECCOMP_FILTER_FLAG_TSYNC) | SECCOMP_FILTER_FLAG_NEW_LISTENER;
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0)
		return negative_errno();
	*ret_listener_fd = p->needs_listener ? (int)r : -1;
	return 0;
}

bool seccomp_prog_needs_listener(const struct seccomp_prog *p)
{
	return p && p->needs_listener;
}

const char *seccomp_prog_listener_path(const struct seccomp_prog *p)
{
	return p ? p->listener_path : NULL;
}

const char *seccomp_prog_listener_metadata(const struct seccomp_prog *p)
{
	return p ? p->listener_metadata : NULL;
}

size_t seccomp_prog_size(const struct seccomp_prog *p)
{
	return p ? p->len : 0;
}

const struct sock_filter *seccomp_prog_bpf(const struct seccomp_prog *p)
{
	return p ? p->filter : NULL;
}

static int add_names(struct json_object *o, const char *key, const char *const *names, size_t n,
		     size_t stride)
{
	struct json_object *a = json_object_new_array();

	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *name = *(const char *const *)((const char *)names + i * stride);

		if (json_object_array_add(a, json_object_new_string(name)) < 0) {
			json_object_put(a);
			return -ENOMEM;
		}
	}
	if (json_object_object_add(o, key, a) < 0) {
		json_object_put(a);
		return -ENOMEM;
	}
	return 0;
}

#define ADD_TABLE(o, key, table) \
	add_names(o, key, &(table)[0].name, ELEMENTSOF(table), sizeof((table)[0]))

/*
 * A flag the kernel knows fails with EFAULT on a NULL program, an unknown one with EINVAL.
 * WAIT_KILLABLE_RECV is refused (EINVAL) without NEW_LISTENER.
 */
static bool kernel_has_flag(unsigned int flag)
{
	if (flag == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
		flag |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL) < 0 && errno == EFAULT;
}

int seccomp_features(struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *supported;
	int r;

	if (!o || json_object_object_add(o, "enabled", json_object_new_boolean(true)) < 0)
		return -ENOMEM;
	r = ADD_TABLE(o, "actions", action_table);
	if (r >= 0)
		r = ADD_TABLE(o, "operators", op_table);
	if (r >= 0)
		r = ADD_TABLE(o, "archs", arch_table);
	if (r >= 0)
		r = ADD_TABLE(o, "knownFlags", flag_table);
	if (r < 0)
		return r;
	supported = json_object_new_array();
	if (!supported || json_object_object_add(o, "supportedFlags", supported) < 0) {
		json_object_put(supported);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ELEMENTSOF(flag_table); i++)
		if (kernel_has_flag(flag_table[i].flag) &&
		    json_object_array_add(supported, json_object_new_string(flag_table[i].name)) <
			0)
			return -ENOMEM;
	*ret = TAKE_PTR(o);
	return 0;
}
