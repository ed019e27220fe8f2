/* Model files in memory (cnnc_model_to_list / cnnc_model_from_list): a Sequential
 * described and rebuilt, the rebuilt model running as the original, described
 * again identically, trained through; and every malformed description rejected
 * with an error naming what is wrong. The file layer (safetensors) is tested in
 * test_io.c and the exporter's files against PyTorch in test_model.py. */
#include "check.h"

#ifdef CNNC_HAS_IO

/* conv -> bn -> relu -> maxpool -> Sequential(conv, relu) -> flatten -> linear */
static cnnc_module *small_net(void) {
    cnnc_module *inner = cnnc_sequential_new(2, (cnnc_module *[]){
        cnnc_conv2d_new(4, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1), .bias = false)),
        cnnc_relu_new(CNNC_RELU())});
    return cnnc_sequential_new(7, (cnnc_module *[]){
        cnnc_conv2d_new(2, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3, 3), .padding = CNNC_INTS(1))),
        cnnc_batchnorm2d_new(4, CNNC_BATCHNORM(.momentum = CNNC_SOME(0.25))),
        cnnc_relu_new(CNNC_RELU()),
        cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2))),
        inner,
        cnnc_flatten_new(CNNC_FLATTEN()),
        cnnc_linear_new(4 * 3 * 3, 5, CNNC_LINEAR())});
}

static cnnc_tensor *input(void) {
    cnnc_manual_seed(3);
    return cnnc_randn(CNNC_SHAPE(2, 2, 6, 6));
}

static bool same(cnnc_tensor *a, cnnc_tensor *b) {
    if (!a || !b || cnnc_tensor_numel(a) != cnnc_tensor_numel(b)) return false;
    return memcmp(cnnc_tensor_data_f32(a), cnnc_tensor_data_f32(b),
                  (size_t)cnnc_tensor_numel(a) * sizeof(float)) == 0;
}

static void test_round_trip(void) {
    cnnc_scope_begin();
    cnnc_module *net = small_net();
    REQUIRE(net);
    cnnc_tensor *x = input();
    cnnc_module_forward(net, x); /* moves the running statistics off their defaults */
    cnnc_module_eval(net);
    cnnc_tensor_list *file = cnnc_model_to_list(net);
    REQUIRE(file);
    const char *arch = cnnc_tensor_list_meta(file, "cnnc.model");
    CHECK_CONTAINS(arch, "\"format\":\"cnnc.model\"");
    CHECK_CONTAINS(arch, "\"momentum\":0.25");
    cnnc_module *back = cnnc_model_from_list(file);
    REQUIRE(back);
    CHECK(!strcmp(cnnc_module_type(back), "Sequential"));
    cnnc_module_eval(back);
    CHECK(same(cnnc_module_forward(net, x), cnnc_module_forward(back, x)));
    char *r1 = cnnc_module_repr(net), *r2 = cnnc_module_repr(back);
    CHECK(r1 && r2 && !strcmp(r1, r2));
    cnnc_free(r1);
    cnnc_free(r2);
    cnnc_tensor_list *again = cnnc_model_to_list(back);
    REQUIRE(again);
    CHECK(!strcmp(arch, cnnc_tensor_list_meta(again, "cnnc.model")));
    CHECK_EQ_INT(cnnc_tensor_list_size(again), cnnc_tensor_list_size(file));
    cnnc_tensor_list_free(again);
    cnnc_tensor_list_free(file);
    cnnc_module_release(back);
    cnnc_module_release(net);
    cnnc_scope_end();
}

/* A loaded model trains: gradients reach every parameter, and the running
 * statistics move in training mode as the original's do. */
