/* SPDX-License-Identifier: Apache-2.0 */
/* `ternd --gen-broker-conf DIR`: mosquitto's configuration, ACL and password file for a fleet. */
#define _GNU_SOURCE /* getrandom */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tern/wire.h"

extern char **environ;

#define TERND_USER "ternd"

typedef struct {
    char *id, *pass;
} dev_user_t;

static int conf_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int conf_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ternd: --gen-broker-conf: %s\n", msg);
    return 1;
}

/* A path mosquitto.conf can hold: its parser splits on whitespace. */
static bool path_ok(const char *p)
{
    return p[strcspn(p, " \t\r\n")] == '\0';
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p != NULL) {
        snprintf(p, n, "%s/%s", dir, name);
    }
    return p;
}

/* Write @p text to @p path with @p mode (also if the file existed with another one). */
static bool write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        return false;
    }
    size_t len = strlen(text), off = 0;
    bool ok = fchmod(fd, mode) == 0;
    while (ok && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ok = n > 0;
        off += ok ? (size_t)n : 0;
    }
    ok = ok && fsync(fd) == 0;
    return close(fd) == 0 && ok;
}

/* 48 hex digits from the kernel's random source. */
static bool gen_password(char out[49])
{
    unsigned char r[24];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof r; i++) {
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    }
    return true;
}

/* `mosquitto_passwd -b FILE USER PASSWORD`. */
static bool passwd_add(const char *file, const char *user, const char *pass)
{
    char *argv[] = { "mosquitto_passwd", "-b", (char *)file, (char *)user, (char *)pass, NULL };
    pid_t pid;
    int st = 0, rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "ternd: --gen-broker-conf: cannot run mosquitto_passwd: %s\n",
                strerror(rc));
        return false;
    }
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            return false;
        }
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "ternd: --gen-broker-conf: mosquitto_passwd failed for user %s\n", user);
        return false;
    }
    return true;
}

/* The "id:password" lines of @p path (blank lines and # comments skipped). */
static int read_users(const char *path, dev_user_t **out, size_t *count)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return conf_fail("%s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0, n = 0, lineno = 0;
    dev_user_t *u = NULL;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (len == 0 || line[0] == '#') {
            continue;
        }
        char *colon = strchr(line, ':');
        if (colon == NULL || colon[1] == '\0') {
            rc = conf_fail("%s:%zu: expected id:password", path, lineno);
            break;
        }
        *colon = '\0';
        if (!tern_wire_id_ok(line, strlen(line)) || strcmp(line, TERND_USER) == 0) {
            rc = conf_fail("%s:%zu: not a device id (1-64 of A-Z a-z 0-9 _ . -, not \"ternd\")",
                           path, lineno);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (strcmp(u[i].id, line) == 0) {
                rc = conf_fail("%s:%zu: the device id is there twice", path, lineno);
            }
        }
        dev_user_t *bigger = rc == 0 ? realloc(u, (n + 1) * sizeof *u) : NULL;
        if (bigger == NULL) {
            rc = rc ? rc : conf_fail("%s: out of memory", path);
            break;
        }
        u = bigger;
        u[n].id = strdup(line);
        u[n].pass = strdup(colon + 1);
        n++;
        if (u[n - 1].id == NULL || u[n - 1].pass == NULL) {
            rc = conf_fail("%s: out of memory", path);
        }
    }
    free(line);
    fclose(f);
    *out = u;
    *count = n;
    return rc;
}

static const char k_acl[] =
    "# Access rules of a tern fleet (tern/wire.h), generated by `ternd --gen-broker-conf`.\n"
    "# Every device topic is tern/<device id>/<kind>.\n"
    "\n"
    "# ternd, the fleet service: its shared subscriptions ($share/ternd/tern/+/<kind>) and\n"
    "# every device topic (it reads what devices send, it writes twin deltas and commands).\n"
    "user " TERND_USER "\n"
    "topic readwrite $share/" TERN_WIRE_SHARE_GROUP "/tern/#\n"
    "topic readwrite tern/#\n"
    "\n"
    "# Devices: the user name is the device id (from the password file, or the client\n"
    "# certificate's CN on the TLS listener). A device publishes its own device-to-fleet\n"
    "# topics (the presence will included) and reads its own fleet-to-device ones, nothing\n"
    "# else. (Pattern lines apply to every user.)\n"
    "pattern write tern/%u/telemetry\n"
    "pattern write tern/%u/presence\n"
    "pattern write tern/%u/twin/reported\n"
    "pattern write tern/%u/cmd/resp\n"
    "pattern read tern/%u/twin/desired\n"
    "pattern read tern/%u/cmd\n"
    "# Certificates (rotation) and trust stores: a device asks for its certificate and reads\n"
    "# the answer (retained), reads its trust store updates (retained), and reports to the\n"
    "# quarantine endpoint why an update failed.\n"
    "pattern write tern/%u/cert/csr\n"
    "pattern read tern/%u/cert/new\n"
    "pattern read tern/%u/trust/new\n"
    "pattern write tern/%u/quarantine\n";

