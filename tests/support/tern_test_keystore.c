/* SPDX-License-Identifier: Apache-2.0 */
/* Key store checks shared by the file store's unit test and the PKCS#11 store's
 * integration test. mbedTLS is the independent judge of every key and signature. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#include "tern_test_keystore.h"
#include "tls_keystore.h"

#include "tern_test.h"

/* ------------------------------------------------------------- helpers -- */

typedef struct rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
} rng_t;

static void rng_init(rng_t *r)
{
    static const unsigned char k_pers[] = "tern test keystore";
    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    assert_int_equal(mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy, k_pers,
                                           sizeof k_pers - 1),
                     0);
}

static void rng_free(rng_t *r)
{
    mbedtls_ctr_drbg_free(&r->drbg);
    mbedtls_entropy_free(&r->entropy);
}

void tern_test_sha256(const char *text, uint8_t out[32])
{
    assert_int_equal(mbedtls_sha256_ret((const unsigned char *)text, strlen(text), out, 0), 0);
}

int tern_test_ecdsa_verify(const uint8_t pub[TERN_KEYSTORE_PUB_LEN], const uint8_t *hash,
                           size_t hash_len, const uint8_t *sig, size_t sig_len)
{
    mbedtls_ecp_keypair kp;
    mbedtls_ecp_keypair_init(&kp);
    int ret = mbedtls_ecp_group_load(&kp.grp, MBEDTLS_ECP_DP_SECP256R1);
    if (ret == 0) {
        ret = mbedtls_ecp_point_read_binary(&kp.grp, &kp.Q, pub, TERN_KEYSTORE_PUB_LEN);
    }
    if (ret == 0) {
        ret = mbedtls_ecp_check_pubkey(&kp.grp, &kp.Q);
    }
    if (ret == 0) {
        ret = mbedtls_ecdsa_read_signature(&kp, hash, hash_len, sig, sig_len);
    }
    mbedtls_ecp_keypair_free(&kp);
    return ret;
}

/* A plain mbedTLS public key from the point @p pub, as a peer would hold it. */
static void plain_pk(mbedtls_pk_context *pk, const uint8_t pub[TERN_KEYSTORE_PUB_LEN])
{
    assert_int_equal(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
    assert_int_equal(mbedtls_ecp_group_load(&ec->grp, MBEDTLS_ECP_DP_SECP256R1), 0);
    assert_int_equal(mbedtls_ecp_point_read_binary(&ec->grp, &ec->Q, pub, TERN_KEYSTORE_PUB_LEN),
                     0);
    assert_int_equal(mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q), 0);
}

/* Sign @p hash with @p label and check the DER shape and the signature. */
static void sign_and_check(const tern_keystore_t *ks, const char *label,
                           const uint8_t pub[TERN_KEYSTORE_PUB_LEN], const uint8_t hash[32])
{
    uint8_t sig[TERN_KEYSTORE_SIG_MAX];
    size_t len = 99;
    assert_int_equal(tern_keystore_sign(ks, label, hash, sig, sizeof sig, &len), TERN_OK);
    assert_true(len >= 8 && len <= TERN_KEYSTORE_SIG_MAX);
    assert_int_equal(sig[0], 0x30); /* SEQUENCE */
    assert_int_equal(sig[1], len - 2);
    assert_int_equal(tern_test_ecdsa_verify(pub, hash, 32, sig, len), 0);
    uint8_t other[32];
    memcpy(other, hash, 32);
    other[31] ^= 0x01;
    assert_int_not_equal(tern_test_ecdsa_verify(pub, other, 32, sig, len), 0);
}

/* ------------------------------------------------------------ contract -- */