static void test_trains(void) {
    cnnc_scope_begin();
    cnnc_module *net = small_net();
    REQUIRE(net);
    cnnc_tensor_list *file = cnnc_model_to_list(net);
    cnnc_module *back = file ? cnnc_model_from_list(file) : NULL;
    REQUIRE(back);
    cnnc_tensor *x = input();
    CHECK_OK(cnnc_backward(cnnc_sum(cnnc_module_forward(net, x)), NULL, false));
    CHECK_OK(cnnc_backward(cnnc_sum(cnnc_module_forward(back, x)), NULL, false));
    cnnc_tensor_list *p1 = cnnc_module_named_parameters(net), *p2 = cnnc_module_named_parameters(back);
    REQUIRE(p1 && p2);
    CHECK_EQ_INT(cnnc_tensor_list_size(p1), cnnc_tensor_list_size(p2));
    for (size_t i = 0; i < cnnc_tensor_list_size(p1); i++) {
        CHECK(!strcmp(cnnc_tensor_list_name(p1, i), cnnc_tensor_list_name(p2, i)));
        CHECK(same(cnnc_tensor_grad(cnnc_tensor_list_get(p1, i)), cnnc_tensor_grad(cnnc_tensor_list_get(p2, i))));
    }
    cnnc_tensor *m1 = NULL, *m2 = NULL;
    CHECK_OK(cnnc_module_tensor(net, "1.running_var", &m1));
    CHECK_OK(cnnc_module_tensor(back, "1.running_var", &m2));
    CHECK(same(m1, m2));
    cnnc_tensor_list_free(p1);
    cnnc_tensor_list_free(p2);
    cnnc_tensor_list_free(file);
    cnnc_module_release(back);
    cnnc_module_release(net);
    cnnc_scope_end();
}

/* A hand-written graph: holders with their own tensors, a shared module, ops with
 * several results, attributes. */
static const char *graph_json =
    "{\"format\":\"cnnc.model\",\"version\":1,\"type\":\"Net\","
    "\"modules\":[{\"path\":\"\",\"type\":\"Net\",\"parameters\":[\"scale\"]},"
    "{\"path\":\"block\",\"type\":\"Block\",\"extra_repr\":\"width=4\",\"buffers\":[{\"name\":\"shift\",\"persistent\":true}]},"
    "{\"path\":\"block.act\",\"type\":\"ReLU\",\"args\":{}},"
    "{\"path\":\"act2\",\"shared\":\"block.act\"},"
    "{\"path\":\"fc\",\"type\":\"Linear\",\"args\":{\"in_features\":4,\"out_features\":2}}],"
    "\"inputs\":[{\"name\":\"x\",\"shape\":[3,4]}],"
    "\"nodes\":[{\"name\":\"a\",\"module\":\"block.act\",\"args\":[{\"node\":\"x\"}]},"
    "{\"name\":\"s\",\"attr\":\"scale\"},{\"name\":\"sh\",\"attr\":\"block.shift\"},"
    "{\"name\":\"m\",\"op\":\"mul\",\"args\":[{\"node\":\"a\"},{\"node\":\"s\"}]},"
    "{\"name\":\"p\",\"op\":\"add\",\"args\":[{\"node\":\"m\"},{\"node\":\"sh\"}]},"
    "{\"name\":\"halves\",\"op\":\"chunk\",\"args\":[{\"node\":\"p\"},2,1]},"
    "{\"name\":\"c\",\"op\":\"cat\",\"args\":[[{\"node\":\"halves\",\"index\":1},{\"node\":\"halves\",\"index\":0}],1]},"
    "{\"name\":\"b\",\"module\":\"act2\",\"args\":[{\"node\":\"c\"}]},"
    "{\"name\":\"y\",\"module\":\"fc\",\"args\":[{\"node\":\"b\"}]}],"
    "\"outputs\":[{\"node\":\"y\"},{\"node\":\"halves\",\"index\":0}]}";

static cnnc_tensor_list *graph_file(const char *json) {
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    const float scale[4] = {1, 2, 3, 4}, shift[4] = {0.5f, -1, 0, 2}, w[8] = {1, 0, 0, 1, 1, 1, -1, 0}, b[2] = {0, 1};
    if (!l) return NULL;
    cnnc_tensor_list_append(l, "scale", cnnc_from_data(CNNC_SHAPE(4), CNNC_FLOAT32, scale));
    cnnc_tensor_list_append(l, "block.shift", cnnc_from_data(CNNC_SHAPE(4), CNNC_FLOAT32, shift));
    cnnc_tensor_list_append(l, "fc.weight", cnnc_from_data(CNNC_SHAPE(2, 4), CNNC_FLOAT32, w));
    cnnc_tensor_list_append(l, "fc.bias", cnnc_from_data(CNNC_SHAPE(2), CNNC_FLOAT32, b));
    cnnc_tensor_list_set_meta(l, "cnnc.model", json);
    return l;
}

