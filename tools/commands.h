/* The program's subcommands that live in files of their own (tools/cmd_*.c), each
 * `int cmd_NAME(int argc, char **argv)` with argv[0] the command name; the table of
 * commands is in tools/cnnc.c. */
#ifndef CNNC_TOOLS_COMMANDS_H
#define CNNC_TOOLS_COMMANDS_H
#include <cnnc.h>

int cmd_run(int argc, char **argv);  /* tools/cmd_model.c */
int cmd_info(int argc, char **argv); /* tools/cmd_model.c */
#endif
