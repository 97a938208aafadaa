/* SPDX-License-Identifier: Apache-2.0 */
/* Results of a benchmark as files: NAME.json (raw), NAME.dat and NAME.png (gnuplot). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "bench.h"

/* Distinct values of KEY in the array, in first-seen order. */
static size_t distinct(struct json_object *a, const char *key, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		const char *v;
		if (json_get_string(json_object_array_get_idx(a, i), key, &v) < 0)
			continue;
		size_t k;
		for (k = 0; k < n && strcmp(out[k], v) != 0; k++)
			;
		if (k == n && n < max)
			out[n++] = v;
	}
	return n;
}

static double lookup(struct json_object *a, const char *scenario, const char *system)
{
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		const char *sc, *sy;
		struct json_object *v;
		if (json_get_string(e, "scenario", &sc) == 0 &&
		    json_get_string(e, "system", &sy) == 0 && strcmp(sc, scenario) == 0 &&
		    strcmp(sy, system) == 0 && json_object_object_get_ex(e, "wall_ms_median", &v))
			return json_object_get_double(v);
	}
	return -1;
}

static bool wanted(struct json_object *e, const char *bench, unsigned flags)
{
	const char *b;
	struct json_object *v;

	if (bench && (json_get_string(e, "bench", &b) < 0 || strcmp(b, bench) != 0))
		return false;
	if ((flags & BENCH_CHART_READY) &&
	    (!json_object_object_get_ex(e, "ready", &v) || !json_object_get_boolean(v)))
		return false;
	return true;
}

/* gnuplot's data file: one row per system, one column per scenario ("-" where a system has no
 * figure); flat: one row per (scenario, system) and one column. */
static int write_dat(struct json_object *sel, bool flat, char **ret_text, size_t *ret_len,
		     size_t *ret_columns)
{
	const char *scenarios[32], *systems[32];
	size_t nsc = distinct(sel, "scenario", scenarios, 32);
	size_t nsy = distinct(sel, "system", systems, 32);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return -ENOMEM;
	if (flat) {
		fprintf(f, "what \"median\"\n");
		for (size_t i = 0; i < json_object_array_length(sel); i++) {
			struct json_object *e = json_object_array_get_idx(sel, i), *v;
			const char *sc = "", *sy = "";
			json_get_string(e, "scenario", &sc);
			json_get_string(e, "system", &sy);
			if (json_object_object_get_ex(e, "wall_ms_median", &v))
				fprintf(f, "\"%s: %s\" %.2f\n", sc, sy, json_object_get_double(v));
		}
		*ret_columns = 1;
	} else {
		fprintf(f, "system");
		for (size_t k = 0; k < nsc; k++)
			fprintf(f, " \"%s\"", scenarios[k]);
		fprintf(f, "\n");
		for (size_t i = 0; i < nsy; i++) {
			fprintf(f, "\"%s\"", systems[i]);
			for (size_t k = 0; k < nsc; k++) {
				double v = lookup(sel, scenarios[k], systems[i]);
				if (v < 0)
					fprintf(f, " -");
				else
					fprintf(f, " %.2f", v);
			}
			fprintf(f, "\n");
		}
		*ret_columns = nsc;
	}
	fclose(f);
	*ret_text = text;
	*ret_len = len;
	return 0;
}

int bench_report(const char *dir, const char *name, const char *title, const char *bench,
		 struct json_object *results, unsigned flags)
{
	_cleanup_free_ char *json = NULL, *dat = NULL, *png = NULL, *text = NULL;
	_cleanup_json_ struct json_object *all = json_object_new_array();
	_cleanup_json_ struct json_object *sel = json_object_new_array();
	size_t len = 0, ncol;
	int r;

	if (!all || !sel)
		return -ENOMEM;
	for (size_t i = 0; i < json_object_array_length(results); i++) {
		struct json_object *e = json_object_array_get_idx(results, i);
		if (wanted(e, bench, 0))
			json_object_array_add(all, json_object_get(e));
		if (wanted(e, bench, flags))
			json_object_array_add(sel, json_object_get(e));
	}
	if ((r = mkdir_p_at(AT_FDCWD, dir, 0755)) < 0)
		return log_error_errno(r, "create '%s': %m", dir);
	if (asprintf(&json, "%s/%s.json", dir, name) < 0 ||
	    asprintf(&dat, "%s/%s.dat", dir, name) < 0 ||
	    asprintf(&png, "%s/%s.png", dir, name) < 0)
		return -ENOMEM;
	const char *s = json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY);
	if ((r = write_file_atomic_at(AT_FDCWD, json, s, strlen(s), 0644, false)) < 0)
		return log_error_errno(r, "write '%s': %m", json);
	if ((r = write_dat(sel, flags & BENCH_CHART_FLAT, &text, &len, &ncol)) < 0)
		return r;
	if ((r = write_file_atomic_at(AT_FDCWD, dat, text, len, 0644, false)) < 0)
		return log_error_errno(r, "write '%s': %m", dat);
	if (json_object_array_length(sel) == 0)
		return 0;

	if (access("/usr/bin/gnuplot", X_OK) < 0) {
		log_warning("gnuplot is not installed: no chart");
		return 0;
	}
	_cleanup_free_ char *script = NULL;
	bool flat = flags & BENCH_CHART_FLAT;
	if (asprintf(&script,
		     "set terminal png size %d,%d\nset output '%s'\nset title '%s'\n"
		     "set style data histograms\nset style histogram clustered gap 1\n"
		     "set style fill solid 0.8 border -1\nset ylabel 'median wall time (ms%s)'\n"
		     "set datafile missing '-'\nset key top left\nset grid ytics\n"
		     "set xtics rotate by -40 left font ',%d'\nset bmargin %d\nset rmargin 12\n%s%s"
		     "plot for [c=2:%zu] '%s' using c:xtic(1) title columnheader(c)\n",
		     flat ? 1600 : 1000, flat ? 900 : 600, png, title,
		     flags & BENCH_CHART_LOG ? ", log scale" : "", flat ? 9 : 10, flat ? 22 : 12,
		     flags & BENCH_CHART_LOG ? "set logscale y\nset yrange [1:*]\n" : "",
		     flat ? "set key off\n" : "", ncol + 1, dat) < 0)
		return -ENOMEM;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[0], STDIN_FILENO);
		execl("/usr/bin/gnuplot", "gnuplot", NULL);
		_exit(127);
	}
	close(pfd[0]);
	(void)write_all(pfd[1], script, strlen(script));
	close(pfd[1]);
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return log_error_errno(-EIO, "gnuplot failed to draw '%s'", png);
	return 0;
}