static void test_graph(void) {
    cnnc_scope_begin();
    cnnc_tensor_list *file = graph_file(graph_json);
    cnnc_module *g = file ? cnnc_model_from_list(file) : NULL;
    REQUIRE(g);
    const float xv[4] = {1, -1, 2, 3};
    cnnc_tensor *x = cnnc_from_data(CNNC_SHAPE(1, 4), CNNC_FLOAT32, xv), *out[2];
    CHECK_EQ_INT(cnnc_module_forward_n(g, 1, &x, out), 2);
    /* relu(x) * scale + shift = [1.5, -1, 6, 14]; halves swapped: [6, 14, 1.5, 0] after relu */
    const float *y = cnnc_tensor_data_f32(out[0]), *h = cnnc_tensor_data_f32(out[1]);
    CHECK(y && y[0] == 6 + 0 + 0 + 0 && y[1] == 6 + 14 - 1.5f + 1);
    CHECK(h && h[0] == 1.5f && h[1] == -1);
    int64_t dims[CNNC_MAX_DIMS];
    CHECK_EQ_INT(cnnc_model_input_shape(g, 0, dims), 2);
    CHECK(dims[0] == 3 && dims[1] == 4);
    CHECK_EQ_INT(cnnc_model_input_shape(g, 1, dims), -1);
    char *repr = cnnc_module_repr(g);
    CHECK_CONTAINS(repr, "(block): Block(\n    width=4");
    CHECK_CONTAINS(repr, "(act2): ReLU()");
    cnnc_free(repr);
    cnnc_tensor_list *sd = cnnc_module_state_dict(g);
    CHECK(sd && cnnc_tensor_list_size(sd) == 4 && !strcmp(cnnc_tensor_list_name(sd, 0), "scale"));
    cnnc_tensor_list *again = cnnc_model_to_list(g);
    cnnc_module *g2 = again ? cnnc_model_from_list(again) : NULL;
    REQUIRE(g2);
    cnnc_tensor *out2[2];
    CHECK_EQ_INT(cnnc_module_forward_n(g2, 1, &x, out2), 2);
    CHECK(same(out[0], out2[0]) && same(out[1], out2[1]));
    cnnc_tensor_list_free(sd);
    cnnc_tensor_list_free(again);
    cnnc_tensor_list_free(file);
    cnnc_module_release(g2);
    cnnc_module_release(g);
    cnnc_scope_end();
}

/* The graph description with `from` replaced by `to` (once) must fail naming `want`. */
static void rejects(const char *from, const char *to, const char *want) {
    const char *at = strstr(graph_json, from);
    if (!at) {
        CHECK(at != NULL);
        fprintf(stderr, "    (pattern %s not in the test graph)\n", from);
        return;
    }
    size_t head = (size_t)(at - graph_json), len = strlen(graph_json) - strlen(from) + strlen(to);
    char *json = malloc(len + 1);
    if (!json) return;
    memcpy(json, graph_json, head);
    strcpy(json + head, to);
    strcat(json, at + strlen(from));
    cnnc_tensor_list *file = graph_file(json);
    cnnc_module *g = file ? cnnc_model_from_list(file) : NULL;
    CHECK(g == NULL);
    if (!check_contains_(cnnc_last_error(), want))
        fprintf(stderr, "    replacing %s with %s: wanted \"%s\" in \"%s\"\n", from, to, want, cnnc_last_error());
    CHECK_ERROR_CONTAINS(want);
    cnnc_module_release(g);
    cnnc_tensor_list_free(file);
    free(json);
}

