// SPDX-License-Identifier: GPL-2.0-or-later
#include "json.h"

#include <stdio.h>
#include <string.h>

void json_begin(Buf *b)
{
	buf_printf(b, "{\"version\": %d", JSON_VERSION);
}

void json_key_string(Buf *b, const char *key, const char *value)
{
	buf_puts(b, ", ");
	buf_put_json_string(b, key);
	buf_puts(b, ": ");
	if (value)
		buf_put_json_string(b, value);
	else
		buf_puts(b, "null");
}

static void json_diag(Buf *b, const char *msg, const char *file)
{
	size_t fl = file ? strlen(file) : 0;
	const char *p = msg;
	unsigned long line = 0;

	if (fl && strncmp(msg, file, fl) == 0 && msg[fl] == ':') {
		char *end;
		p = msg + fl + 1;
		line = strtoul(p, &end, 10);
		if (end != p && end[0] == ':') {
			p = end + 1;
			while (*p == ' ')
				p++;
		} else {
			line = 0;
			p = msg + fl + 1;
			while (*p == ' ')
				p++;
		}
	}
	if (line)
		buf_printf(b, "{\"line\": %lu, \"message\": ", line);
	else
		buf_puts(b, "{\"line\": null, \"message\": ");
	buf_put_json_string(b, p);
	buf_putc(b, '}');
}

void json_diags(Buf *b, const Diags *d, const char *file)
{
	for (int warnings = 0; warnings < 2; warnings++) {
		bool first = true;

		buf_puts(b, warnings ? ", \"warnings\": [" : ", \"errors\": [");
		for (size_t i = 0; i < d->n; i++) {
			if (d->v[i].warning != (bool) warnings)
				continue;
			if (!first)
				buf_puts(b, ", ");
			first = false;
			json_diag(b, d->v[i].msg, file);
		}
		buf_putc(b, ']');
	}
}

static bool failure_reported;

void json_failure_reported(void)
{
	failure_reported = true;
}

bool json_failure_was_reported(void)
{
	return failure_reported;
}

void json_print_error(const char *cmd, int status, const char *message)
{
	Buf b = { 0 };

	json_begin(&b);
	buf_puts(&b, ", \"ok\": false");
	json_key_string(&b, "command", cmd);
	buf_printf(&b, ", \"exit_status\": %d", status);
	json_key_string(&b, "error", message ? message : "failed");
	buf_putc(&b, '}');
	puts(b.data);
	fflush(stdout);
	buf_done(&b);
}
