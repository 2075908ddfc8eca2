/* natt — the command. Parses the command line (args.c) and runs one command. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "util/log.h"
#include "util/parse.h"

void natt_cli_error(const struct natt_cli_cmd *cmd, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fflush(stdout); /* keep the order of what was printed before */
	fprintf(stderr, "natt: %s: %s\n", natt_cli_command_name(cmd->command), text);
}

void natt_cli_put_text(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		putc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
}

struct sigaction natt_cli_sigpipe_at_start;

int main(int argc, char **argv)
{
	char err[640];
	struct natt_cli_cmd cmd;

	sigaction(SIGPIPE, NULL, &natt_cli_sigpipe_at_start); /* for a command natt watch starts */
	/* A reader that went away (natt list | head) ends us quietly, as it does any filter. */
	signal(SIGPIPE, SIG_DFL);
	/* NATT_LOG=debug shows the library's diagnostics (SSDP answers, the IGD found, ...). */
	const char *level = getenv("NATT_LOG");
	if (level && level[0]) {
		int parsed = natt_parse_log_level(level);
		if (parsed >= 0)
			natt_log_set_level(parsed);
		else
			fprintf(stderr, "natt: ignoring NATT_LOG=\"%s\": expected error, warn, info or debug\n", level);
	}

	if (natt_cli_parse(argc, argv, &cmd, err, sizeof(err)) < 0) {
		fprintf(stderr, "natt: %s\n", err);
		return NATT_EXIT_USAGE;
	}

	int status;
	switch (cmd.command) {
	case NATT_CLI_HELP:
		natt_cli_print_help(cmd.topic);
		status = NATT_EXIT_OK;
		break;
	case NATT_CLI_VERSION:
		printf("natt %s\n", natt_version());
		status = NATT_EXIT_OK;
		break;
	case NATT_CLI_EXTERNAL_IP: status = natt_cli_external_ip(&cmd); break;
	case NATT_CLI_MAP: status = natt_cli_map(&cmd); break;
	case NATT_CLI_UNMAP: status = natt_cli_unmap(&cmd); break;
	case NATT_CLI_UNMAP_ALL: status = natt_cli_unmap_all(&cmd); break;
	case NATT_CLI_LIST: status = natt_cli_list(&cmd); break;
	case NATT_CLI_DISCOVER: status = natt_cli_discover(&cmd); break;
	case NATT_CLI_CALL: status = natt_cli_call(&cmd); break;
	case NATT_CLI_STATUS: status = natt_cli_status(&cmd); break;
	case NATT_CLI_WAIT: status = natt_cli_wait(&cmd); break;
	case NATT_CLI_GATEWAY: status = natt_cli_gateway(&cmd); break;
	case NATT_CLI_INTERFACES: status = natt_cli_interfaces(&cmd); break;
	case NATT_CLI_WATCH: status = natt_cli_watch(&cmd); break;
	default: status = NATT_EXIT_USAGE; break;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("natt: writing the output");
		return NATT_EXIT_FAILED;
	}
	return status;
}
