/* cnnc public API: tensor files. Included by cnnc.h; include <cnnc.h>, not this.
 *
 * safetensors (https://github.com/huggingface/safetensors): a tensor list with its
 * metadata map, and a module's state_dict under PyTorch's names, so weights move
 * between cnnc and PyTorch (through any safetensors reader, or cnnc.export in Python):
 *
 *     cnnc_module *net = ...;
 *     if (cnnc_module_save(net, "net.safetensors") != CNNC_OK)       // state_dict()
 *         fprintf(stderr, "%s\n", cnnc_last_error());
 *     cnnc_module_load(net, "net.safetensors", true);                // load_state_dict()
 *
 *     cnnc_tensor_list *l = NULL;
 *     if (cnnc_safetensors_load("weights.safetensors", &l) == CNNC_OK) {
 *         for (size_t i = 0; i < cnnc_tensor_list_size(l); i++)
 *             printf("%s\n", cnnc_tensor_list_name(l, i));
 *         cnnc_tensor_list_free(l);
 *     }
 *
 * NumPy's .npy (format versions 1, 2 and 3) for single tensors (`cnnc run`'s inputs
 * and outputs, np.save / np.load in Python).
 *
 * Files are checked completely before anything is allocated from them: every length,
 * offset, shape product and dtype size is checked against the file (no overlap, no gap,
 * nothing past the end, no integer overflow), and a malformed file is an error naming
 * the file, the tensor and the values (CNNC_ERR_INVALID_ARGUMENT; CNNC_ERR_IO when a
 * file cannot be opened, read or written). Nothing is returned on error (*out is NULL).
 *
 * Availability: the safetensors functions and cnnc_module_save/load parse JSON with
 * cJSON and are part of the library only when it was built with cJSON (Debian
 * libcjson-dev): then cnnc_has_io() is true and the CMake targets and pkg-config flags
 * define CNNC_HAS_IO for code built against the library. The .npy functions and
 * cnnc_has_io are always there. */
#ifndef CNNC_IO_H
#define CNNC_IO_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* True when the library was built with cJSON, i.e. has the safetensors functions. */
CNNC_API bool cnnc_has_io(void);

/* ---- safetensors ----------------------------------------------------------------- */

/* Reads every tensor of a safetensors file into a new list (*out; free with
 * cnnc_tensor_list_free), in file order (by data offset): F32, F16, BF16 and F64
 * become float32 (F64 rounded to nearest), I64, I32, U8 and BOOL become int64. The
 * __metadata__ entries go to the list's metadata map (cnnc_tensor_list_meta). Other
 * dtypes (I8, U16, F8_*...) are an error naming the tensor. The format's rules are
 * enforced: a JSON object header of at most 100 MB starting with '{' (trailing spaces
 * allowed), unique names, {dtype, shape, data_offsets} per tensor and nothing else,
 * string metadata values, data_offsets that cover the data exactly once, in any order
 * (no gap, no overlap, nothing left over), shape products matching the bytes. */
CNNC_API cnnc_status cnnc_safetensors_load(const char *path, cnnc_tensor_list **out);
/* The same from a file's bytes in memory (data[0..size); read only, not kept). */
CNNC_API cnnc_status cnnc_safetensors_load_buffer(const void *data, size_t size,
                                                  cnnc_tensor_list **out);
/* Writes the list to path (created or truncated): float32 tensors as F32, int64 as
 * I64, in list order, little-endian, the header padded with spaces to a multiple of 8
 * bytes as the reference writer does; its metadata map becomes __metadata__. Errors: a
 * None (NULL) entry, two entries of one name, an entry named "__metadata__", a file
 * that cannot be written. */
CNNC_API cnnc_status cnnc_safetensors_save(const char *path, const cnnc_tensor_list *list);

/* Saves m's state_dict (parameters and persistent buffers, PyTorch's names; int64
 * buffers such as BatchNorm's num_batches_tracked as I64) to a safetensors file. */
CNNC_API cnnc_status cnnc_module_save(cnnc_module *m, const char *path);
/* Loads a safetensors file into m with cnnc_module_load_state_dict(m, ..., strict):
 * shapes checked, values cast to each tensor's dtype, missing and unexpected keys
 * errors when strict; nothing changed on error. */
CNNC_API cnnc_status cnnc_module_load(cnnc_module *m, const char *path, bool strict);

/* ---- NumPy .npy ------------------------------------------------------------------ */

/* Reads a .npy file (format version 1.0, 2.0 or 3.0) into a new tensor (*out): '<f4'
 * and '<f8' become float32, '<i8', '|u1' and '|b1' int64. C order only
 * (fortran_order True is an error), at most CNNC_MAX_DIMS dims, data exactly as long
 * as the shape says. Big-endian and other dtypes are errors naming the dtype. */
CNNC_API cnnc_status cnnc_npy_load(const char *path, cnnc_tensor **out);
/* The same from a file's bytes in memory. */
CNNC_API cnnc_status cnnc_npy_load_buffer(const void *data, size_t size, cnnc_tensor **out);
/* Writes t as .npy (format version 1.0), '<f4' for
 * float32, '<i8' for int64, C order, header padded to 64 bytes as np.save does. */
CNNC_API cnnc_status cnnc_npy_save(const char *path, const cnnc_tensor *t);

#ifdef __cplusplus
}
#endif
#endif /* CNNC_IO_H */
