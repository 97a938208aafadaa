/* SPDX-License-Identifier: Apache-2.0 */
/* config.json parsing: the fields a container gets, and bad values refused naming the field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "spec.h"

static char errbuf[512];

/* Parse TEXT; on refusal the message is in errbuf. */
static int parse(const char *text, struct spec **ret)
{
	_cleanup_json_ struct json_object *doc = NULL;
	int r;

	errbuf[0] = '\0';
	log_set_capture(errbuf, sizeof(errbuf));
	r = json_parse(text, strlen(text), &doc);
	if (r >= 0)
		r = spec_parse(doc, ret);
	log_set_capture(NULL, 0);
	return r;
}

static const char full[] =
    "{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
    " \"hostname\": \"h\","
    " \"process\": {\"args\": [\"sh\", \"-c\", \"x\"], \"env\": [\"A=b\"], \"cwd\": \"/w\","
    "  \"user\": {\"uid\": 1000, \"gid\": 100, \"additionalGids\": [5, 6], \"umask\": 18},"
    "  \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 512}],"
    "  \"noNewPrivileges\": true, \"oomScoreAdj\": 100},"
    " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
    "  {\"destination\": \"/m\", \"type\": \"bind\", \"source\": \"/s\","
    "   \"options\": [\"rbind\", \"ro\", \"nosuid\", \"size=1k\"]}],"
    " \"hooks\": {\"prestart\": [{\"path\": \"/bin/true\", \"timeout\": 3}]},"
    " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\", \"path\":"
    "  \"/proc/1/ns/net\"}], \"cgroupsPath\": \"/a/b\", \"maskedPaths\": [\"/proc/kcore\"],"
    "  \"sysctl\": {\"net.ipv4.ip_forward\": \"1\"}}}";

static void test_fields(void **state)
{
	(void)state;
	_cleanup_(spec_freep) struct spec *s = NULL;

	assert_int_equal(parse(full, &s), 0);
	assert_string_equal(s->oci_version, "1.2.0");
	assert_string_equal(s->root_path, "rootfs");
	assert_true(s->root_readonly);
	assert_string_equal(s->hostname, "h");
	assert_true(s->has_process);
	assert_string_equal(s->process.args[2], "x");
	assert_null(s->process.args[3]);
	assert_string_equal(s->process.env[0], "A=b");
	assert_string_equal(s->process.cwd, "/w");
	assert_int_equal(s->process.uid, 1000);
	assert_int_equal(s->process.gid, 100);
	assert_int_equal(s->process.n_additional_gids, 2);
	assert_true(s->process.has_umask);
	assert_int_equal(s->process.n_rlimits, 1);
	assert_int_equal(s->process.rlimits[0].resource, RLIMIT_NOFILE);
	assert_true(s->process.rlimits[0].soft == 512 && s->process.rlimits[0].hard == 1024);
	assert_true(s->process.no_new_privileges);
	assert_true(s->process.has_oom_score_adj);
	assert_int_equal(s->n_mounts, 2);
	assert_string_equal(s->mounts[1].destination, "/m");
	assert_true(s->mounts[1].flags & MS_RDONLY);
	assert_true(s->mounts[1].flags & MS_NOSUID);
	assert_string_equal(s->mounts[1].data, "size=1k");
	assert_int_equal(s->hooks[HOOK_PRESTART].n, 1);
	assert_int_equal(s->hooks[HOOK_PRESTART].v[0].timeout, 3);
	assert_int_equal(s->n_namespaces, 2);
	assert_non_null(spec_find_namespace(s, CLONE_NEWPID));
	assert_string_equal(spec_find_namespace(s, CLONE_NEWNET)->path, "/proc/1/ns/net");
	assert_null(spec_find_namespace(s, CLONE_NEWUSER));
	assert_string_equal(s->cgroups_path, "/a/b");
	assert_string_equal(s->masked_paths[0], "/proc/kcore");
	assert_non_null(s->sysctl);
}

/* Each bad document is refused, and the message names what was wrong. */
static void test_bad_values(void **state)
{
	(void)state;
	static const struct {
		const char *doc, *names;
	} bad[] = {
	    {"[]", ""},
	    {"{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": 3}}", "root.path"},
	    {"{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": "
	     "\"sh\"}}",
	     "process.args"},
	    {"{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": "
	     "[\"sh\"], \"user\": {\"uid\": -1}}}",
	     "uid"},
	    {"{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": "
	     "[\"sh\"], \"rlimits\": "
	     "[{\"type\": \"RLIMIT_NOFILE\", \"hard\": 184467440737095516150, \"soft\": 1}]}}",
	     "process.rlimits[0]"},
	    {"{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": "
	     "[\"sh\"], \"rlimits\": "
	     "[{\"type\": \"RLIMIT_NOPE\", \"hard\": 1, \"soft\": 1}]}}",
	     "RLIMIT_NOPE"},
	    {"{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"r\"}, \"hostname\": "
	     "\"tr\\u0000ue\"}",
	     "hostname"},
	    {"{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"r\"}, \"linux\": {\"namespaces\": "
	     "[{\"type\": \"nope\"}]}}",
	     "nope"},
	    {"{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"r\"}, \"mounts\": "
	     "[{\"destination\": 3}]}",
	     "mounts[].destination"},
	    {"{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"r\"}, \"hooks\": {\"prestart\": "
	     "[{\"args\": []}]}}",
	     "path"},
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_(spec_freep) struct spec *s = NULL;
		int r = parse(bad[i].doc, &s);

		if (r >= 0 || !strstr(errbuf, bad[i].names))
			fail_msg("document %zu: r=%d, message '%s', wanted one naming '%s'", i, r,
				 errbuf, bad[i].names);
		assert_null(s);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(spec_namespace_from_name("network"), CLONE_NEWNET);
	assert_int_equal(spec_namespace_from_name("mount"), CLONE_NEWNS);
	assert_true(spec_namespace_from_name("nope") < 0);
	assert_string_equal(spec_namespace_name(CLONE_NEWUTS), "uts");
	assert_int_equal(spec_rlimit_from_name("RLIMIT_NOFILE"), RLIMIT_NOFILE);
	assert_true(spec_rlimit_from_name("NOFILE") < 0);
	assert_string_equal(spec_hook_name(HOOK_POSTSTOP), "poststop");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
