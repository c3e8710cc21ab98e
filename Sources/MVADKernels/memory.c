// Process-wide allocator tuning (glibc's mallopt is not visible to Swift).

#include "mvad_kernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void mvad_retain_freed_memory(void) {
#if defined(__GLIBC__)
    // Every block comes from the heap instead of a fresh mmap() (glibc caps the mmap
    // threshold at 32 MiB, so large activations would otherwise be mapped, faulted in and
    // zeroed on every evaluation), and freed memory stays in the heap for reuse.
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}
