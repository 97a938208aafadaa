/* SPDX-License-Identifier: Apache-2.0 */
/* runc's flag forms: --flag value, --flag=value, -flag value, -d, booleans =true/=false. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "cli.h"

enum { O_ROOT, O_DETACH, O_PID };

static const struct cli_option opts[] = {
    {"root", 0, true, O_ROOT, "DIR state"},
    {"detach", 'd', false, O_DETACH, "detach"},
    {"pid-file", 0, true, O_PID, "FILE pid"},
    CLI_HELP_OPTION,
    {0},
};

struct seen {
	const char *root, *pid;
	int detach; /* -1 unset, 0 false, 1 true */
	bool help;
};

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct seen *s = userdata;

	switch (p->id) {
	case O_ROOT:
		s->root = p->value;
		break;
	case O_PID:
		if (strcmp(p->value, "stop") == 0)
			return -ECANCELED;
		s->pid = p->value;
		break;
	case O_DETACH:
		s->detach = cli_bool(p);
		break;
	case CLI_HELP:
		s->help = true;
		break;
	}
	return 0;
}

static int parse(struct seen *s, int argc, char **argv)
{
	*s = (struct seen){.detach = -1};
	return cli_parse("test", argc, argv, opts, handle, s);
}

static void test_forms(void **state)
{
	(void)state;
	struct seen s;
	char *a1[] = {"--root", "/r", "-d", "--pid-file=/p", "id", "--root", "x"};
	char *a2[] = {"-root", "/r2", "-detach=false", "id"};
	char *a3[] = {"--detach=true", "--", "--root"};
	char *a4[] = {"-h"};

	assert_int_equal(parse(&s, 7, a1), 4);
	assert_string_equal(s.root, "/r");
	assert_string_equal(s.pid, "/p");
	assert_int_equal(s.detach, 1);
	/* one dash, as containerd passes -no-subreaper */
	assert_int_equal(parse(&s, 4, a2), 3);
	assert_string_equal(s.root, "/r2");
	assert_int_equal(s.detach, 0);
	/* options end at "--" */
	assert_int_equal(parse(&s, 3, a3), 2);
	assert_int_equal(s.detach, 1);
	assert_null(s.root);
	assert_int_equal(parse(&s, 1, a4), 1);
	assert_true(s.help);
}

static void test_errors(void **state)
{
	(void)state;
	static char errbuf[256];
	struct seen s;
	char *unknown[] = {"--nope", "id"};
	char *missing[] = {"--root"};
	char *badbool[] = {"--detach=maybe"};
	char *stop[] = {"--pid-file", "stop", "id"};

	log_set_capture(errbuf, sizeof(errbuf));
	assert_true(parse(&s, 2, unknown) < 0);
	assert_non_null(strstr(errbuf, "nope"));
	errbuf[0] = '\0';
	assert_true(parse(&s, 1, missing) < 0);
	assert_non_null(strstr(errbuf, "root"));
	assert_true(parse(&s, 1, badbool) < 0);
	/* the handler's error stops parsing */
	assert_int_equal(parse(&s, 3, stop), -ECANCELED);
	log_set_capture(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
