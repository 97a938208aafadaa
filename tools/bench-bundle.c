/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "bench.h"

int bench_copy_file(const char *from, const char *to, mode_t mode)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = read_file_at(AT_FDCWD, from, 64 << 20, &buf, &len);

	if (r < 0)
		return r;
	return write_file_atomic_at(AT_FDCWD, to, buf, len, mode, false);
}

int bench_make_bundle(const struct bench_opts *o, char **ret_dir, char **ret_bundle,
		      char **ret_rootfs)
{
	static const char *const applets[] = {"sh", "true", "sleep", "cat", "echo", NULL};
	_cleanup_free_ char *dir = strdup("/tmp/brisk-bench.XXXXXX");
	_cleanup_free_ char *bundle = NULL, *rootfs = NULL, *bin = NULL, *cfg = NULL;
	_cleanup_json_ struct json_object *spec = NULL;
	struct json_object *proc, *root;
	int r;

	if (!dir || !mkdtemp(dir))
		return log_error_errno(-errno, "mkdtemp: %m");
	chmod(dir, 0755);
	bundle = path_join(dir, "bundle");
	rootfs = path_join(bundle, "rootfs");
	bin = path_join(rootfs, "bin");
	cfg = path_join(bundle, "config.json");
	if (!bundle || !rootfs || !bin || !cfg)
		return -ENOMEM;
	if ((r = mkdir_p_at(AT_FDCWD, bin, 0755)) < 0)
		return log_error_errno(r, "mkdir '%s': %m", bin);
	static const char *const dirs[] = {"proc", "sys", "dev", "tmp", "etc"};
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		_cleanup_free_ char *d = path_join(rootfs, dirs[i]);
		if (!d || mkdir_p_at(AT_FDCWD, d, 0755) < 0)
			return -EIO;
	}
	_cleanup_free_ char *bb = path_join(bin, "busybox");
	if (!bb || (r = bench_copy_file(o->busybox, bb, 0755)) < 0)
		return log_error_errno(r, "copy '%s' into the rootfs: %m", o->busybox);
	for (size_t i = 0; applets[i]; i++) {
		_cleanup_free_ char *l = path_join(bin, applets[i]);
		if (!l || symlink("busybox", l) < 0)
			return -EIO;
	}
	pid_t pid = fork();
	if (pid == 0) {
		execl(o->brisk, o->brisk, "spec", "--bundle", bundle, NULL);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return log_error_errno(-EIO, "'%s spec' failed", o->brisk);
	if ((r = json_parse_file_at(AT_FDCWD, cfg, &spec)) < 0)
		return log_error_errno(r, "read '%s': %m", cfg);
	/* crun 1.8 refuses newer spec versions; the bundle uses nothing newer than 1.0.2 */
	json_object_object_add(spec, "ociVersion", json_object_new_string("1.0.2"));
	json_get_object(spec, "process", &proc);
	json_object_object_add(proc, "terminal", json_object_new_boolean(false));
	struct json_object *args = json_object_new_array();
	json_object_array_add(args, json_object_new_string("/bin/true"));
	json_object_object_add(proc, "args", args);
	json_get_object(spec, "root", &root);
	const char *s = json_to_string(spec);
	if ((r = write_file_atomic_at(AT_FDCWD, cfg, s, strlen(s), 0644, false)) < 0)
		return log_error_errno(r, "write '%s': %m", cfg);
	*ret_dir = TAKE_PTR(dir);
	*ret_bundle = TAKE_PTR(bundle);
	*ret_rootfs = TAKE_PTR(rootfs);
	return 0;
}

int bench_bundle_set_args(const char *bundle, const char *const *args)
{
	_cleanup_free_ char *cfg = path_join(bundle, "config.json");
	_cleanup_json_ struct json_object *spec = NULL;
	struct json_object *proc, *a = json_object_new_array();
	int r;

	if (!cfg || !a)
		return -ENOMEM;
	if ((r = json_parse_file_at(AT_FDCWD, cfg, &spec)) < 0) {
		json_object_put(a);
		return log_error_errno(r, "read '%s': %m", cfg);
	}
	for (size_t i = 0; args[i]; i++)
		json_object_array_add(a, json_object_new_string(args[i]));
	if (json_get_object(spec, "process", &proc) < 0) {
		json_object_put(a);
		return log_error_errno(-EINVAL, "'%s' has no process", cfg);
	}
	json_object_object_add(proc, "args", a);
	const char *s = json_to_string(spec);
	if ((r = write_file_atomic_at(AT_FDCWD, cfg, s, strlen(s), 0644, false)) < 0)
		return log_error_errno(r, "write '%s': %m", cfg);
	return 0;
}

int bench_bundle_set_root(const char *bundle, const char *rootfs)
{
	_cleanup_free_ char *cfg = path_join(bundle, "config.json");
	_cleanup_json_ struct json_object *spec = NULL;
	struct json_object *root;
	int r;

	if (!cfg)
		return -ENOMEM;
	if ((r = json_parse_file_at(AT_FDCWD, cfg, &spec)) < 0)
		return log_error_errno(r, "read '%s': %m", cfg);
	if (json_get_object(spec, "root", &root) < 0)
		return log_error_errno(-EINVAL, "'%s' has no root", cfg);
	json_object_object_add(root, "path", json_object_new_string(rootfs));
	json_object_object_add(root, "readonly", json_object_new_boolean(true));
	const char *s = json_to_string(spec);
	if ((r = write_file_atomic_at(AT_FDCWD, cfg, s, strlen(s), 0644, false)) < 0)
		return log_error_errno(r, "write '%s': %m", cfg);
	return 0;
}
