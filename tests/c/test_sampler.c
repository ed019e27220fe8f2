/* The distributed sampler (torch.utils.data.DistributedSampler's rules; no MPI). */
#include "check.h"

static cnnc_distributed_sampler_options opts(int64_t R, int64_t r, bool shuffle, bool drop) {
    return CNNC_DISTRIBUTED_SAMPLER(.num_replicas = R, .rank = r, .shuffle = shuffle, .seed = 7,
                                    .drop_last = drop);
}

/* torch: DistributedSampler(range(10), 4, r, shuffle=False) -> padded with 0, 1 */
static void test_padding_and_stride(void) {
    static const int64_t want[4][3] = {{0, 4, 8}, {1, 5, 9}, {2, 6, 0}, {3, 7, 1}};
    for (int r = 0; r < 4; r++) {
        int64_t out[8];
        CHECK_EQ_INT(cnnc_distributed_sampler_len(10, opts(4, r, false, false)), 3);
        CHECK_EQ_INT(cnnc_distributed_sampler_indices(10, 0, opts(4, r, false, false), out, 8), 3);
        for (int i = 0; i < 3; i++) CHECK_EQ_INT(out[i], want[r][i]);
    }
    /* padding longer than the data set: the list repeats ([0, 1] to 8 for 8 ranks) */
    int64_t o[2];
    CHECK_EQ_INT(cnnc_distributed_sampler_indices(2, 0, opts(8, 5, false, false), o, 2), 1);
    CHECK_EQ_INT(o[0], 1);
}

/* torch: drop_last cuts to the largest multiple: 10 over 4 -> 2 each, 3 over 4 -> 0 */
static void test_drop_last(void) {
    int64_t out[4];
    CHECK_EQ_INT(cnnc_distributed_sampler_len(10, opts(4, 3, false, true)), 2);
    CHECK_EQ_INT(cnnc_distributed_sampler_indices(10, 0, opts(4, 3, false, true), out, 4), 2);
    CHECK_EQ_INT(out[0], 3);
    CHECK_EQ_INT(out[1], 7);
    CHECK_EQ_INT(cnnc_distributed_sampler_len(3, opts(4, 0, false, true)), 0);
    CHECK_EQ_INT(cnnc_distributed_sampler_len(12, opts(4, 0, false, true)), 3);
}

/* Shuffled shards partition the data set, change with the epoch, repeat with it. */
static void test_shuffle_partitions(void) {
    enum { N = 101, R = 3 };
    int64_t shard[R][40], again[40];
    int seen[N] = {0};
    for (int r = 0; r < R; r++) {
        CHECK_EQ_INT(cnnc_distributed_sampler_indices(N, 5, opts(R, r, true, false), shard[r], 40), 34);
        for (int i = 0; i < 34; i++) {
            REQUIRE(shard[r][i] >= 0 && shard[r][i] < N);
            seen[shard[r][i]]++;
        }
    }
    int missing = 0, extra = 0;
    for (int i = 0; i < N; i++) {
        missing += seen[i] == 0;
        extra += seen[i] > 1 ? seen[i] - 1 : 0;
    }
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(extra, 1); /* 102 slots for 101 samples: one padded */
    CHECK_EQ_INT(cnnc_distributed_sampler_indices(N, 5, opts(R, 1, true, false), again, 40), 34);
    CHECK(memcmp(again, shard[1], sizeof(int64_t) * 34) == 0);
    CHECK_EQ_INT(cnnc_distributed_sampler_indices(N, 6, opts(R, 1, true, false), again, 40), 34);
    CHECK(memcmp(again, shard[1], sizeof(int64_t) * 34) != 0);
}

static void test_errors(void) {
    int64_t out[4];
    CHECK_EQ_INT(cnnc_distributed_sampler_len(10, opts(4, 4, true, false)), -1);
    CHECK_ERROR_CONTAINS("Invalid rank 4, rank should be in the interval [0, 3]");
    CHECK_EQ_INT(cnnc_distributed_sampler_len(10, opts(0, 0, true, false)), -1);
    CHECK_ERROR_CONTAINS("num_replicas");
    CHECK_EQ_INT(cnnc_distributed_sampler_len(-1, opts(2, 0, true, false)), -1);
    CHECK_EQ_INT(cnnc_distributed_sampler_indices(10, -1, opts(2, 0, true, false), out, 4), -1);
    CHECK_ERROR_CONTAINS("epoch");
    CHECK_EQ_INT(cnnc_distributed_sampler_indices(10, 0, opts(2, 0, true, false), out, 4), -1);
    CHECK_ERROR_CONTAINS("room for 4");
    CHECK_EQ_INT(cnnc_distributed_sampler_indices(10, 0, opts(2, 0, true, false), NULL, 5), -1);
    CHECK_EQ_INT(cnnc_distributed_sampler_indices(0, 0, opts(2, 0, true, false), NULL, 0), 0);
}

int main(void) {
    RUN_TEST(test_padding_and_stride);
    RUN_TEST(test_drop_last);
    RUN_TEST(test_shuffle_partitions);
    RUN_TEST(test_errors);
    return check_summary();
}