void tern_test_keystore_contract(const tern_keystore_t *ks)
{
    static const char k1[] = "tern-k1", k2[] = "tern.k_2";
    uint8_t pub1[TERN_KEYSTORE_PUB_LEN], pub2[TERN_KEYSTORE_PUB_LEN], pub[TERN_KEYSTORE_PUB_LEN];
    uint8_t hash[32], sig[TERN_KEYSTORE_SIG_MAX];
    size_t len = 0;
    tern_test_sha256("tern key store contract", hash);

    /* generate, once only */
    assert_int_equal(tern_keystore_public_key(ks, k1, pub1), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_keystore_generate(ks, k1), TERN_OK);
    assert_int_equal(tern_keystore_public_key(ks, k1, pub1), TERN_OK);
    assert_int_equal(pub1[0], 0x04); /* uncompressed */
    assert_int_equal(tern_keystore_generate(ks, k1), TERN_ERR_EXISTS);
    assert_int_equal(tern_keystore_public_key(ks, k1, pub), TERN_OK);
    assert_memory_equal(pub, pub1, sizeof pub); /* the refused generate kept the key */

    /* sign, verified by mbedTLS (twice: k is random on a token, RFC 6979 in the file store) */
    sign_and_check(ks, k1, pub1, hash);
    sign_and_check(ks, k1, pub1, hash);
    assert_int_equal(tern_keystore_sign(ks, k1, hash, sig, 8, &len), TERN_ERR_TOO_SMALL);
    assert_int_equal(len, 0);

    /* a second key beside the first */
    assert_int_equal(tern_keystore_generate(ks, k2), TERN_OK);
    assert_int_equal(tern_keystore_public_key(ks, k2, pub2), TERN_OK);
    assert_int_equal(pub2[0], 0x04);
    assert_memory_not_equal(pub1, pub2, sizeof pub1);
    sign_and_check(ks, k2, pub2, hash);
    assert_int_equal(tern_keystore_sign(ks, k2, hash, sig, sizeof sig, &len), TERN_OK);
    assert_int_not_equal(tern_test_ecdsa_verify(pub1, hash, 32, sig, len), 0);
    sign_and_check(ks, k1, pub1, hash);

    /* destroy: gone for every operation, the other key untouched */
    assert_int_equal(tern_keystore_destroy(ks, k1), TERN_OK);
    assert_int_equal(tern_keystore_public_key(ks, k1, pub), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_keystore_sign(ks, k1, hash, sig, sizeof sig, &len), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_keystore_destroy(ks, k1), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_keystore_public_key(ks, k2, pub), TERN_OK);
    assert_memory_equal(pub, pub2, sizeof pub);
    sign_and_check(ks, k2, pub2, hash);

    /* the label free again: a new key, not the old one back */
    assert_int_equal(tern_keystore_generate(ks, k1), TERN_OK);
    assert_int_equal(tern_keystore_public_key(ks, k1, pub), TERN_OK);
    assert_memory_not_equal(pub, pub1, sizeof pub);
    assert_int_equal(tern_keystore_destroy(ks, k1), TERN_OK);

    /* labels at and past the limit, and arguments the front door refuses */
    char at_max[TERN_KEYSTORE_LABEL_MAX + 1], over[TERN_KEYSTORE_LABEL_MAX + 2];
    memset(at_max, 'm', TERN_KEYSTORE_LABEL_MAX);
    at_max[TERN_KEYSTORE_LABEL_MAX] = '\0';
    memset(over, 'o', TERN_KEYSTORE_LABEL_MAX + 1);
    over[TERN_KEYSTORE_LABEL_MAX + 1] = '\0';
    assert_int_equal(tern_keystore_generate(ks, at_max), TERN_OK);
    assert_int_equal(tern_keystore_public_key(ks, at_max, pub), TERN_OK);
    sign_and_check(ks, at_max, pub, hash);
    assert_int_equal(tern_keystore_destroy(ks, at_max), TERN_OK);
    assert_int_equal(tern_keystore_generate(ks, over), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_generate(ks, ""), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_generate(ks, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_public_key(ks, k2, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_sign(ks, k2, NULL, sig, sizeof sig, &len), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_sign(ks, k2, hash, NULL, sizeof sig, &len), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_sign(ks, k2, hash, sig, sizeof sig, NULL), TERN_ERR_INVAL);

    assert_int_equal(tern_keystore_destroy(ks, k2), TERN_OK);
    assert_int_equal(tern_keystore_public_key(ks, k2, pub), TERN_ERR_NOT_FOUND);
}

/* -------------------------------------------------------------- TLS pk -- */

void tern_test_keystore_tls_pk(const tern_keystore_t *ks, const char *label)
{
    rng_t r;
    rng_init(&r);
    uint8_t pub[TERN_KEYSTORE_PUB_LEN];
    assert_int_equal(tern_keystore_public_key(ks, label, pub), TERN_OK);

    mbedtls_pk_context pk, plain, back, none;
    mbedtls_pk_init(&pk);
    mbedtls_pk_init(&plain);
    mbedtls_pk_init(&back);
    mbedtls_pk_init(&none);
    assert_int_equal(tern_posix_tls_keystore_pk(&pk, ks, label), TERN_OK);
    assert_int_equal(tern_posix_tls_keystore_pk(&pk, ks, label), TERN_ERR_INVAL); /* not empty */
    assert_int_equal(mbedtls_pk_get_type(&pk), MBEDTLS_PK_ECKEY);
    assert_true(mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECDSA));
    assert_true(mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECKEY));
    assert_false(mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECKEY_DH));
    assert_false(mbedtls_pk_can_do(&pk, MBEDTLS_PK_RSA));
    assert_int_equal(mbedtls_pk_get_bitlen(&pk), 256);
    plain_pk(&plain, pub);

    /* SHA-256, as the store signs it; checked by the pk itself and by a plain public key */
    unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    uint8_t h256[32];
    tern_test_sha256("tern tls keystore", h256);
    assert_int_equal(mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, h256, 32, sig, &len,
                                     mbedtls_ctr_drbg_random, &r.drbg),
                     0);
    assert_int_equal(tern_posix_tls_keystore_last_err(&pk), TERN_OK);
    assert_int_equal(mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, h256, 32, sig, len), 0);
    assert_int_equal(mbedtls_pk_verify(&plain, MBEDTLS_MD_SHA256, h256, 32, sig, len), 0);
    assert_int_equal(tern_test_ecdsa_verify(pub, h256, 32, sig, len), 0);
    h256[0] ^= 0x80;
    assert_int_not_equal(mbedtls_pk_verify(&plain, MBEDTLS_MD_SHA256, h256, 32, sig, len), 0);
    /* hash_len 0: mbedTLS takes the length from the algorithm */
    assert_int_equal(mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, h256, 0, sig, &len,
                                     mbedtls_ctr_drbg_random, &r.drbg),
                     0);
    assert_int_equal(mbedtls_pk_verify(&plain, MBEDTLS_MD_SHA256, h256, 32, sig, len), 0);

    /* SHA-384 (what TLS 1.2 signs with in a *_SHA384 suite): a plain key verifies it
     * against the whole digest */
    uint8_t hbig[64]; /* mbedTLS writes 64 bytes whichever of the two it computes */
    assert_int_equal(mbedtls_sha512_ret((const unsigned char *)"x", 1, hbig, 1), 0);
    assert_int_equal(mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA384, hbig, 48, sig, &len,
                                     mbedtls_ctr_drbg_random, &r.drbg),
                     0);
    assert_int_equal(mbedtls_pk_verify(&plain, MBEDTLS_MD_SHA384, hbig, 48, sig, len), 0);
    /* and SHA-512 the same way */
    assert_int_equal(mbedtls_sha512_ret((const unsigned char *)"x", 1, hbig, 0), 0);
    assert_int_equal(mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA512, hbig, 64, sig, &len,
                                     mbedtls_ctr_drbg_random, &r.drbg),
                     0);
    assert_int_equal(mbedtls_pk_verify(&plain, MBEDTLS_MD_SHA512, hbig, 64, sig, len), 0);

    /* digests shorter than the curve are refused, and the reason kept */
    uint8_t h160[20] = { 1, 2, 3 };
    assert_int_equal(mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA1, h160, sizeof h160, sig, &len,
                                     mbedtls_ctr_drbg_random, &r.drbg),
                     MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE);
    assert_int_equal(tern_posix_tls_keystore_last_err(&pk), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_posix_tls_keystore_last_err(&plain), TERN_ERR_INVAL);

    /* the public key as mbedTLS writes it into a CSR or certificate: the store's */
    unsigned char der[200];
    int n = mbedtls_pk_write_pubkey_der(&pk, der, sizeof der);
    assert_true(n > 0);
    assert_int_equal(mbedtls_pk_parse_public_key(&back, der + sizeof der - n, (size_t)n), 0);
    uint8_t point[TERN_KEYSTORE_PUB_LEN];
    size_t plen = 0;
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(back);
    assert_int_equal(mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED,
                                                    &plen, point, sizeof point),
                     0);
    assert_memory_equal(point, pub, sizeof pub);

    /* a CSR signed through the pk (what a certificate rotation sends): it parses, carries
     * the store's public key, and its signature verifies under it */
    mbedtls_x509write_csr w;
    mbedtls_x509_csr csr;
    mbedtls_x509write_csr_init(&w);
    mbedtls_x509_csr_init(&csr);
    mbedtls_x509write_csr_set_key(&w, &pk);
    mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
    assert_int_equal(mbedtls_x509write_csr_set_subject_name(&w, "CN=device"), 0);
    unsigned char csr_der[1024];
    n = mbedtls_x509write_csr_der(&w, csr_der, sizeof csr_der, mbedtls_ctr_drbg_random, &r.drbg);
    assert_true(n > 0);
    assert_int_equal(mbedtls_x509_csr_parse_der(&csr, csr_der + sizeof csr_der - n, (size_t)n), 0);
    unsigned char csr_hash[32];
    assert_int_equal(mbedtls_sha256_ret(csr.cri.p, csr.cri.len, csr_hash, 0), 0);
    assert_int_equal(mbedtls_pk_verify(&csr.pk, MBEDTLS_MD_SHA256, csr_hash, sizeof csr_hash,
                                       csr.sig.p, csr.sig.len),
                     0);
    assert_int_equal(tern_test_ecdsa_verify(pub, csr_hash, sizeof csr_hash, csr.sig.p, csr.sig.len),
                     0);
    mbedtls_x509_csr_free(&csr);
    mbedtls_x509write_csr_free(&w);

    /* no such key: the pk stays empty */
    assert_int_equal(tern_posix_tls_keystore_pk(&none, ks, "no-such-key"), TERN_ERR_NOT_FOUND);
    assert_null(none.pk_info);

    mbedtls_pk_free(&pk);
    mbedtls_pk_free(&plain);
    mbedtls_pk_free(&back);
    mbedtls_pk_free(&none);
    rng_free(&r);
}

