/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The operator commands of ternctl: `devices`, `device`, `twin get|set`
 * (`twin set --all`: the whole fleet), `telemetry`, `trust` and `fleet`, an HTTP client (libcurl)
 * of ternd's JSON API (docs/api.md), with jansson for the JSON. The API is found from ternd's state
 * directory (api.url and token) or from --api and --token-file; the token is sent as a bearer token
 * and never printed.
 */
#ifndef TERNCTL_API_CLIENT_H
#define TERNCTL_API_CLIENT_H

#include <stdbool.h>
#include <stdio.h>

/** True if @p name is one of the commands ternctl_api_main() runs. */
bool ternctl_api_is_command(const char *name);

/**
 * Run the command in argv[0] ("devices", "device", "twin", "telemetry", "trust", "fleet") with
 * its arguments. Returns the exit code: 0 done, 1 the request failed (said on
 * stderr), 2 a usage error.
 */
int ternctl_api_main(int argc, char **argv);

/** The usage text of the commands, for ternctl's own usage(). */
void ternctl_api_usage(FILE *f);

#endif /* TERNCTL_API_CLIENT_H */
