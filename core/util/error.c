#include "util/error.h"

const char *ztpd_strerror(int code)
{
    switch (code) {
#define ZTPD_ERR_CASE(name, value, msg)                                                            \
    case value:                                                                                    \
        return msg;
        ZTPD_ERRORS(ZTPD_ERR_CASE)
#undef ZTPD_ERR_CASE
    }
    return "unknown error";
}
