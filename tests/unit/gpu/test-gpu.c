/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gpu/ against the fake driver (tests/gpu/fake-libcuda.c) through the real helper: the
 * order of the driver calls, the undo after a failure at every step, lock timeouts, several
 * processes, and the messages. The processes are sleeping children whose environment makes
 * them CUDA processes for the fake (FAKE_CUDA=KEY).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "gpu/gpu.h"

static char tmpdir[] = "/tmp/brisk-gpu-XXXXXX";
static char logpath[256], statedir[256];
static pid_t kids[3];

/* A sleeping child; KEY non-NULL makes it a CUDA process for the fake. */
static pid_t spawn(const char *key)
{
	pid_t pid = fork();

	if (pid == 0) {
		char env[64];
		char *envp[] = {env, NULL};
		snprintf(env, sizeof(env), "FAKE_CUDA=%s", key ? key : "");
		if (!key)
			envp[0] = NULL;
		execle("/bin/sleep", "sleep", "1000", (char *)NULL, envp);
		_exit(127);
	}
	return pid;
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(logpath, sizeof(logpath), "%s/calls.log", tmpdir);
	snprintf(statedir, sizeof(statedir), "%s/states", tmpdir);
	if (mkdir(statedir, 0700) < 0)
		return -1;
	kids[0] = spawn("a");
	kids[1] = spawn("b");
	kids[2] = spawn(NULL);
	/* let them exec, so that their environment is the fake's marker */
	usleep(100000);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	return rm_rf_at(AT_FDCWD, tmpdir);
}

/* Before each test: no states, an empty log, the default fake. */
static int reset(void **state)
{
	(void)state;
	(void)rm_rf_at(AT_FDCWD, statedir);
	(void)mkdir(statedir, 0700);
	(void)unlink(logpath);
	setenv("FAKE_CUDA_DIR", statedir, 1);
	setenv("FAKE_CUDA_LOG", logpath, 1);
	unsetenv("FAKE_CUDA_FAIL");
	unsetenv("FAKE_CUDA_HANG");
	unsetenv("FAKE_CUDA_VERSION");
	setenv("BRISK_LIBCUDA", getenv("FAKE_LIBCUDA"), 1);
	return 0;
}

static char *calls(void)
{
	char *buf = NULL;

	if (read_file_at(AT_FDCWD, logpath, 65536, &buf, NULL) < 0)
		buf = strdup("");
	return buf;
}

static void assert_calls(const char *want)
{
	_cleanup_free_ char *got = calls();

	assert_string_equal(got, want);
}

static void assert_state(struct gpu *g, pid_t pid, enum gpu_state want)
{
	enum gpu_state st = GPU_STATE_FAILED;

	assert_int_equal(gpu_get_state(g, pid, &st), 0);
	assert_int_equal(st, want);
}

static struct gpu *open_fake(void)
{
	struct gpu *g = NULL;

	assert_int_equal(gpu_open(&g), 0);
	assert_non_null(g);
	return g;
}

static void test_open(void **state)
{
	_cleanup_(gpu_closep) struct gpu *g = NULL;
	char buf[16];

	(void)state;
	setenv("FAKE_CUDA_VERSION", "13010", 1);
	g = open_fake();
	assert_int_equal(gpu_driver_version(g), 13010);
	assert_string_equal(gpu_version_string(13010, buf, sizeof(buf)), "13.1");
	assert_string_equal(gpu_version_string(12080, buf, sizeof(buf)), "12.8");
}

