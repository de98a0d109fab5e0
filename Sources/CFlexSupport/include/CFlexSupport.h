// C helpers for flexctl's runtime. Internal: no stable API.
#pragma once

/// Keeps freed memory in the process for reuse (glibc only; a no-op elsewhere). Returns 1 if applied.
int flex_keep_freed_memory(long mmap_threshold, long trim_threshold);

// MARK: - Temporary files removed on signals (used by FlexIO)
//
// A fixed-size registry of the temporary files a process is writing, so that a signal handler can remove them:
// registration copies the path into a static slot (no allocation), and the cleanup only reads the slots and
// calls unlink(2), which is async-signal-safe. Slots are claimed and released with atomic operations, so
// several threads may register and unregister while a signal arrives on any thread.

/// Registers `path` (copied; at most FLEX_TEMP_PATH_MAX - 1 bytes). Returns the slot (>= 0), or -1 when the
/// path is too long or every slot is taken (the file is then not removed on a signal).
int flex_temp_register(const char *path);

/// Releases a slot returned by flex_temp_register (a negative slot is ignored).
void flex_temp_unregister(int slot);

/// Unlinks every registered path. Async-signal-safe: atomic loads and unlink(2) only.
void flex_temp_unlink_all(void);

/// Installs handlers for SIGINT, SIGTERM and SIGHUP that unlink every registered path, restore the default
/// disposition and re-raise the signal (so the process still dies of it: exit status 128 + signal).
/// Returns 0, or -1 with errno set.
int flex_temp_install_signal_cleanup(void);

/// The handler installed by flex_temp_install_signal_cleanup, for code that installs its own handler and
/// wants to restore this one afterwards.
void flex_temp_signal_handler(int sig);

/// Renames `from` to `to` only if `to` does not exist (Linux renameat2 RENAME_NOREPLACE, Darwin renamex_np
/// RENAME_EXCL). Returns 0, or -1 with errno set (EEXIST if `to` exists; ENOSYS/EINVAL if unsupported).
int flex_rename_noreplace(const char *from, const char *to);

// MARK: - Build information

/// The git commit the release build script recorded (e.g. "1a2b3c4d5e6f" or "1a2b3c4d5e6f-dirty"), or "" when
/// the build did not record one. A static string: never freed.
const char *flex_build_commit(void);
