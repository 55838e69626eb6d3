/* fake_adhomi.c - a library that defines the symbol the ROMIO driver
 * ad_homi exports (ADIO_HOMI_operations), preloaded next to libhomi_mpiio
 * to check that the layer stands aside in an MPI that contains ad_homi. */
extern const int ADIO_HOMI_operations;
const int ADIO_HOMI_operations = 1;
