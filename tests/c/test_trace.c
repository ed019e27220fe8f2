/* CNNC_TRACE=1: a training step of a small network in a child process whose stderr goes
 * to a file, read back here. Every module call, backward node, the backward pass and the
 * optimizer step must have its line, inner spans indented past the spans around them
 * (a convolution's kernel line inside its module's, a module's inside its container's,
 * the backward nodes inside the pass), and the exit summary must count only the
 * outermost spans in its traced time, marking the inner rows. */
#define _POSIX_C_SOURCE 200809L /* setenv, mkstemp */
#include "check.h"

#include <cnnc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { LINES_MAX = 256, LINE_CAP = 512 };

static char lines[LINES_MAX][LINE_CAP];
static int n_lines;

/* The child: Conv2d -> BatchNorm2d -> ReLU -> Flatten -> Linear, a mean loss, backward,
 * an SGD step; exits (the summary is printed at exit). */
static void child_step(const char *path) {
    if (!freopen(path, "w", stderr)) _exit(3);
    setenv("CNNC_TRACE", "1", 1);
    cnnc_manual_seed(0);
    cnnc_module *net = cnnc_sequential_new(5, (cnnc_module *[]){
        cnnc_conv2d_new(3, 8,
                        CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1))),
        cnnc_batchnorm2d_new(8, CNNC_BATCHNORM()), cnnc_relu_new(CNNC_RELU()),
        cnnc_flatten_new(CNNC_FLATTEN()), cnnc_linear_new(8 * 6 * 6, 4, CNNC_LINEAR())});
    cnnc_tensor_list *params = net ? cnnc_module_named_parameters(net) : NULL;
    cnnc_optimizer *opt =
        params ? cnnc_sgd_new(CNNC_PARAM_LIST(params), CNNC_SGD(.lr = 0.1)) : NULL;
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(2, 3, 6, 6));
    cnnc_tensor *y = opt && x ? cnnc_module_forward(net, x) : NULL;
    cnnc_tensor *loss = y ? cnnc_mean(y) : NULL;
    const int ok = loss && cnnc_backward(loss, NULL, false) == CNNC_OK &&
                   cnnc_optimizer_step(opt) == CNNC_OK;
    cnnc_tensor_release(loss);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x);
    cnnc_optimizer_release(opt);
    cnnc_tensor_list_free(params);
    cnnc_module_release(net);
    fflush(stderr);
    exit(ok ? 0 : 4);
}

/* Runs the child and reads its stderr into lines; false if it failed. */
static bool run_child(void) {
    char path[] = "/tmp/cnnc_trace_XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) return false;
    close(fd);
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) child_step(path);
    int status = 0;
    const bool ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                    WEXITSTATUS(status) == 0;
    FILE *f = fopen(path, "r");
    n_lines = 0;
    while (f && n_lines < LINES_MAX && fgets(lines[n_lines], LINE_CAP, f)) n_lines++;
    if (f) fclose(f);
    unlink(path);
    return ok;
}

/* The first per-call line whose op (after the indentation) is op and whose text has
 * `kernel` right after it; -1 if none. *indent: its indentation. */
static int find_call(const char *op, const char *kernel, int *indent) {
    const char *prefix = "cnnc trace: ";
    const size_t plen = strlen(prefix);
    for (int i = 0; i < n_lines; i++) {
        if (strncmp(lines[i], prefix, plen) != 0) continue;
        const char *p = lines[i] + plen;
        int sp = 0;
        while (p[sp] == ' ') sp++;
        if (strncmp(p + sp, op, strlen(op)) != 0 || p[sp + (int)strlen(op)] != ' ') continue;
        const char *k = p + sp + strlen(op);
        while (*k == ' ') k++;
        if (strncmp(k, kernel, strlen(kernel)) != 0) continue;
        *indent = sp;
        return i;
    }
    return -1;
}

/* The summary row of op and kernel: its total ms and whether it is marked inner. */
static bool summary_row(const char *op, const char *kernel, double *ms, bool *inner) {
    for (int i = 0; i < n_lines; i++) {
        const char *p = lines[i];
        if (strncmp(p, "cnnc trace", 10) == 0 || strlen(p) < 3) continue;
        const bool star = p[0] == '*';
        p += 2;
        if (strncmp(p, op, strlen(op)) != 0) continue;
        const char *k = p + strlen(op);
        while (*k == ' ') k++;
        if (strncmp(k, kernel, strlen(kernel)) != 0) continue;
        long calls = 0;
        const char *num = k + strlen(kernel);
        if (sscanf(num, " %ld %lf", &calls, ms) != 2) continue;
        *inner = star;
        return true;
    }
    return false;
}

static void test_spans_nest_and_the_summary_counts_outer_ones(void) {
    REQUIRE(run_child());
    int seq = -1, conv = -1, kern = -1, node = -1, wgrad = -1, pass = -1, step = -1, bn = -1;
    const int l_seq = find_call("module.forward", "Sequential (train)", &seq);
    const int l_conv = find_call("module.forward", "Conv2d (train)", &conv);
    const int l_kern = find_call("conv.forward", "", &kern);
    const int l_bn = find_call("module.forward", "BatchNorm2d (train)", &bn);
    const int l_node = find_call("autograd.node", "ConvolutionBackward0", &node);
    const int l_wgrad = find_call("conv.backward_weight", "", &wgrad);
    const int l_pass = find_call("autograd.backward", "from MeanBackward", &pass);
    const int l_step = find_call("optim.step", "SGD", &step);
    CHECK(l_seq >= 0 && l_conv >= 0 && l_kern >= 0 && l_bn >= 0 && l_node >= 0 && l_wgrad >= 0 &&
          l_pass >= 0 && l_step >= 0);
    /* outermost: the container's call, the backward pass, the step */
    CHECK_EQ_INT(seq, 0);
    CHECK_EQ_INT(pass, 0);
    CHECK_EQ_INT(step, 0);
    /* each inner span deeper, its line printed before its outer span's */
    CHECK(conv > seq && bn == conv && kern > conv);
    CHECK(l_kern < l_conv && l_conv < l_seq && l_bn < l_seq);
    CHECK(node > pass && wgrad > node && l_wgrad < l_node && l_node < l_pass);
    CHECK(strstr(lines[l_conv], "[2, 3, 6, 6] -> [2, 8, 6, 6]") != NULL);
    CHECK(strstr(lines[l_step], "6 parameters") != NULL); /* conv, bn and linear weights, biases */
    /* the summary: total = the outermost spans' time; inner rows marked */
    double total = -1.0, ms_seq = 0.0, ms_pass = 0.0, ms_step = 0.0, ms_conv = 0.0;
    for (int i = 0; i < n_lines; i++)
        if (sscanf(lines[i], "cnnc trace summary (%lf ms traced", &total) == 1) break;
    bool inner = true;
    CHECK(summary_row("module.forward", "Sequential (train)", &ms_seq, &inner) && !inner);
    CHECK(summary_row("autograd.backward", "from MeanBackward0", &ms_pass, &inner) && !inner);
    CHECK(summary_row("optim.step", "SGD", &ms_step, &inner) && !inner);
    CHECK(summary_row("module.forward", "Conv2d (train)", &ms_conv, &inner) && inner);
    CHECK(total > 0.0);
    CHECK(fabs(total - (ms_seq + ms_pass + ms_step)) <= 0.003); /* printed to 0.001 ms */
    CHECK(ms_conv <= ms_seq + 0.001);
}

int main(void) {
    RUN_TEST(test_spans_nest_and_the_summary_counts_outer_ones);
    return check_summary();
}
