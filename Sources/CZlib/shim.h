// zlib (for crc32); the include path comes from pkg-config (zlib.pc).
#include <zlib.h>
