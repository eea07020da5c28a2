// Fast generator of large embedding CSVs for the memory benchmark (Python's csv writer
// needs minutes for 1M x 512). Same columns as lightly.utils.save_embeddings
// (filenames, embedding_0..embedding_{d-1}, labels), "\r\n" line ends like csv.writer.
// Values are deterministic in (sample index, column), so a shuffled file holds the same
// rows as an in-order one.
//
// usage: gen_csv OUT.csv ROWS DIM inorder|shuffled [SEED]
//   row r of a shuffled file is sample (r * A + B) mod ROWS, A coprime with ROWS.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t x) {  // splitmix64 finaliser
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
static uint64_t gcd(uint64_t a, uint64_t b) { while (b) { uint64_t t = a % b; a = b; b = t; } return a; }

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: gen_csv OUT.csv ROWS DIM inorder|shuffled [SEED]\n"); return 2; }
    const char *out = argv[1];
    uint64_t n = strtoull(argv[2], 0, 10), d = strtoull(argv[3], 0, 10);
    int shuffled = strcmp(argv[4], "shuffled") == 0;
    uint64_t seed = argc > 5 ? strtoull(argv[5], 0, 10) : 0;
    uint64_t a = 1000003, b = n / 3 + 1;
    while (n > 1 && gcd(a, n) != 1) a += 2;
    FILE *f = fopen(out, "wb");
    if (!f) { perror(out); return 1; }
    static char buf[1 << 22];
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    fputs("filenames", f);
    for (uint64_t j = 0; j < d; j++) fprintf(f, ",embedding_%llu", (unsigned long long)j);
    fputs(",labels\r\n", f);
    for (uint64_t r = 0; r < n; r++) {
        uint64_t i = shuffled ? (uint64_t)(((__uint128_t)r * a + b) % n) : r;
        char *w = buf;
        w += sprintf(w, "images/class_%03llu/img_%07llu.jpg", (unsigned long long)(i % 100), (unsigned long long)i);
        for (uint64_t j = 0; j < d; j++) {
            uint64_t h = mix(seed ^ mix(i * 131071ull + j));
            uint32_t v = (uint32_t)(h % 100000000ull);
            *w++ = ',';
            if (h >> 63) *w++ = '-';
            *w++ = '0'; *w++ = '.';
            for (int k = 7; k >= 0; k--) { w[k] = (char)('0' + v % 10); v /= 10; }
            w += 8;
        }
        w += sprintf(w, ",%llu\r\n", (unsigned long long)(i % 10));
        fwrite(buf, 1, (size_t)(w - buf), f);
    }
    if (fclose(f) != 0) { perror(out); return 1; }
    return 0;
}
