/* SPDX-License-Identifier: Apache-2.0 */
/* What registries answer and where credentials come from (imagefs/registry-auth.c). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "imagefs/imagefs-internal.h"

static void test_challenge(void **state)
{
	const char *c = "Bearer realm=\"http://127.0.0.1:5001/token\",service=\"reg\","
			"scope=\"repository:a/b:pull\"";
	_cleanup_free_ char *realm = ifs_challenge_param(c, "realm");
	_cleanup_free_ char *service = ifs_challenge_param(c, "service");
	_cleanup_free_ char *scope = ifs_challenge_param(c, "scope");
	(void)state;

	assert_string_equal(realm, "http://127.0.0.1:5001/token");
	assert_string_equal(service, "reg");
	assert_string_equal(scope, "repository:a/b:pull");
	assert_null(ifs_challenge_param(c, "error"));
	assert_null(ifs_challenge_param("Bearer realm=\"unterminated", "realm"));
}

static void test_token(void **state)
{
	char *t = NULL;
	(void)state;

	assert_int_equal(ifs_token_parse("{\"token\":\"abc\"}", 15, &t), 0);
	assert_string_equal(t, "abc");
	free(t);
	assert_int_equal(ifs_token_parse("{\"access_token\":\"x\"}", 20, &t), 0);
	assert_string_equal(t, "x");
	free(t);
	/* a token with a line break would forge headers */
	assert_int_equal(ifs_token_parse("{\"token\":\"a\\r\\nX: y\"}", 21, &t), -EBADMSG);
	assert_int_equal(ifs_token_parse("{\"token\":\"\"}", 12, &t), -EBADMSG);
	assert_int_equal(ifs_token_parse("not json", 8, &t), -EBADMSG);
}