int ternd_conf_generate(const ternd_conf_opts_t *o)
{
    uint16_t port = o->port ? o->port : 1883, tls_port = o->tls_port ? o->tls_port : 8883;
    bool tls = o->cafile || o->cert || o->key;
    char dir[PATH_MAX], ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], pw[49];
    dev_user_t *users = NULL;
    size_t n_users = 0;
    char *conf_path = NULL, *acl_path = NULL, *passwd_path = NULL, *pass_path = NULL;
    char *conf = NULL;
    int rc = 1;

    if (tls && !(o->cafile && o->cert && o->key)) {
        return conf_fail("--broker-cafile, --broker-cert and --broker-key go together");
    }
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST) {
        return conf_fail("%s: %s", o->dir, strerror(errno));
    }
    if (realpath(o->dir, dir) == NULL) {
        return conf_fail("%s: %s", o->dir, strerror(errno));
    }
    if (tls && (realpath(o->cafile, ca) == NULL || realpath(o->cert, cert) == NULL ||
                realpath(o->key, key) == NULL)) {
        return conf_fail("a TLS file: %s", strerror(errno));
    }
    if (!path_ok(dir) || (tls && (!path_ok(ca) || !path_ok(cert) || !path_ok(key)))) {
        return conf_fail("%s: mosquitto.conf cannot hold a path with whitespace", dir);
    }
    if (o->dev_users && read_users(o->dev_users, &users, &n_users) != 0) {
        goto out;
    }
    conf_path = join(dir, "mosquitto.conf");
    acl_path = join(dir, "acl");
    passwd_path = join(dir, "passwd");
    pass_path = join(dir, "ternd.pass");
    if (!conf_path || !acl_path || !passwd_path || !pass_path) {
        conf_fail("out of memory");
        goto out;
    }

    /* the password file: ternd first, then the devices, hashed by mosquitto_passwd */
    if (!gen_password(pw)) {
        conf_fail("no random numbers: %s", strerror(errno));
        goto out;
    }
    char pw_line[64];
    snprintf(pw_line, sizeof pw_line, "%s\n", pw);
    if (!write_file(pass_path, pw_line, 0600) || !write_file(passwd_path, "", 0600)) {
        conf_fail("%s: %s", dir, strerror(errno));
        goto out;
    }
    if (!passwd_add(passwd_path, TERND_USER, pw)) {
        goto out;
    }
    for (size_t i = 0; i < n_users; i++) {
        if (!passwd_add(passwd_path, users[i].id, users[i].pass)) {
            goto out;
        }
    }
    if (chmod(passwd_path, 0600) != 0) {
        conf_fail("%s: %s", passwd_path, strerror(errno));
        goto out;
    }
    if (!write_file(acl_path, k_acl, 0600)) {
        conf_fail("%s: %s", acl_path, strerror(errno));
        goto out;
    }

    /* the broker's configuration */
    struct passwd *me = getpwuid(getuid());
    size_t cap = 4096 + 8 * PATH_MAX;
    if ((conf = malloc(cap)) == NULL) {
        conf_fail("out of memory");
        goto out;
    }
    int len = snprintf(
        conf, cap,
        "# mosquitto configuration of a tern fleet, generated by `ternd --gen-broker-conf`.\n"
        "# Start it with: mosquitto -c %s\n"
        "\n"
        "# The files in %s are readable by their owner only: the broker runs as that user.\n"
        "user %s\n"
        "per_listener_settings false\n"
        "\n"
        "# Who may connect, and to which topics (tern/wire.h): nobody anonymous.\n"
        "allow_anonymous false\n"
        "password_file %s\n"
        "acl_file %s\n"
        "\n"
        "# ternd connects with a persistent session (clean start off, session expiry 1 h):\n"
        "# QoS 1 messages for it wait here while it restarts, also across a broker restart.\n"
        "persistence true\n"
        "persistence_location %s/\n"
        "autosave_interval 60\n"
        "max_queued_messages 1000000\n"
        "\n"
        "# Plain MQTT on loopback: ternd, and devices on this host with a password.\n"
        "listener %u 127.0.0.1\n",
        conf_path, dir, me ? me->pw_name : "mosquitto", passwd_path, acl_path, dir, (unsigned)port);
    if (tls && len > 0 && (size_t)len < cap) {
        len += snprintf(conf + len, cap - (size_t)len,
                        "\n"
                        "# TLS for devices: a client certificate signed by the CA is required,\n"
                        "# and its Common Name is the user name (the device id) the ACL uses.\n"
                        "listener %u\n"
                        "cafile %s\n"
                        "certfile %s\n"
                        "keyfile %s\n"
                        "require_certificate true\n"
                        "use_identity_as_username true\n"
                        "tls_version tlsv1.2\n",
                        (unsigned)tls_port, ca, cert, key);
    }
    if (len < 0 || (size_t)len >= cap || !write_file(conf_path, conf, 0600)) {
        conf_fail("%s: %s", conf_path, strerror(errno));
        goto out;
    }

    printf("ternd: broker configuration written to %s: mosquitto.conf, acl, passwd (%s and %zu "
           "device%s), ternd.pass\n",
           dir, TERND_USER, n_users, n_users == 1 ? "" : "s");
    printf("start the broker: mosquitto -c %s\n", conf_path);
    printf("start ternd:      %s --broker 127.0.0.1 --port %u --username %s --password-file %s\n",
           o->ternd_path ? o->ternd_path : "ternd", (unsigned)port, TERND_USER, pass_path);
    if (tls) {
        printf("devices connect with TLS on port %u, with a certificate whose CN is their id\n",
               (unsigned)tls_port);
    }
    rc = 0;
out:
    for (size_t i = 0; i < n_users; i++) {
        free(users[i].id);
        if (users[i].pass) {
            memset(users[i].pass, 0, strlen(users[i].pass));
        }
        free(users[i].pass);
    }
    free(users);
    free(conf);
    free(conf_path);
    free(acl_path);
    free(passwd_path);
    free(pass_path);
    memset(pw, 0, sizeof pw);
    return rc;
}
