/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file conf.h
 * @brief `ternd --gen-broker-conf DIR`: a mosquitto configuration that
 * enforces the wire contract's access rules (tern/wire.h): every device may
 * only publish its own device-to-fleet topics and read its own fleet-to-device
 * ones, and ternd's user reads and writes them all.
 *
 * It writes DIR/mosquitto.conf, DIR/acl, DIR/passwd (hashed by
 * `mosquitto_passwd`, run as a subprocess) and DIR/ternd.pass (ternd's
 * generated password, mode 0600), and prints how to start mosquitto and
 * ternd with them.
 */
#ifndef TERND_CONF_H
#define TERND_CONF_H

#include <stdint.h>

/** What to generate. NULL / 0 members take the defaults. */
typedef struct ternd_conf_opts {
    const char *dir;                 /* created (0700) if missing */
    uint16_t port;                   /* the plain listener on 127.0.0.1 (default 1883) */
    const char *dev_users;           /* a file of "id:password" lines, or NULL */
    const char *cafile, *cert, *key; /* all three: a TLS listener requiring client certificates */
    uint16_t tls_port;               /* its port (default 8883), on every interface */
    const char *ternd_path;          /* how to call ternd in the printed command (argv[0]) */
} ternd_conf_opts_t;

/** Generate the files (see the file comment). Returns the process exit code (0 ok). */
int ternd_conf_generate(const ternd_conf_opts_t *o);

#endif /* TERND_CONF_H */
