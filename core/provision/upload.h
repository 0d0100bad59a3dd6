/* Files phones PUT (Polycom logs and overrides): stored as <data_dir>/uploads/<mac>/<name>,
 * written and read with uv_fs on libuv's thread pool so the loop never waits on the disk.
 * Callers have already checked that name is an `upload` entry of the device's vendor (fixed text
 * plus the MAC, so it cannot leave the directory) and that the body is within the cap. */
#ifndef ZTPD_PROVISION_UPLOAD_H
#define ZTPD_PROVISION_UPLOAD_H

struct ztpd_app;
struct ztpd_http_req;

/* Stores req's body for mac under name (replacing an older copy atomically: temp file, then
 * rename; mode 0600, never executable) and answers req 201, or 500 when the disk fails. */
void ztpd_upload_store(struct ztpd_app *app, struct ztpd_http_req *req, const char *mac,
                       const char *name);

/* Answers req with the file mac stored under name (200), or the common 404 when there is none.
 * Only this MAC's directory is read, so one phone never receives another's upload. */
void ztpd_upload_serve(struct ztpd_app *app, struct ztpd_http_req *req, const char *mac,
                       const char *name);

#endif