/* ------------------------------------------------- TLS in memory, mTLS -- */

typedef struct pipe {
    unsigned char buf[32768];
    size_t len;
} pipe_t;

typedef struct end {
    pipe_t *out, *in;
} end_t;

static int mem_send(void *ctx, const unsigned char *buf, size_t len)
{
    end_t *e = ctx;
    size_t room = sizeof e->out->buf - e->out->len;
    size_t n = len < room ? len : room;
    if (n == 0) {
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    memcpy(e->out->buf + e->out->len, buf, n);
    e->out->len += n;
    return (int)n;
}

static int mem_recv(void *ctx, unsigned char *buf, size_t len)
{
    end_t *e = ctx;
    size_t n = len < e->in->len ? len : e->in->len;
    if (n == 0) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    memcpy(buf, e->in->buf, n);
    memmove(e->in->buf, e->in->buf + n, e->in->len - n);
    e->in->len -= n;
    return (int)n;
}

/* A certificate for @p subject_key, signed by @p issuer_key, parsed into @p out. */
static void make_cert(mbedtls_x509_crt *out, mbedtls_pk_context *subject_key, const char *subject,
                      mbedtls_pk_context *issuer_key, const char *issuer, int serial, bool ca,
                      rng_t *r)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi sn;
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&sn);
    assert_int_equal(mbedtls_mpi_lset(&sn, serial), 0);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, subject_key);
    mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &sn), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20991231235959"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, subject), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, issuer), 0);
    assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&w, ca ? 1 : 0, -1), 0);
    unsigned char der[2048];
    int n = mbedtls_x509write_crt_der(&w, der, sizeof der, mbedtls_ctr_drbg_random, &r->drbg);
    assert_true(n > 0);
    assert_int_equal(mbedtls_x509_crt_parse_der(out, der + sizeof der - n, (size_t)n), 0);
    mbedtls_mpi_free(&sn);
    mbedtls_x509write_crt_free(&w);
}