static void test_malformed(void) {
    cnnc_scope_begin();
    rejects("{\"format\"", "[{\"format\"", "not valid JSON");
    rejects("\"format\":\"cnnc.model\"", "\"format\":\"onnx\"", "'format'");
    rejects("\"version\":1", "\"version\":2", "version 2");
    rejects("\"type\":\"Net\",", "", "no 'type'");
    rejects("\"modules\"", "\"mods\"", "no 'modules' list");
    rejects("{\"path\":\"\",\"type\":\"Net\",\"parameters\":[\"scale\"]},", "", "comes first");
    rejects("\"type\":\"ReLU\",\"args\":{}", "\"type\":\"ReLu\",\"args\":{}", "unknown type 'ReLu'");
    rejects("\"in_features\":4", "\"in_feature\":4", "in_feature");
    rejects("\"out_features\":2", "\"out_features\":\"2\"", "out_features");
    rejects("\"out_features\":2", "\"out_features\":[2,[3]]", "out_features");
    rejects("\"out_features\":2", "\"out_features\":2.5", "out_features");
    rejects("\"shared\":\"block.act\"", "\"shared\":\"block.gone\"", "block.gone");
    rejects("\"path\":\"block.act\"", "\"path\":\"blok.act\"", "'blok'");
    rejects("\"parameters\":[\"scale\"]", "\"parameters\":[\"scales\"]", "scales");
    rejects("\"persistent\":true", "\"persistent\":false", "not persistent");
    rejects("{\"name\":\"x\",\"shape\":[3,4]}", "{\"shape\":[3,4]}", "inputs[0]");
    rejects("{\"node\":\"x\"}", "{\"node\":\"y\"}", "'y', which is no earlier node");
    rejects("{\"node\":\"a\"},{\"node\":\"s\"}", "{\"node\":\"a\"},{\"node\":\"m\"}", "'m', which is no earlier node");
    rejects("\"name\":\"s\"", "\"name\":\"a\"", "two nodes are named 'a'");
    rejects("\"op\":\"mul\"", "\"op\":\"mult\"", "unknown op 'mult'");
    rejects("\"op\":\"mul\"", "\"op\":\"mul\",\"module\":\"fc\"", "exactly one of");
    rejects("[{\"node\":\"p\"},2,1]", "[]", "chunk takes");
    rejects("\"module\":\"fc\"", "\"module\":\"fc2\"", "'fc2', which is not defined");
    rejects("\"attr\":\"scale\"", "\"attr\":\"scal\"", "'scal'");
    rejects("\"index\":1", "\"index\":-1", "not a valid result index");
    rejects("{\"node\":\"halves\",\"index\":0}]}", "{\"nod\":\"halves\"}]}", "{\"node\": name}");
    rejects("[{\"node\":\"p\"},2,1]", "[{\"node\":\"p\"},[[[[[[[[[[2]]]]]]]]]],1]", "nested deeper");
    rejects("\"outputs\":[{\"node\":\"y\"},{\"node\":\"halves\",\"index\":0}]", "\"outputs\":[]", "outputs");
    rejects("\"in_features\":4", "\"in_features\":5", "size mismatch");
    cnnc_scope_end();
}

/* conv 2->4 k3 on 6x6: 288 outputs x 18; conv 4->4 k3 on 3x3: 72 x 36; linear 36->5: 10 x 36 */
static void test_macs(void) {
    cnnc_scope_begin();
    cnnc_module *net = small_net();
    REQUIRE(net);
    int64_t macs = -1;
    cnnc_tensor *x = input();
    CHECK_OK(cnnc_module_macs(net, 1, &x, &macs));
    CHECK_EQ_INT(macs, 288 * 18 + 72 * 36 + 10 * 36);
    CHECK(cnnc_module_is_training(net) && cnnc_module_is_training(cnnc_module_get_submodule(net, "4.0")));
    cnnc_tensor *nb = NULL;
    CHECK_OK(cnnc_module_tensor(net, "1.num_batches_tracked", &nb));
    CHECK(nb && cnnc_tensor_data_i64(nb)[0] == 0);
    CHECK_ERR(cnnc_module_macs(net, -1, &x, &macs));
    cnnc_module_release(net);
    cnnc_scope_end();
}

static void test_errors(void) {
    CHECK(cnnc_model_from_list(NULL) == NULL);
    CHECK_ERROR_CONTAINS("'list' is NULL");
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    CHECK(cnnc_model_from_list(l) == NULL);
    CHECK_ERROR_CONTAINS("no 'cnnc.model' metadata");
    cnnc_tensor_list_free(l);
    /* a user-defined module cannot be described */
    cnnc_module *conv = cnnc_conv2d_new(1, 1, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(1)));
    CHECK(cnnc_model_to_list(conv) == NULL);
    CHECK_ERROR_CONTAINS("Sequential");
    cnnc_module_release(conv);
}

#endif

int main(void) {
#ifndef CNNC_HAS_IO
    printf("test_model: skipped (cnnc was built without cJSON, so without model files)\n");
    return 0;
#else
    RUN_TEST(test_round_trip);
    RUN_TEST(test_trains);
    RUN_TEST(test_graph);
    RUN_TEST(test_malformed);
    RUN_TEST(test_macs);
    RUN_TEST(test_errors);
    return check_summary();
#endif
}
