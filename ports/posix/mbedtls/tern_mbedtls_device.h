/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tern's device configuration of mbedTLS 2.28: the changes a device makes to the
 * library's default config.h, read as MBEDTLS_USER_CONFIG_FILE at its end. Firmware
 * always builds mbedTLS with a configuration of its own; this is the one tern's
 * memory figures are measured with (tools/mbedtls-device.sh builds the library with
 * it, bench_tls_mem_device links that build). Whatever includes an mbedTLS header of
 * such a build must define MBEDTLS_USER_CONFIG_FILE the same way, since the
 * structures' layout depends on it.
 *
 * Define TERN_MBEDTLS_NO_OS for a target without an OS (no sockets, no files, no
 * operating-system entropy), as the Cortex-M4 build of tools/mbedtls-device.sh does.
 */
#ifndef TERN_MBEDTLS_DEVICE_H
#define TERN_MBEDTLS_DEVICE_H

/* Every allocation goes through mbedtls_calloc / mbedtls_free, which the device points
 * at its own pool with mbedtls_platform_set_calloc_free() (the bench points them at a
 * counter). */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY

/*
 * Record buffers: by default 16 KiB in and 16 KiB out (plus ~0.3 KiB each for header,
 * IV, MAC and padding), most of a session's heap. Here 4 KiB each.
 *
 * In: a record larger than the buffer is refused, so it must hold the largest record
 * the server sends. With a maximum fragment length negotiated (RFC 6066: tern offers
 * it with max_fragment_len, OpenSSL 1.1.1+ servers such as mosquitto's honour it)
 * every server record is bounded by it. Without one the server decides, and it must
 * keep its records within 4 KiB. Either way mbedTLS 2.28 cannot reassemble a
 * handshake message split over records, so the server's Certificate message (its
 * chain) must fit one record: 4 KiB holds an EC chain or a typical RSA-2048 leaf with
 * its intermediate; with a maximum fragment length it must fit the fragment. The test
 * PKI's (EC P-256 server certificate and CA, as mosquitto sends them) is 850 bytes,
 * so 1024 works and 512 does not.
 *
 * Out: tern's TLS transport cuts its writes to what one record takes
 * (mbedtls_ssl_get_max_out_record_payload), so this bounds our records, not our
 * messages; our largest handshake message (Certificate, our chain: ~0.4 KiB for an
 * EC P-256 leaf) must fit too. 2 KiB would do for that, but mbedTLS advertises the
 * smaller of the two sizes as its limit: a maximum fragment length above it is
 * refused (tern's max_fragment_len 4096 would fail), and with the variable buffers
 * below and no fragment length negotiated the input buffer shrinks to it after the
 * handshake (server records over 2 KiB would then be refused). 2 KiB less heap is
 * not worth either.
 */
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
#define MBEDTLS_SSL_IN_CONTENT_LEN  4096
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096
/* Once the handshake is done, shrink both buffers to the negotiated fragment length
 * (they grow back for a renegotiation): an open session with max fragment length 1024
 * holds ~1.3 KiB buffers instead of ~4.3 KiB. It does not lower the handshake's peak,
 * which needs them at full size. */
#define MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH

/* The AES tables in flash rather than built into 8 KiB of RAM (static, not heap). */
#define MBEDTLS_AES_ROM_TABLES

/* A TLS 1.2 client only: no server side, no DTLS, no older protocol versions (tern
 * refuses anything below 1.2 anyway). */
#undef MBEDTLS_SSL_SRV_C
#undef MBEDTLS_SSL_CACHE_C
#undef MBEDTLS_SSL_COOKIE_C
#undef MBEDTLS_SSL_TICKET_C
#undef MBEDTLS_SSL_PROTO_TLS1
#undef MBEDTLS_SSL_PROTO_TLS1_1
#undef MBEDTLS_SSL_CBC_RECORD_SPLITTING
#undef MBEDTLS_SSL_PROTO_DTLS
#undef MBEDTLS_SSL_DTLS_ANTI_REPLAY
#undef MBEDTLS_SSL_DTLS_HELLO_VERIFY
#undef MBEDTLS_SSL_DTLS_CLIENT_PORT_REUSE
#undef MBEDTLS_SSL_DTLS_BADMAC_LIMIT

#if defined(TERN_MBEDTLS_NO_OS)
/* No sockets, files or clock of an OS: the device's transport is tern's, its
 * entropy comes from the HAL RNG, its time from the HAL clock. */
#undef MBEDTLS_NET_C
#undef MBEDTLS_TIMING_C
#undef MBEDTLS_FS_IO
#undef MBEDTLS_PSA_ITS_FILE_C
#undef MBEDTLS_PSA_CRYPTO_STORAGE_C
#define MBEDTLS_NO_PLATFORM_ENTROPY
#endif

#endif /* TERN_MBEDTLS_DEVICE_H */