static void test_error_text(void **state)
{
	const char *spec = "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"no\\nway\"},"
			   "{\"code\":\"UNKNOWN\"}]}";
	char buf[128];
	(void)state;

	ifs_registry_error_text(spec, strlen(spec), buf, sizeof(buf));
	assert_string_equal(buf, "DENIED: no way; UNKNOWN");
	ifs_registry_error_text("502 Bad Gateway\nmore", 20, buf, sizeof(buf));
	assert_string_equal(buf, "502 Bad Gateway");
	ifs_registry_error_text("\x01\x02 binary", 9, buf, sizeof(buf));
	assert_string_equal(buf, "");
	ifs_registry_error_text(spec, strlen(spec), buf, 7);
	assert_string_equal(buf, "DENIED");
	ifs_registry_error_text(NULL, 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void test_auth_parse(void **state)
{
	/* "dXNlcjpwYTpzcw==" is base64 of "user:pa:ss" */
	const char *j = "{\"auths\":{\"127.0.0.1:50001\":{\"auth\":\"eDp5\"},"
			"\"https://127.0.0.1:5000/v1/\":{\"auth\":\"dXNlcjpwYTpzcw==\"},"
			"\"localhost\":{\"username\":\"u\",\"password\":\"p\"},"
			"\"bad\":{\"auth\":\"!!\"},\"nocolon\":{\"auth\":\"dXNlcg==\"}}}";
	char *u = NULL, *p = NULL;
	(void)state;

	assert_int_equal(ifs_registry_auth_parse(j, strlen(j), "127.0.0.1:5000", &u, &p), 0);
	assert_string_equal(u, "user");
	assert_string_equal(p, "pa:ss");
	free(u);
	free(p);
	assert_int_equal(ifs_registry_auth_parse(j, strlen(j), "localhost", &u, &p), 0);
	assert_string_equal(u, "u");
	assert_string_equal(p, "p");
	free(u);
	free(p);
	assert_int_equal(ifs_registry_auth_parse(j, strlen(j), "127.0.0.1", &u, &p), -ENOENT);
	assert_int_equal(ifs_registry_auth_parse(j, strlen(j), "bad", &u, &p), -EBADMSG);
	assert_int_equal(ifs_registry_auth_parse(j, strlen(j), "nocolon", &u, &p), -EBADMSG);
	assert_int_equal(ifs_registry_auth_parse("[]", 2, "x", &u, &p), -ENOENT);
	assert_int_equal(ifs_registry_auth_parse("{", 1, "x", &u, &p), -EBADMSG);
}

static void test_auth_find(void **state)
{
	/* base64 of "d:d" and "p:p" */
	const char *dj = "{\"auths\":{\"h:1\":{\"auth\":\"ZDpk\"}}}";
	const char *pj = "{\"auths\":{\"h:2\":{\"auth\":\"cDpw\"}}}";
	char dir[] = "/tmp/test-registry-XXXXXX", *u = NULL, *p = NULL, *src = NULL;
	_cleanup_free_ char *docker = NULL, *podman = NULL;
	(void)state;

	assert_non_null(mkdtemp(dir));
	docker = path_join(dir, "config.json");
	podman = path_join(dir, "auth.json");
	assert_int_equal(write_file_atomic_at(AT_FDCWD, docker, dj, strlen(dj), 0600, false), 0);
	assert_int_equal(write_file_atomic_at(AT_FDCWD, podman, pj, strlen(pj), 0600, false), 0);
	unsetenv("XDG_RUNTIME_DIR");
	setenv("DOCKER_CONFIG", dir, 1);
	setenv("REGISTRY_AUTH_FILE", podman, 1);
	/* the podman file has no entry for h:1: docker's has */
	assert_int_equal(ifs_registry_auth_find("h:1", &u, &p, &src), 0);
	assert_string_equal(u, "d");
	assert_string_equal(src, docker);
	free(u), free(p), free(src);
	assert_int_equal(ifs_registry_auth_find("h:2", &u, &p, &src), 0);
	assert_string_equal(u, "p");
	assert_string_equal(src, podman);
	free(u), free(p), free(src);
	assert_int_equal(ifs_registry_auth_find("h:3", &u, &p, &src), -ENOENT);
	assert_int_equal(rm_rf_at(AT_FDCWD, dir), 0);
}

static void test_manifest_index(void **state)
{
	const char *m = "{\"layers\":[{\"mediaType\":\"application/vnd.brisk.image.index.v1\","
			"\"digest\":\"sha256:"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}";
	const char *other = "{\"layers\":[{\"mediaType\":\"application/x\",\"digest\":\"x\"}]}";
	struct digest d;
	(void)state;

	assert_int_equal(ifs_manifest_index(m, strlen(m), &d), 0);
	assert_int_equal(d.bytes[0], 0xaa);
	assert_int_equal(ifs_manifest_index(other, strlen(other), &d), -EMEDIUMTYPE);
	assert_int_equal(ifs_manifest_index("{}", 2, &d), -EBADMSG);
	/* the zstd copy of the index, named beside it */
	const char *both = "{\"layers\":[{\"mediaType\":\"application/vnd.brisk.image.index.v1\","
			   "\"digest\":\"sha256:"
			   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},"
			   "{\"mediaType\":\"application/vnd.brisk.image.index.v1+zstd\","
			   "\"digest\":\"sha256:"
			   "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}]}";
	assert_int_equal(ifs_manifest_index(both, strlen(both), &d), 0);
	assert_int_equal(d.bytes[0], 0xaa);
	assert_int_equal(ifs_manifest_index_zstd(both, strlen(both), &d), 0);
	assert_int_equal(d.bytes[0], 0xbb);
	assert_int_equal(ifs_manifest_index_zstd(m, strlen(m), &d), -ENOENT);
	assert_int_equal(ifs_manifest_index_zstd("{}", 2, &d), -EBADMSG);
	/* an image's manifest as containerd reads it: the same blobs under layer media types */
	const char *image =
	    "{\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.brisk.index.v1\","
	    "\"digest\":\"sha256:"
	    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"},"
	    "{\"mediaType\":\"application/vnd.oci.image.layer.brisk.index.v1+zstd\","
	    "\"digest\":\"sha256:"
	    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"}]}";
	assert_int_equal(ifs_manifest_index(image, strlen(image), &d), 0);
	assert_int_equal(d.bytes[0], 0xcc);
	assert_int_equal(ifs_manifest_index_zstd(image, strlen(image), &d), 0);
	assert_int_equal(d.bytes[0], 0xdd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_challenge),  cmocka_unit_test(test_token),
	    cmocka_unit_test(test_error_text), cmocka_unit_test(test_auth_parse),
	    cmocka_unit_test(test_auth_find),  cmocka_unit_test(test_manifest_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
