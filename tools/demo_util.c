/* Helpers shared by the demo sections (tools/demo_*.c): checking results and
 * printing tensors and modules. */
#include "demo.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Checking results                                                         */
/* ------------------------------------------------------------------------ */

/* Reports a failed call with the library's message and exits with status 1. */
void demo_die(const char *call, const char *file, int line)
{
    fflush(stdout);
    fprintf(stderr, "cnnc: %s failed (%s:%d): %s: %s\n", call, file, line,
            cnnc_status_name(cnnc_last_status()), cnnc_last_error());
    exit(1);
}

void *demo_check_ptr(void *p, const char *call, const char *file, int line)
{
    if (!p)
        demo_die(call, file, line);
    return p;
}

void demo_check_status(cnnc_status s, const char *call, const char *file, int line)
{
    if (s != CNNC_OK)
        demo_die(call, file, line);
}


/* A call the demo makes on purpose with bad arguments: it must fail, and the
 * message is shown. A success is itself an error of the library. */
void demo_expect_error(bool failed, const char *call, const char *file, int line)
{
    if (!failed) {
        fflush(stdout);
        fprintf(stderr, "cnnc: %s succeeded but should have failed (%s:%d)\n", call, file,
                line);
        exit(1);
    }
    printf("  -> %s: %s\n", cnnc_status_name(cnnc_last_status()), cnnc_last_error());
    cnnc_clear_error();
}

/* ------------------------------------------------------------------------ */
/* Printing                                                                 */
/* ------------------------------------------------------------------------ */

/* Prints "label = text", indenting continuation lines under the first one so a
 * multi-line tensor stays aligned. */
void print_labeled(const char *label, const char *text)
{
    int indent = 2 + (int)strlen(label) + 3;
    printf("  %s = ", label);
    for (const char *p = text; *p; p++) {
        putchar(*p);
        if (*p == '\n' && p[1] && p[1] != '\n')
            printf("%*s", indent, "");
    }
    putchar('\n');
}

void show(const char *label, const cnnc_tensor *t)
{
    char *s = NN(cnnc_tensor_to_string(t));
    print_labeled(label, s);
    cnnc_free(s);
}

void show_shape(const char *label, const cnnc_tensor *t)
{
    char *s = NN(cnnc_tensor_shape_string(t));
    printf("  %s.shape = %s\n", label, s);
    cnnc_free(s);
}

/* Text indented by two spaces, ending with one newline. */
void print_indented(const char *text)
{
    bool line_start = true;
    for (const char *p = text; *p; p++) {
        if (line_start && *p != '\n')
            printf("  ");
        putchar(*p);
        line_start = *p == '\n';
    }
    if (!line_start)
        putchar('\n');
}

/* print(module) */
void show_module(const cnnc_module *m)
{
    char *s = NN(cnnc_module_repr(m));
    print_indented(s);
    cnnc_free(s);
}

/* The module listing (cnnc_module_vars) */
void show_vars(const cnnc_module *m)
{
    char *s = NN(cnnc_module_vars(m));
    print_indented(s);
    cnnc_free(s);
}

void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

const char *yes_no(bool b)
{
    return b ? "True" : "False";
}

/* grad_fn as PyTorch prints it: a name or None. */
const char *grad_fn(const cnnc_tensor *t)
{
    const char *name = cnnc_tensor_grad_fn_name(t);
    return name ? name : "None";
}

double item(const cnnc_tensor *t)
{
    double v = 0.0;
    demo_check_status(cnnc_tensor_item(t, &v), "cnnc_tensor_item(t, &v)", __FILE__, __LINE__);
    return v;
}

