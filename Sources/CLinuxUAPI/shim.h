// The Linux V4L2 and GPIO (v2) userspace API as the Debian kernel headers define it
// (linux-libc-dev), plus the ioctl request codes as functions, since Swift cannot import the
// _IOR/_IOWR macros, and a non-variadic ioctl.
#ifndef MVAD_CLINUXUAPI_SHIM_H
#define MVAD_CLINUXUAPI_SHIM_H

#include <linux/videodev2.h>
#include <linux/gpio.h>
#include <sys/ioctl.h>

static inline int mvad_ioctl(int fd, unsigned long request, void *argument) {
    return ioctl(fd, request, argument);
}

#define MVAD_REQUEST(name, macro) \
    static inline unsigned long mvad_request_##name(void) { return (unsigned long)(macro); }

MVAD_REQUEST(vidioc_querycap, VIDIOC_QUERYCAP)
MVAD_REQUEST(vidioc_enum_fmt, VIDIOC_ENUM_FMT)
MVAD_REQUEST(vidioc_g_fmt, VIDIOC_G_FMT)
MVAD_REQUEST(vidioc_s_fmt, VIDIOC_S_FMT)
MVAD_REQUEST(vidioc_reqbufs, VIDIOC_REQBUFS)
MVAD_REQUEST(vidioc_querybuf, VIDIOC_QUERYBUF)
MVAD_REQUEST(vidioc_qbuf, VIDIOC_QBUF)
MVAD_REQUEST(vidioc_dqbuf, VIDIOC_DQBUF)
MVAD_REQUEST(vidioc_streamon, VIDIOC_STREAMON)
MVAD_REQUEST(vidioc_streamoff, VIDIOC_STREAMOFF)
MVAD_REQUEST(vidioc_g_parm, VIDIOC_G_PARM)
MVAD_REQUEST(vidioc_s_parm, VIDIOC_S_PARM)
MVAD_REQUEST(vidioc_g_ctrl, VIDIOC_G_CTRL)
MVAD_REQUEST(vidioc_s_ctrl, VIDIOC_S_CTRL)
MVAD_REQUEST(vidioc_queryctrl, VIDIOC_QUERYCTRL)

MVAD_REQUEST(gpio_get_chipinfo, GPIO_GET_CHIPINFO_IOCTL)
MVAD_REQUEST(gpio_v2_get_lineinfo, GPIO_V2_GET_LINEINFO_IOCTL)
MVAD_REQUEST(gpio_v2_get_line, GPIO_V2_GET_LINE_IOCTL)
MVAD_REQUEST(gpio_v2_line_set_config, GPIO_V2_LINE_SET_CONFIG_IOCTL)
MVAD_REQUEST(gpio_v2_line_get_values, GPIO_V2_LINE_GET_VALUES_IOCTL)
MVAD_REQUEST(gpio_v2_line_set_values, GPIO_V2_LINE_SET_VALUES_IOCTL)

#undef MVAD_REQUEST

#endif
