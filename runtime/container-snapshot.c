/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "container-snapshot.h"

void ext_mounts_done(struct ext_mounts *m)
{
	free(m->pairs);
	strv_free(m->keys);
	m->pairs = NULL;
	m->keys = NULL;
	m->n = 0;
}

int ext_mounts_from_spec(const struct spec *s, bool restore, struct ext_mounts *ret)
{
	struct ext_mounts m = {0};

	m.pairs = calloc(s->n_mounts + 1, sizeof(*m.pairs));
	m.keys = calloc(s->n_mounts + 1, sizeof(char *));
	if (!m.pairs || !m.keys) {
		ext_mounts_done(&m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *sm = &s->mounts[i];

		if (!(sm->kind & MOUNT_BIND) || !sm->source)
			continue;
		m.keys[m.n] = strdup(sm->destination);
		if (!m.keys[m.n]) {
			ext_mounts_done(&m);
			return -ENOMEM;
		}
		m.pairs[m.n].key = sm->destination;
		m.pairs[m.n].value = restore ? sm->source : sm->destination;
		m.n++;
	}
	*ret = m;
	return 0;
}
