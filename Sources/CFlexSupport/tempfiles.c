// The async-signal-safe registry of temporary files (see CFlexSupport.h).
#define _GNU_SOURCE
#include "CFlexSupport.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

// 64 slots: a process writes one file at a time per thread, so this is far more than flexctl ever needs;
// the arrays live in .bss (zero pages, not touched until used).
#define FLEX_TEMP_SLOTS 64
#define FLEX_TEMP_PATH_MAX 4096

enum { SLOT_FREE = 0, SLOT_FILLING = 1, SLOT_LIVE = 2 };

static _Atomic int slot_state[FLEX_TEMP_SLOTS];
static char slot_path[FLEX_TEMP_SLOTS][FLEX_TEMP_PATH_MAX];

int flex_temp_register(const char *path) {
    size_t n = strlen(path);
    if (n >= FLEX_TEMP_PATH_MAX) return -1;
    for (int i = 0; i < FLEX_TEMP_SLOTS; i++) {
        int expected = SLOT_FREE;
        if (atomic_compare_exchange_strong(&slot_state[i], &expected, SLOT_FILLING)) {
            memcpy(slot_path[i], path, n + 1);
            // Release: a handler that sees LIVE sees the whole path.
            atomic_store_explicit(&slot_state[i], SLOT_LIVE, memory_order_release);
            return i;
        }
    }
    return -1;
}

void flex_temp_unregister(int slot) {
    if (slot < 0 || slot >= FLEX_TEMP_SLOTS) return;
    atomic_store_explicit(&slot_state[slot], SLOT_FREE, memory_order_release);
}

void flex_temp_unlink_all(void) {
    int saved = errno;
    for (int i = 0; i < FLEX_TEMP_SLOTS; i++) {
        if (atomic_load_explicit(&slot_state[i], memory_order_acquire) == SLOT_LIVE) unlink(slot_path[i]);
    }
    errno = saved;
}

void flex_temp_signal_handler(int sig) {
    flex_temp_unlink_all();
    // Die of the signal as if unhandled: the signal is blocked while this handler runs, so the raise is
    // delivered (with the default action) as soon as the handler returns.
    signal(sig, SIG_DFL);
    raise(sig);
}

int flex_temp_install_signal_cleanup(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = flex_temp_signal_handler;
    sigemptyset(&sa.sa_mask);
    // Block the other two while cleaning up, so a second signal cannot interrupt the unlink loop halfway.
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGHUP);
    sa.sa_flags = SA_RESTART;
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    // A signal ignored when the process started (nohup, `trap '' INT`, a background job of a script) stays
    // ignored, also when this is called again to take over from another handler.
    static int ignored_at_start[3];
    static int first_call_done;
    for (int i = 0; i < 3; i++) {
        if (!first_call_done) {
            struct sigaction old;
            if (sigaction(sigs[i], NULL, &old) != 0) return -1;
            ignored_at_start[i] = old.sa_handler == SIG_IGN;
        }
    }
    first_call_done = 1;
    for (int i = 0; i < 3; i++) {
        if (ignored_at_start[i]) continue;
        if (sigaction(sigs[i], &sa, NULL) != 0) return -1;
    }
    return 0;
}

int flex_rename_noreplace(const char *from, const char *to) {
#if defined(__linux__) && defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */);
#elif defined(__APPLE__)
    extern int renamex_np(const char *, const char *, unsigned int);
    return renamex_np(from, to, 0x00000004 /* RENAME_EXCL */);
#else
    (void)from; (void)to;
    errno = ENOSYS;
    return -1;
#endif
}
