/*  l3_fs — the few file-system chores every component does the same way. */
#ifndef L3_FS_H
#define L3_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* write(2) until all of data is written: retries EINTR and short writes, and on a
   non-blocking fd waits for POLLOUT (up to 1 s per try) on EAGAIN. false on any other
   error, errno set. */
bool l3_write_all(int fd, const void *data, size_t len);
/* mkdir -p: create path and its missing parents with mode; true when it exists after. */
bool l3_mkdirs(const char *path, mode_t mode);
/* fsync the directory dir, so a rename or create inside it is durable. */
bool l3_fsync_dir(const char *dir);
/* Replace the file at path with text, atomically: a temporary ".NAME.XXXXXX" beside it
   (a dot-file, which the directory readers skip), given mode, written, synced, renamed
   over path. false with errno set; the temporary file is gone either way. */
bool l3_replace_file(const char *path, const char *text, mode_t mode);

#endif
