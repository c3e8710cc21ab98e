// Flushing standard output with its error state (Swift 6 cannot touch C's `stdout` global).

#include "mvad_kernels.h"

#include <stdio.h>

int mvad_flush_stdout(void) {
    if (fflush(stdout) != 0) return -1;
    return ferror(stdout) ? -1 : 0;
}