static void test_no_library(void **state)
{
	_cleanup_(gpu_closep) struct gpu *g = NULL;

	(void)state;
	setenv("BRISK_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
	assert_int_equal(gpu_open(&g), -ENOENT);
	assert_non_null(strstr(gpu_error(g), "/nonexistent/libcuda.so.1"));
}

static void test_no_api(void **state)
{
	_cleanup_(gpu_closep) struct gpu *g = NULL;

	(void)state;
	setenv("BRISK_LIBCUDA", getenv("FAKE_LIBCUDA_OLD"), 1);
	setenv("FAKE_CUDA_VERSION", "12040", 1);
	assert_int_equal(gpu_open(&g), -ENOSYS);
	assert_int_equal(gpu_driver_version(g), 12040);
	assert_non_null(strstr(gpu_error(g), "cuCheckpointProcess"));
}

static void test_find(void **state)
{
	_cleanup_(gpu_closep) struct gpu *g = open_fake();
	_cleanup_free_ pid_t *found = NULL;
	pid_t gone = 0x3ffffff0;
	pid_t all[] = {kids[2], kids[0], gone, kids[1]};
	size_t n = 0;

	(void)state;
	assert_int_equal(gpu_find(g, all, 4, &found, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(found[0], kids[0]);
	assert_int_equal(found[1], kids[1]);
	assert_calls(""); /* state queries change nothing */
	assert_false(gpu_pid_uses_driver(kids[0]));
}

/* A process that maps the driver library (a copy of the fake named libcuda.so.1). */
static void test_uses_driver(void **state)
{
	_cleanup_free_ char *lib = NULL, *data = NULL;
	size_t len;

	(void)state;
	assert_false(gpu_pid_uses_driver(getpid()));
	assert_int_equal(read_file_at(AT_FDCWD, getenv("FAKE_LIBCUDA"), 1 << 24, &data, &len), 0);
	assert_true(asprintf(&lib, "%s/libcuda.so.1", tmpdir) > 0);
	assert_int_equal(write_file_atomic_at(AT_FDCWD, lib, data, len, 0755, false), 0);
	assert_non_null(dlopen(lib, RTLD_NOW | RTLD_LOCAL));
	assert_true(gpu_pid_uses_driver(getpid()));
	assert_false(gpu_pid_uses_driver(kids[0]));
}

static void test_checkpoint_resume(void **state)
{
	_cleanup_(gpu_closep) struct gpu *g = open_fake();

	(void)state;
	assert_int_equal(gpu_checkpoint(g, kids, 2, 500), 0);
	assert_calls("lock a timeout=500\nlock b timeout=500\ncheckpoint a\ncheckpoint b\n");
	assert_state(g, kids[0], GPU_STATE_CHECKPOINTED);
	assert_state(g, kids[1], GPU_STATE_CHECKPOINTED);
	(void)unlink(logpath);
	assert_int_equal(gpu_resume(g, kids, 2), 0);
	/* the restore initialises the driver in the caller first */
	assert_calls("init\nrestore b\nrestore a\nunlock b\nunlock a\n");
	assert_state(g, kids[0], GPU_STATE_RUNNING);
	assert_state(g, kids[1], GPU_STATE_RUNNING);
	/* running processes need nothing */
	(void)unlink(logpath);
	assert_int_equal(gpu_resume(g, kids, 2), 0);
	assert_calls("");
}

struct failure {
	const char *fail;
	const char *calls;
	const char *call; /* the failing call, on WHO */
};

/* A failure at every step: the processes end up running, the first error is reported. */
static void test_rollback(void **state)
{
	static const struct failure cases[] = {
	    {"lock:a", "lock a timeout=0\n", "cuCheckpointProcessLock"},
	    {"lock:b", "lock a timeout=0\nlock b timeout=0\nunlock a\n", "cuCheckpointProcessLock"},
	    {"checkpoint:a",
	     "lock a timeout=0\nlock b timeout=0\ncheckpoint a\nunlock b\nunlock a\n",
	     "cuCheckpointProcessCheckpoint"},
	    {"checkpoint:b",
	     "lock a timeout=0\nlock b timeout=0\ncheckpoint a\ncheckpoint b\ninit\nrestore "
	     "a\nunlock b\nunlock a\n",
	     "cuCheckpointProcessCheckpoint"},
	};
	const pid_t who[] = {kids[0], kids[1], kids[0], kids[1]};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[160];

		reset(NULL);
		setenv("FAKE_CUDA_FAIL", cases[i].fail, 1);
		_cleanup_(gpu_closep) struct gpu *g = open_fake();
		print_message("# failing %s\n", cases[i].fail);
		assert_int_equal(gpu_checkpoint(g, kids, 2, 0), -EIO);
		assert_calls(cases[i].calls);
		snprintf(want, sizeof(want), "%s(%d): CUDA_ERROR_UNKNOWN (999)", cases[i].call,
			 (int)who[i]);
		assert_string_equal(gpu_error(g), want);
		assert_state(g, kids[0], GPU_STATE_RUNNING);
		assert_state(g, kids[1], GPU_STATE_RUNNING);
	}
}

static void test_lock_timeout(void **state)
{
	_cleanup_(gpu_closep) struct gpu *g = NULL;
	char want[128];

	(void)state;
	setenv("FAKE_CUDA_HANG", "b", 1);
	g = open_fake();
	assert_int_equal(gpu_checkpoint(g, kids, 2, 200), -ETIMEDOUT);
	assert_calls("lock a timeout=200\nlock b timeout=200\nunlock a\n");
	snprintf(want, sizeof(want), "cuCheckpointProcessLock(%d): CUDA_ERROR_TIMEOUT (909)",
		 (int)kids[1]);
	assert_string_equal(gpu_error(g), want);
	assert_state(g, kids[0], GPU_STATE_RUNNING);
	assert_state(g, kids[1], GPU_STATE_RUNNING);
}

/* Failures while bringing processes back: go on with the others, report the first. */
static void test_resume_failure(void **state)
{
	_cleanup_(gpu_closep) struct gpu *g = NULL;
	char want[128];

	(void)state;
	setenv("FAKE_CUDA_FAIL", "restore:b", 1);
	g = open_fake();
	assert_int_equal(gpu_checkpoint(g, kids, 2, 0), 0);
	(void)unlink(logpath);
	assert_int_equal(gpu_resume(g, kids, 2), -EIO);
	assert_calls("init\nrestore b\nrestore a\nunlock a\n");
	snprintf(want, sizeof(want), "cuCheckpointProcessRestore(%d): CUDA_ERROR_UNKNOWN (999)",
		 (int)kids[1]);
	assert_string_equal(gpu_error(g), want);
	assert_state(g, kids[0], GPU_STATE_RUNNING);
	assert_state(g, kids[1], GPU_STATE_CHECKPOINTED);
}

/* A stopped restore thread would hang the restore: refused, nothing called. */
static void test_restore_thread_stopped(void **state)
{
	_cleanup_(gpu_closep) struct gpu *g = open_fake();
	int status;

	(void)state;
	assert_int_equal(gpu_checkpoint(g, kids, 1, 0), 0);
	(void)unlink(logpath);
	assert_int_equal(kill(kids[0], SIGSTOP), 0);
	assert_int_equal(waitpid(kids[0], &status, WUNTRACED), kids[0]);
	assert_int_equal(gpu_resume(g, kids, 1), -EDEADLK);
	assert_non_null(strstr(gpu_error(g), "restore thread"));
	assert_calls("");
	assert_int_equal(kill(kids[0], SIGCONT), 0);
	assert_int_equal(gpu_resume(g, kids, 1), 0);
	assert_calls("init\nrestore a\nunlock a\n");
}

static int dump_result;
static int fake_dump(void *userdata)
{
	FILE *f = fopen(logpath, "ae");

	(void)userdata;
	if (f) {
		fputs("dump\n", f);
		fclose(f);
	}
	return dump_result;
}

/* The whole checkpoint with a fake CRIU step. */
static void test_around(void **state)
{
	static const struct {
		int dump;
		bool leave_running;
		const char *fail;
		int result;
		enum gpu_step failed;
		const char *calls;
	} cases[] = {
	    {0, false, NULL, 0, GPU_STEP_NONE,
	     "lock a timeout=9\nlock b timeout=9\ncheckpoint a\ncheckpoint b\ndump\n"},
	    {0, true, NULL, 0, GPU_STEP_NONE,
	     "lock a timeout=9\nlock b timeout=9\ncheckpoint a\ncheckpoint b\ndump\ninit\nrestore "
	     "b\nrestore a\nunlock b\nunlock a\n"},
	    {-EIO, false, NULL, -EIO, GPU_STEP_DUMP,
	     "lock a timeout=9\nlock b timeout=9\ncheckpoint a\ncheckpoint b\ndump\ninit\nrestore "
	     "b\nrestore a\nunlock b\nunlock a\n"},
	    /* a GPU failure: no dump */
	    {0, false, "checkpoint:b", -EIO, GPU_STEP_CHECKPOINT,
	     "lock a timeout=9\nlock b timeout=9\ncheckpoint a\ncheckpoint b\ninit\nrestore "
	     "a\nunlock b\nunlock a\n"},
	    /* the dump is good, bringing one process back is not */
	    {0, true, "unlock:a", -EIO, GPU_STEP_RESUME,
	     "lock a timeout=9\nlock b timeout=9\ncheckpoint a\ncheckpoint b\ndump\ninit\nrestore "
	     "b\nrestore a\nunlock b\nunlock a\n"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum gpu_step failed = GPU_STEP_NONE;

		reset(NULL);
		if (cases[i].fail)
			setenv("FAKE_CUDA_FAIL", cases[i].fail, 1);
		_cleanup_(gpu_closep) struct gpu *g = open_fake();
		dump_result = cases[i].dump;
		assert_int_equal(gpu_checkpoint_around(g, kids, 2, 9, cases[i].leave_running,
						       fake_dump, NULL, &failed),
				 cases[i].result);
		assert_int_equal(failed, cases[i].failed);
		assert_calls(cases[i].calls);
	}
}

int main(void)
{
	if (!getenv("FAKE_LIBCUDA") || !getenv("FAKE_LIBCUDA_OLD") ||
	    !getenv("BRISK_CUDA_HELPER")) {
		fprintf(stderr, "needs FAKE_LIBCUDA, FAKE_LIBCUDA_OLD and BRISK_CUDA_HELPER\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_open, reset),
	    cmocka_unit_test_setup(test_no_library, reset),
	    cmocka_unit_test_setup(test_no_api, reset),
	    cmocka_unit_test_setup(test_find, reset),
	    cmocka_unit_test_setup(test_uses_driver, reset),
	    cmocka_unit_test_setup(test_checkpoint_resume, reset),
	    cmocka_unit_test_setup(test_rollback, reset),
	    cmocka_unit_test_setup(test_lock_timeout, reset),
	    cmocka_unit_test_setup(test_resume_failure, reset),
	    cmocka_unit_test_setup(test_restore_thread_stopped, reset),
	    cmocka_unit_test_setup(test_around, reset),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
