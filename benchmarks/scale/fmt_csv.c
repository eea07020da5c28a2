// Writes raw float32 rows (stdin, DIM values a row) as the embedding CSV of
// lightly.utils.save_embeddings: `filenames,embedding_0..embedding_{d-1},labels`, "\r\n" line
// ends. Values with 6 decimals (enough for float32 features of magnitude ~1; the server and
// pandas then parse the same decimal strings). Python's formatting would need minutes per GB.
//
// usage: fmt_csv DIM FIRST_ROW WRITE_HEADER(0|1) < rows.f32 >> out.csv
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: fmt_csv DIM FIRST_ROW WRITE_HEADER\n"); return 2; }
    unsigned long d = strtoul(argv[1], 0, 10), row = strtoul(argv[2], 0, 10);
    int header = atoi(argv[3]);
    static char out[1 << 22];
    float *v = malloc(d * sizeof(float));
    setvbuf(stdout, NULL, _IOFBF, 1 << 22);
    if (header) {
        fputs("filenames", stdout);
        for (unsigned long j = 0; j < d; j++) printf(",embedding_%lu", j);
        fputs(",labels\r\n", stdout);
    }
    while (fread(v, sizeof(float), d, stdin) == d) {
        char *w = out;
        // Sorted like a folder walk (ImageFolder lists files in order). Names interleaved from
        // 1000 folders (row % 1000) made the file-name index's insertion points 1000 leaf pages
        // (4 MB) apart: more than SQLite's 2 MB page cache, and the sample inserts of a 1M-row
        // ingest took 149 s instead of seconds (see benchmarks/README.md).
        w += sprintf(w, "images/part_%04lu/img_%08lu.jpg", row / 10000, row);
        for (unsigned long j = 0; j < d; j++) {
            double x = v[j];
            long long q = llround(fabs(x) * 1e6);
            *w++ = ',';
            if (x < 0 && q != 0) *w++ = '-';
            long long ip = q / 1000000, fp = q % 1000000;
            char tmp[24]; int t = 0;
            do { tmp[t++] = (char)('0' + ip % 10); ip /= 10; } while (ip);
            while (t) *w++ = tmp[--t];
            *w++ = '.';
            for (int k = 5; k >= 0; k--) { w[k] = (char)('0' + fp % 10); fp /= 10; }
            w += 6;
        }
        w += sprintf(w, ",%lu\r\n", row % 10);
        fwrite(out, 1, (size_t)(w - out), stdout);
        row++;
    }
    return 0;
}
