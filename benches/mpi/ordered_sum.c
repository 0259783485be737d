/* The rank-ordered sum of `lintrain train --distributed` on its own:
 * the same MPI calls as `MpiWorld::ordered_sum` (src/distributed/
 * mpi_world.rs), timed over many repetitions.
 *
 *   mpicc -O2 -o ordered_sum benches/mpi/ordered_sum.c
 *   mpirun -n K ./ordered_sum P [REPS [INNER]]
 *
 * P is the number of f64 values (lintrain sums (D+1)*C + 2 per L-BFGS
 * evaluation and (D+1)*C per SGD step). Each repetition is an
 * MPI_Alltoallv that sends every rank its segment j of the P values
 * (segment j = values floor(jP/K)..floor((j+1)P/K)), the segment added
 * in rank order, and an MPI_Allgatherv of the segments back: about
 * 2*P*8*(K-1)/K bytes sent and received per rank. Rank 0 prints one JSON
 * line: the median, minimum and maximum of REPS timed blocks (each block
 * INNER sums, default 100, after one warm-up block), in microseconds per
 * sum, each block's time that of its slowest rank.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static long share(long n, long r, long k) { return n * r / k; }

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long p = argc > 1 ? atol(argv[1]) : 5140;
    int reps = argc > 2 ? atoi(argv[2]) : 21;
    int inner = argc > 3 ? atoi(argv[3]) : 100;

    double *values = malloc(p * sizeof(double));
    int *counts = malloc(size * sizeof(int)), *displs = malloc(size * sizeof(int));
    for (int j = 0; j < size; j++) {
        displs[j] = (int)share(p, j, size);
        counts[j] = (int)(share(p, j + 1, size) - displs[j]);
    }
    int mine = counts[rank];
    double *received = malloc((size_t)(mine > 0 ? mine : 1) * size * sizeof(double));
    double *reduced = malloc((size_t)(mine > 0 ? mine : 1) * sizeof(double));
    int *rcounts = malloc(size * sizeof(int)), *rdispls = malloc(size * sizeof(int));
    for (int j = 0; j < size; j++) {
        rcounts[j] = mine;
        rdispls[j] = j * mine;
    }
    double *times = malloc(reps * sizeof(double));
    for (int rep = -1; rep < reps; rep++) {
        /* Each sum multiplies the values by about K: 100 stay finite. */
        for (long i = 0; i < p; i++) values[i] = 1e-3 * (double)(i % 97) + rank;
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        for (int it = 0; it < inner; it++) {
            MPI_Alltoallv(values, counts, displs, MPI_DOUBLE, received, rcounts, rdispls,
                          MPI_DOUBLE, MPI_COMM_WORLD);
            for (int i = 0; i < mine; i++) {
                double sum = 0.0;
                for (int r = 0; r < size; r++) sum += received[r * mine + i];
                reduced[i] = sum;
            }
            MPI_Allgatherv(reduced, mine, MPI_DOUBLE, values, counts, displs, MPI_DOUBLE,
                           MPI_COMM_WORLD);
        }
        double elapsed = (MPI_Wtime() - start) / inner;
        double slowest;
        MPI_Allreduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (rep >= 0) times[rep] = slowest * 1e6;
    }
    if (rank == 0) {
        qsort(times, reps, sizeof(double), cmp);
        printf("{\"ranks\": %d, \"values\": %ld, \"bytes_per_rank\": %ld, "
               "\"us_median\": %.2f, \"us_min\": %.2f, \"us_max\": %.2f, \"blocks\": %d, "
               "\"sums_per_block\": %d}\n",
               size, p, 2 * p * 8 * (size - 1) / size, times[reps / 2], times[0],
               times[reps - 1], reps, inner);
    }
    MPI_Finalize();
    return 0;
}
