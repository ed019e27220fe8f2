/* The kernel dispatch (kernels/isa.h, cnnc_set_isa / cnnc_get_isa): the environment
 * variable CNNC_ISA (in child processes of this program), the function's cap and
 * errors, the variant names of every family following the cap, ops computing at the
 * capped level (bit for bit the level's kernels), and the cap changed by another
 * thread while ops run: every result is exactly one level's, never a mix. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/activation.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/norm.h"
#include "kernels/pool.h"

extern char **environ;

static const char *self_path;

/* ---- CNNC_ISA, read by a child process -------------------------------------------- */

/* Runs this program as `self --print-isa` with CNNC_ISA=value (NULL: unset) and the
 * rest of the environment; returns what it prints (its CPU's level and the active
 * level) and its stderr. */
static void run_child(const char *value, char *out, size_t out_size, char *err, size_t err_size) {
    out[0] = err[0] = '\0';
    char *env[256], var[128];
    int n = 0;
    for (char **e = environ; *e && n < 254; e++)
        if (strncmp(*e, "CNNC_ISA=", 9) != 0) env[n++] = *e;
    if (value) {
        snprintf(var, sizeof var, "CNNC_ISA=%s", value);
        env[n++] = var;
    }
    env[n] = NULL;
    int po[2], pe[2];
    REQUIRE(pipe(po) == 0 && pipe(pe) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclose(&fa, po[0]);
    posix_spawn_file_actions_addclose(&fa, pe[0]);
    char *argv[] = {(char *)self_path, "--print-isa", NULL};
    pid_t pid;
    const int rc = posix_spawn(&pid, self_path, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    REQUIRE(rc == 0);
    /* the child writes a line to each: small enough for the pipes' buffers */
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    ssize_t k = read(po[0], out, out_size - 1);
    out[k > 0 ? k : 0] = '\0';
    k = read(pe[0], err, err_size - 1);
    err[k > 0 ? k : 0] = '\0';
    close(po[0]);
    close(pe[0]);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    out[strcspn(out, "\n")] = '\0';
}

static void test_environment_variable(void) {
    /* the child's CPU level (under valgrind, this process sees fewer features than
     * its children, which run natively) */
    char out[64], err[256], cpu_name[32] = "";
    run_child(NULL, out, sizeof out, err, sizeof err);
    REQUIRE(sscanf(out, "%31s", cpu_name) == 1 && cnnc__isa_from_name(cpu_name) >= 0);
    const cnnc__isa cpu = (cnnc__isa)cnnc__isa_from_name(cpu_name);
    const char *avx2_or_less = cnnc__isa_name(cpu < CNNC__ISA_AVX2 ? cpu : CNNC__ISA_AVX2);
    struct {
        const char *value, *want;
        bool warns;
    } cases[] = {
        {NULL, cnnc__isa_name(cpu), false},
        {"scalar", "scalar", false},
        {"avx2", avx2_or_less, false},
        {"AVX2", avx2_or_less, false},
        {"avx512", cnnc__isa_name(cpu), false}, /* a cap above the CPU caps nothing */
        {"sse9", cnnc__isa_name(cpu), true},   /* unknown: ignored with a warning */
        {"", cnnc__isa_name(cpu), true},
        {"avx2 ", cnnc__isa_name(cpu), true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s %s", cnnc__isa_name(cpu), cases[i].want);
        run_child(cases[i].value, out, sizeof out, err, sizeof err);
        CHECK_STR_EQ(out, want);
        if (cases[i].warns) {
            CHECK_CONTAINS(err, "ignoring CNNC_ISA");
        } else {
            CHECK_STR_EQ(err, "");
        }
    }
}

/* ---- cnnc_set_isa ------------------------------------------------------------------- */

static void test_set_isa(void) {
    const cnnc__isa cpu = cnnc__isa_cpu();
    const char *before = cnnc_get_isa();
    for (int l = (int)cpu; l >= 0; l--) {
        CHECK_OK(cnnc_set_isa(cnnc__isa_name((cnnc__isa)l)));
        CHECK_STR_EQ(cnnc_get_isa(), cnnc__isa_name((cnnc__isa)l));
        CHECK(cnnc__isa_active() == (cnnc__isa)l);
    }
    CHECK_OK(cnnc_set_isa("SCALAR")); /* any letter case */
    CHECK_STR_EQ(cnnc_get_isa(), "scalar");
    /* levels this CPU lacks: an error naming the ones it has; the level unchanged */
    for (int l = (int)cpu + 1; l < CNNC__ISA_COUNT; l++) {
        CHECK_STATUS(cnnc_set_isa(cnnc__isa_name((cnnc__isa)l)), CNNC_ERR_INVALID_ARGUMENT);
        CHECK_ERROR_CONTAINS("is not available on this CPU (available: ");
        CHECK_ERROR_CONTAINS(cnnc__isa_name(cpu));
        CHECK_STR_EQ(cnnc_get_isa(), "scalar");
    }
    CHECK_STATUS(cnnc_set_isa("neon"), CNNC_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_CONTAINS("unknown ISA 'neon' (expected avx512, avx2 or scalar)");
    CHECK_STATUS(cnnc_set_isa(""), CNNC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cnnc_set_isa(NULL), CNNC_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_CONTAINS("argument 'name' is NULL");
    CHECK_STR_EQ(cnnc_get_isa(), "scalar");
    CHECK_OK(cnnc_set_isa(before));
    CHECK_STR_EQ(cnnc_get_isa(), before);
}

/* Every family's variant at a level is that level's or one below it, and each level
 * with variants of its own names them (the names follow the cap). */
static void test_variant_names_follow_the_cap(void) {
    const char *before = cnnc_get_isa();
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        REQUIRE(cnnc_set_isa(cnnc__isa_name((cnnc__isa)l)) == CNNC_OK);
        const cnnc__isa isa = cnnc__isa_active();
        int64_t mr, nr;
        cnnc__sgemm_tile(isa, &mr, &nr);
        const char *names[] = {cnnc__sgemm_kernel_name(isa), cnnc__k_act_variant_name(isa),
                               cnnc__k_norm_variant_name(isa), cnnc__conv_rows_of(isa)->name,
                               cnnc__conv_im2col_variant(isa, nr), cnnc__dwconv_variant(isa),
                               cnnc__conv_winograd_variant(isa),
                               cnnc__k_max_pool2d_variant_name(isa)};
        printf("test_isa: level %s:", cnnc_get_isa());
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) printf(" %s", names[i]);
        printf("\n");
        /* the level's own kernels where it has them */
        char want[32];
        snprintf(want, sizeof want, "__%s", cnnc__isa_name(isa));
        CHECK_CONTAINS(names[0], want); /* GEMM: one kernel per level */
        CHECK_CONTAINS(names[1], want); /* activation: one build per level */
        CHECK_CONTAINS(names[3], want); /* conv row primitives */
        CHECK_CONTAINS(names[7], want); /* max pooling: one build per level */
        if (isa == CNNC__ISA_SCALAR) {
            CHECK_STR_EQ(names[2], "f32_norm__scalar");
            CHECK_STR_EQ(names[4], "f32_im2col__scalar");
            CHECK_STR_EQ(names[5], "f32_dwconv__rows");
            CHECK_STR_EQ(names[6], "f32_winograd__scalar");
        } else if (isa == CNNC__ISA_AVX2) {
            CHECK_STR_EQ(names[2], "f32_norm__avx2");
        } else {
            CHECK_STR_EQ(names[2], "f32_norm__avx512");
            CHECK_STR_EQ(names[4], "f32_im2col__avx512");
            CHECK_STR_EQ(names[5], "f32_dwconv__avx512");
            CHECK_STR_EQ(names[6], "f32_winograd__avx512");
        }
    }
    CHECK_OK(cnnc_set_isa(before));
}

/* ---- ops compute at the capped level ------------------------------------------------- */

static void test_ops_follow_the_cap(void) {
    const char *before = cnnc_get_isa();
    cnnc_manual_seed(11);
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(3000));
    cnnc_tensor *a = cnnc_randn(CNNC_SHAPE(37, 300)), *b = cnnc_randn(CNNC_SHAPE(300, 29));
    REQUIRE(x && a && b);
    float *want = malloc(3000 * sizeof(float)), *c = malloc(37 * 29 * sizeof(float));
    REQUIRE(want && c);
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        const cnnc__isa isa = (cnnc__isa)l;
        REQUIRE(cnnc_set_isa(cnnc__isa_name(isa)) == CNNC_OK);
        /* GELU: the level's activation build, bit for bit */
        cnnc_tensor *y = cnnc_gelu(x, CNNC_GELU());
        REQUIRE(y);
        cnnc__k_act_forward(isa, CNNC__ACT_GELU, &(cnnc__act_params){0, 0, 0}, want,
                            cnnc_tensor_data_f32(x), 3000);
        CHECK(memcmp(cnnc_tensor_data_f32(y), want, 3000 * sizeof(float)) == 0);
        cnnc_tensor_release(y);
        /* matmul: the level's GEMM kernel, bit for bit */
        cnnc_tensor *m = cnnc_matmul(a, b);
        REQUIRE(m);
        float *ws = aligned_alloc(64, cnnc__sgemm_workspace_floats(isa) * sizeof(float));
        REQUIRE(ws);
        cnnc__sgemm_st(isa, false, false, 37, 29, 300, cnnc_tensor_data_f32(a), 300,
                       cnnc_tensor_data_f32(b), 29, 0.0f, c, 29, ws);
        CHECK(memcmp(cnnc_tensor_data_f32(m), c, 37 * 29 * sizeof(float)) == 0);
        free(ws);
        cnnc_tensor_release(m);
    }
    CHECK_OK(cnnc_set_isa(before));
    free(want);
    free(c);
    cnnc_tensor_release(x);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
}

/* ---- the cap changed while ops run ---------------------------------------------------- */

static atomic_int stop_flipping;

/* Cycles the cap through every level this CPU runs until told to stop. */
static void *flipper(void *arg) {
    (void)arg;
    for (unsigned i = 0; !atomic_load(&stop_flipping); i++) {
        cnnc__isa_set_cap((cnnc__isa)(i % ((unsigned)cnnc__isa_cpu() + 1)));
        for (volatile int spin = 0; spin < 2000; spin++) {
        }
    }
    return NULL;
}

enum { OPS = 5 };

/* The ops under test, each result a fresh tensor in out: a 3x3 conv (Winograd), a
 * depthwise conv, a strided conv (implicit GEMM over phase planes), GELU over two
 * threads' chunks, a batch norm. */
static bool run_ops(cnnc_tensor *const in[5], cnnc_tensor *out[OPS]) {
    out[0] = cnnc_conv2d(in[0], in[1], NULL, CNNC_CONV2D(.padding = CNNC_INTS(1)));
    out[1] = cnnc_conv2d(in[0], in[2], NULL, CNNC_CONV2D(.padding = CNNC_INTS(1), .groups = 16));
    out[2] = cnnc_conv2d(in[0], in[1], NULL,
                         CNNC_CONV2D(.stride = CNNC_INTS(2), .padding = CNNC_INTS(1)));
    out[3] = cnnc_gelu(in[3], CNNC_GELU());
    out[4] = cnnc_batch_norm(in[4], NULL, NULL, NULL, NULL, CNNC_BATCH_NORM(.training = true));
    for (int i = 0; i < OPS; i++)
        if (!out[i]) return false;
    return true;
}

static void test_cap_changed_while_ops_run(void) {
    const char *before = cnnc_get_isa();
    const int threads = cnnc_get_num_threads();
    CHECK_OK(cnnc_set_num_threads(2));
    cnnc_manual_seed(5);
    cnnc_tensor *in[5] = {cnnc_randn(CNNC_SHAPE(2, 16, 24, 24)),
                          cnnc_randn(CNNC_SHAPE(24, 16, 3, 3)), cnnc_randn(CNNC_SHAPE(16, 1, 3, 3)),
                          cnnc_randn(CNNC_SHAPE(1 << 17)), cnnc_randn(CNNC_SHAPE(4, 8, 30, 30))};
    for (int i = 0; i < 5; i++) REQUIRE(in[i]);
    /* every level's results */
    cnnc_tensor *ref[CNNC__ISA_COUNT][OPS] = {{NULL}};
    const int levels = (int)cnnc__isa_cpu() + 1;
    for (int l = 0; l < levels; l++) {
        REQUIRE(cnnc__isa_set_cap((cnnc__isa)l));
        REQUIRE(run_ops(in, ref[l]));
    }
    int differ = 0; /* ops whose bits differ between the best level and scalar */
    for (int i = 0; i < OPS; i++)
        differ += memcmp(cnnc_tensor_data_f32(ref[0][i]), cnnc_tensor_data_f32(ref[levels - 1][i]),
                         (size_t)cnnc_tensor_numel(ref[0][i]) * sizeof(float)) != 0;
    printf("test_isa: %d of %d ops give different bits at %s and scalar\n", differ, OPS,
           cnnc__isa_name((cnnc__isa)(levels - 1)));
    pthread_t t;
    atomic_store(&stop_flipping, 0);
    REQUIRE(pthread_create(&t, NULL, flipper, NULL) == 0);
    int mixed = 0;
    for (int rep = 0; rep < 40; rep++) {
        cnnc_tensor *out[OPS] = {NULL};
        CHECK(run_ops(in, out));
        for (int i = 0; i < OPS && out[i]; i++) {
            bool matches = false;
            for (int l = 0; l < levels && !matches; l++)
                matches = memcmp(cnnc_tensor_data_f32(out[i]), cnnc_tensor_data_f32(ref[l][i]),
                                 (size_t)cnnc_tensor_numel(out[i]) * sizeof(float)) == 0;
            mixed += !matches;
        }
        for (int i = 0; i < OPS; i++) cnnc_tensor_release(out[i]);
    }
    atomic_store(&stop_flipping, 1);
    pthread_join(t, NULL);
    CHECK_EQ_INT(mixed, 0);
    for (int l = 0; l < levels; l++)
        for (int i = 0; i < OPS; i++) cnnc_tensor_release(ref[l][i]);
    for (int i = 0; i < 5; i++) cnnc_tensor_release(in[i]);
    CHECK_OK(cnnc_set_isa(before));
    CHECK_OK(cnnc_set_num_threads(threads));
}

/* cnnc__k_sum promises the same bits at every level (the AVX2 and AVX-512 loops read the level
 * itself): sums of every length around the block sizes, with values of mixed signs
 * and magnitudes, compared bit for bit with the capped-at-scalar result. */
static void test_sum_same_bits_at_every_level(void) {
    const cnnc__isa top = cnnc__isa_cpu();
    enum { N = 5000 };
    static float x[N];
    uint64_t st = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < N; i++) {
        st = st * 6364136223846793005u + 1442695040888963407u;
        const float u = (float)((st >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f;
        x[i] = u * (float)(1 << (i % 13));
    }
    for (int n = 0; n < N; n += n < 1100 ? 1 : 97) {
        REQUIRE(cnnc__isa_set_cap(CNNC__ISA_SCALAR));
        const double want = cnnc__k_sum(x + (n % 3), n - (n % 3));
        for (int lv = CNNC__ISA_SCALAR; lv <= (int)top; lv++) {
            REQUIRE(cnnc__isa_set_cap((cnnc__isa)lv));
            const double got = cnnc__k_sum(x + (n % 3), n - (n % 3));
            CHECK(memcmp(&got, &want, sizeof got) == 0);
        }
    }
    REQUIRE(cnnc__isa_set_cap(top));
}

/* cnnc__k_sum_rows gives cnnc__k_sum's bits per row at every level (AVX2 sums two rows
 * side by side): 1..5 rows of lengths around the block sizes, rows apart by more than
 * their length. */
static void test_sum_rows_same_bits_at_every_level(void) {
    const cnnc__isa top = cnnc__isa_cpu();
    enum { ROWS = 5, STRIDE = 3200 };
    static float x[ROWS * STRIDE];
    uint64_t st = 0x2545F4914F6CDD1Du;
    for (int i = 0; i < ROWS * STRIDE; i++) {
        st = st * 6364136223846793005u + 1442695040888963407u;
        x[i] = ((float)((st >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f) * (float)(1 << (i % 11));
    }
    const int64_t lens[] = {0, 1, 7, 8, 15, 16, 17, 63, 64, 255, 256, 257, 511, 512, 513, 3136, 3197};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
        for (int64_t rows = 1; rows <= ROWS; rows++) {
            const int64_t n = lens[l], off = rows % 3; /* unaligned starts too */
            double want[ROWS], got[ROWS];
            REQUIRE(cnnc__isa_set_cap(CNNC__ISA_SCALAR));
            for (int64_t r = 0; r < rows; r++) want[r] = cnnc__k_sum(x + off + r * (STRIDE - 3), n);
            for (int lv = CNNC__ISA_SCALAR; lv <= (int)top; lv++) {
                REQUIRE(cnnc__isa_set_cap((cnnc__isa)lv));
                cnnc__k_sum_rows(x + off, STRIDE - 3, rows, n, got);
                CHECK(memcmp(got, want, (size_t)rows * sizeof(double)) == 0);
            }
        }
    REQUIRE(cnnc__isa_set_cap(top));
}

/* cnnc__k_binary gives the scalar level's bits at every level: each op on contiguous,
 * broadcast (either side) and strided rows of lengths 1..40, with NaN, infinities,
 * signed zeros and subnormals among the values. */
static void test_binary_same_bits_at_every_level(void) {
    const cnnc__isa top = cnnc__isa_cpu();
    enum { N = 2 * 2 * 3 * 40 }; /* the strided case reads twice the output's span */
    static float a[N], b[N], want[N], got[N];
    const float special[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f, -1e-40f, 3.0f};
    uint64_t st = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < N; i++) {
        st = st * 6364136223846793005u + 1442695040888963407u;
        a[i] = i % 7 == 0 ? special[(i / 7) % 8] : (float)((st >> 40) & 0xFFFF) / 4096.0f - 8.0f;
        b[i] = i % 5 == 0 ? special[(i / 5) % 8] : (float)((st >> 20) & 0xFFFF) / 8192.0f - 4.0f;
    }
    /* operand strides along [2, 3, len]: a plain, b per-row (broadcast columns), b a scalar
     * per plane, a broadcast, both strided by 2 in the last dim */
    const int64_t strides[][2][3] = {{{120, 40, 1}, {120, 40, 1}}, {{120, 40, 1}, {3, 1, 0}},
                                     {{120, 40, 1}, {1, 0, 0}},    {{0, 0, 0}, {120, 40, 1}},
                                     {{240, 80, 2}, {240, 80, 2}}};
    for (int64_t len = 1; len <= 40; len++)
        for (size_t k = 0; k < sizeof strides / sizeof strides[0]; k++)
            for (int op = 0; op < CNNC__BINOP_COUNT; op++) {
                cnnc__bcast it = {.ndim = 3, .shape = {2, 3, len}};
                for (int s = 0; s < 2; s++)
                    for (int d = 0; d < 3; d++) it.stride[s][d] = strides[k][s][d];
                const int64_t n = 6 * len;
                const int64_t mid = n / 2 + 1 < n ? n / 2 + 1 : n; /* two ranges, as threads */
                REQUIRE(cnnc__isa_set_cap(CNNC__ISA_SCALAR));
                cnnc__k_binary((cnnc__binop)op, want, a, b, &it, 0, n);
                for (int lv = CNNC__ISA_SCALAR; lv <= (int)top; lv++) {
                    REQUIRE(cnnc__isa_set_cap((cnnc__isa)lv));
                    memset(got, 0xA5, sizeof got);
                    cnnc__k_binary((cnnc__binop)op, got, a, b, &it, 0, mid);
                    cnnc__k_binary((cnnc__binop)op, got, a, b, &it, mid, n);
                    CHECK(memcmp(got, want, (size_t)n * sizeof(float)) == 0);
                }
            }
    REQUIRE(cnnc__isa_set_cap(top));
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--print-isa") == 0) {
        printf("%s %s\n", cnnc__isa_name(cnnc__isa_cpu()), cnnc_get_isa());
        return 0;
    }
    self_path = argv[0];
    RUN_TEST(test_environment_variable);
    RUN_TEST(test_set_isa);
    RUN_TEST(test_variant_names_follow_the_cap);
    RUN_TEST(test_ops_follow_the_cap);
    RUN_TEST(test_cap_changed_while_ops_run);
    RUN_TEST(test_sum_same_bits_at_every_level);
    RUN_TEST(test_sum_rows_same_bits_at_every_level);
    RUN_TEST(test_binary_same_bits_at_every_level);
    cnnc_thread_cleanup();
    return check_summary();
}
