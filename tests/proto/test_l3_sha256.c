/*  test_l3_sha256 — SHA-256 against the FIPS 180-4 example vectors and lengths around the
    padding boundaries (55, 56, 63, 64 bytes: digests from coreutils' sha256sum). */
#include "l3_sha256.h"
#include "l3_test.h"

#include <stdio.h>
#include <string.h>

static void s_hex(const uint8_t d[L3_SHA256_LEN], char out[2 * L3_SHA256_LEN + 1])
{
    for (int i = 0; i < L3_SHA256_LEN; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

int main(void)
{
    static const struct {
        char fill;
        size_t len;
        const char *text; /* NULL: len bytes of fill */
        const char *digest;
    } cases[] = {
        {0, 0, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {0, 0, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {0, 0, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {'a', 1000000, NULL, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
        {'x', 55, NULL, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
        {'x', 56, NULL, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
        {'x', 63, NULL, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
        {'x', 64, NULL, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
    };
    static char buf[1000000];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *data = cases[i].text;
        size_t len = data ? strlen(data) : cases[i].len;
        if (!data) {
            memset(buf, cases[i].fill, len);
            data = buf;
        }
        uint8_t d[L3_SHA256_LEN];
        char hex[2 * L3_SHA256_LEN + 1];
        l3_sha256(data, len, d);
        s_hex(d, hex);
        CHECK_MSG(strcmp(hex, cases[i].digest) == 0, "case %zu: %s", i, hex);
    }
    TEST_DONE();
}
