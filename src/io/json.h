/* Internal: cJSON, wherever its headers are (<cjson/cJSON.h> from Debian's CMake
 * package, <cJSON.h> when pkg-config adds .../include/cjson). Only files built with
 * cJSON (src/io/ except the ones CMakeLists.txt lists as JSON-free) include this. */
#ifndef CNNC_IO_JSON_H
#define CNNC_IO_JSON_H
#if defined(__has_include)
#if __has_include(<cjson/cJSON.h>)
#include <cjson/cJSON.h>
#else
#include <cJSON.h>
#endif
#else
#include <cjson/cJSON.h>
#endif
#endif
