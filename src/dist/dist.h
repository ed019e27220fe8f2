/* Internal: the distributed part's shared helpers (MPI lives only in src/dist). */
#ifndef CNNC_DIST_DIST_H
#define CNNC_DIST_DIST_H
#include <mpi.h>

#include "core/tensor.h"
#include "cnnc/distributed.h"

/* Is the process group up? Sets PyTorch's error naming fn when it is not. */
cnnc_status cnnc__dist_check(const char *fn);
/* The group's communicator (MPI_COMM_WORLD) once initialised. */
MPI_Comm cnnc__dist_comm(void);
/* An MPI failure as a cnnc error naming the call. */
cnnc_status cnnc__mpi_error(const char *what, int code);
/* Seconds on a monotonic clock (MPI_Wtime). */
double cnnc__dist_now(void);
/* Adds seconds spent in MPI calls to the process's total (cnnc_dist_comm_seconds). */
void cnnc__dist_account(double seconds);

/* Agrees on failure: every rank passes its own status; returns CNNC_OK when all ranks
 * passed CNNC_OK, else an error on every rank: the failing rank keeps its message,
 * the others get "<what>: rank R failed (its error is reported there)" naming the
 * lowest failing rank. */
cnnc_status cnnc__dist_agree(const char *what, cnnc_status local);
#endif
