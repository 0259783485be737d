//! Placeholder until the mpirun tests land.
#![cfg(feature = "mpi")]
