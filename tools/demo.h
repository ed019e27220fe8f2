/* The demo's shared helpers and its sections, one tools/demo_<family>.c each.
 * Sections use the public API only, as any other program would. */
#ifndef CNNC_TOOLS_DEMO_H
#define CNNC_TOOLS_DEMO_H
#include <cnnc.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Reports a failed call with the library's message and exits with status 1. */
void demo_die(const char *call, const char *file, int line);
void *demo_check_ptr(void *p, const char *call, const char *file, int line);
void demo_check_status(cnnc_status s, const char *call, const char *file, int line);
/* NN(call): a pointer result that must not be NULL. OK(call): a status that must be
 * CNNC_OK. Either exits with the library's message otherwise. */
#define NN(call) demo_check_ptr((call), #call, __FILE__, __LINE__)
#define OK(call) demo_check_status((call), #call, __FILE__, __LINE__)

/* A call made on purpose with bad arguments: it must fail, and the message is
 * shown. A success is itself an error of the library. */
void demo_expect_error(bool failed, const char *call, const char *file, int line);
#define EXPECT_NULL(call) demo_expect_error((call) == NULL, #call, __FILE__, __LINE__)
#define EXPECT_FAIL(call) demo_expect_error((call) != CNNC_OK, #call, __FILE__, __LINE__)

/* Printing: "  label = <tensor>" (continuation lines aligned), "  label.shape = [..]",
 * print(module) and the module listing indented by two spaces, printf. */
void print_labeled(const char *label, const char *text);
void show(const char *label, const cnnc_tensor *t);
void show_shape(const char *label, const cnnc_tensor *t);
void print_indented(const char *text);
void show_module(const cnnc_module *m);
void show_vars(const cnnc_module *m);
void say(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
const char *yes_no(bool b);
/* grad_fn as PyTorch prints it: a name or None. */
const char *grad_fn(const cnnc_tensor *t);
/* The value of a one-element tensor. */
double item(const cnnc_tensor *t);

/* The sections of `cnnc demo`, one file per op family. Each runs inside a scope
 * (opened by the caller) with cnnc_manual_seed(0). */
void demo_conv(void);       /* tools/demo_conv.c */
void demo_pool(void);       /* tools/demo_pool.c */
void demo_resample(void);   /* tools/demo_resample.c */
void demo_norm(void);       /* tools/demo_norm.c */
void demo_activation(void); /* tools/demo_activation.c */
void demo_train_cnn(void);  /* tools/demo_train.c */
#endif