static void gen_key(mbedtls_pk_context *pk, rng_t *r)
{
    assert_int_equal(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                         mbedtls_ctr_drbg_random, &r->drbg),
                     0);
}

/* One side's handshake step: 0 when done, 1 while it waits; fails the test otherwise. */
static int step(mbedtls_ssl_context *ssl, const char *who)
{
    int ret = mbedtls_ssl_handshake(ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return 1;
    }
    if (ret != 0) {
        char msg[160];
        mbedtls_strerror(ret, msg, sizeof msg);
        fail_msg("%s handshake: -0x%04x %s", who, (unsigned)-ret, msg);
    }
    return 0;
}

typedef struct tls_fx {
    rng_t r;
    mbedtls_pk_context ca_key, srv_key, cli_key;
    mbedtls_x509_crt ca_crt, srv_crt, cli_crt;
    mbedtls_ssl_config scfg, ccfg;
    mbedtls_ssl_context srv, cli;
    pipe_t c2s, s2c;
    end_t srv_end, cli_end;
    int suites[2];
} tls_fx_t;

void tern_test_keystore_tls_handshake(const tern_keystore_t *ks, const char *label, int ciphersuite)
{
    tls_fx_t *x = calloc(1, sizeof *x);
    assert_non_null(x);
    rng_init(&x->r);
    mbedtls_pk_init(&x->ca_key);
    mbedtls_pk_init(&x->srv_key);
    mbedtls_pk_init(&x->cli_key);
    mbedtls_x509_crt_init(&x->ca_crt);
    mbedtls_x509_crt_init(&x->srv_crt);
    mbedtls_x509_crt_init(&x->cli_crt);
    mbedtls_ssl_config_init(&x->scfg);
    mbedtls_ssl_config_init(&x->ccfg);
    mbedtls_ssl_init(&x->srv);
    mbedtls_ssl_init(&x->cli);

    /* a CA, a server, and the device's certificate for the key in the store (its
     * public key written through the key store pk) */
    gen_key(&x->ca_key, &x->r);
    gen_key(&x->srv_key, &x->r);
    assert_int_equal(tern_posix_tls_keystore_pk(&x->cli_key, ks, label), TERN_OK);
    make_cert(&x->ca_crt, &x->ca_key, "CN=tern test CA", &x->ca_key, "CN=tern test CA", 1, true,
              &x->r);
    make_cert(&x->srv_crt, &x->srv_key, "CN=localhost", &x->ca_key, "CN=tern test CA", 2, false,
              &x->r);
    make_cert(&x->cli_crt, &x->cli_key, "CN=device", &x->ca_key, "CN=tern test CA", 3, false,
              &x->r);

    x->suites[0] = ciphersuite;
    x->suites[1] = 0;
    struct {
        mbedtls_ssl_config *cfg;
        int endpoint;
    } sides[2] = { { &x->scfg, MBEDTLS_SSL_IS_SERVER }, { &x->ccfg, MBEDTLS_SSL_IS_CLIENT } };
    for (int i = 0; i < 2; i++) {
        mbedtls_ssl_config *c = sides[i].cfg;
        assert_int_equal(mbedtls_ssl_config_defaults(c, sides[i].endpoint,
                                                     MBEDTLS_SSL_TRANSPORT_STREAM,
                                                     MBEDTLS_SSL_PRESET_DEFAULT),
                         0);
        mbedtls_ssl_conf_rng(c, mbedtls_ctr_drbg_random, &x->r.drbg);
        mbedtls_ssl_conf_min_version(c, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
        mbedtls_ssl_conf_max_version(c, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
        mbedtls_ssl_conf_ciphersuites(c, x->suites);
        mbedtls_ssl_conf_authmode(c, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(c, &x->ca_crt, NULL);
    }
    assert_int_equal(mbedtls_ssl_conf_own_cert(&x->scfg, &x->srv_crt, &x->srv_key), 0);
    assert_int_equal(mbedtls_ssl_conf_own_cert(&x->ccfg, &x->cli_crt, &x->cli_key), 0);
    assert_int_equal(mbedtls_ssl_setup(&x->srv, &x->scfg), 0);
    assert_int_equal(mbedtls_ssl_setup(&x->cli, &x->ccfg), 0);
    assert_int_equal(mbedtls_ssl_set_hostname(&x->cli, "localhost"), 0);
    x->srv_end = (end_t){ &x->s2c, &x->c2s };
    x->cli_end = (end_t){ &x->c2s, &x->s2c };
    mbedtls_ssl_set_bio(&x->srv, &x->srv_end, mem_send, mem_recv, NULL);
    mbedtls_ssl_set_bio(&x->cli, &x->cli_end, mem_send, mem_recv, NULL);

    int c = 1, s = 1;
    for (int round = 0; round < 100 && (c != 0 || s != 0); round++) {
        c = c != 0 ? step(&x->cli, "client") : 0;
        s = s != 0 ? step(&x->srv, "server") : 0;
    }
    assert_int_equal(c, 0);
    assert_int_equal(s, 0);

    /* the server checked the device's certificate and its CertificateVerify */
    assert_int_equal(mbedtls_ssl_get_verify_result(&x->srv), 0);
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&x->srv);
    assert_non_null(peer);
    assert_int_equal(peer->raw.len, x->cli_crt.raw.len);
    assert_memory_equal(peer->raw.p, x->cli_crt.raw.p, peer->raw.len);
    assert_string_equal(mbedtls_ssl_get_ciphersuite(&x->srv),
                        mbedtls_ssl_get_ciphersuite_name(ciphersuite));
    assert_int_equal(tern_posix_tls_keystore_last_err(&x->cli_key), TERN_OK);

    /* and records flow both ways */
    unsigned char buf[16];
    assert_int_equal(mbedtls_ssl_write(&x->cli, (const unsigned char *)"ping", 4), 4);
    assert_int_equal(mbedtls_ssl_read(&x->srv, buf, sizeof buf), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(mbedtls_ssl_write(&x->srv, (const unsigned char *)"pong", 4), 4);
    assert_int_equal(mbedtls_ssl_read(&x->cli, buf, sizeof buf), 4);
    assert_memory_equal(buf, "pong", 4);

    mbedtls_ssl_free(&x->cli);
    mbedtls_ssl_free(&x->srv);
    mbedtls_ssl_config_free(&x->ccfg);
    mbedtls_ssl_config_free(&x->scfg);
    mbedtls_x509_crt_free(&x->cli_crt);
    mbedtls_x509_crt_free(&x->srv_crt);
    mbedtls_x509_crt_free(&x->ca_crt);
    mbedtls_pk_free(&x->cli_key);
    mbedtls_pk_free(&x->srv_key);
    mbedtls_pk_free(&x->ca_key);
    rng_free(&x->r);
    free(x);
}
