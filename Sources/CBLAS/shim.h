// OpenBLAS's CBLAS header; the include path comes from pkg-config (openblas.pc).
#include <cblas.h>
