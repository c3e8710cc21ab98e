// libjpeg-turbo's TurboJPEG API (turbojpeg.h, Debian libturbojpeg0-dev).
#include <turbojpeg.h>
