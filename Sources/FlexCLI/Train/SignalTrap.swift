import FlexIO
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns the first SIGINT (Ctrl-C) or SIGTERM into a request the training loop polls between batches, so it
/// can save its state and exit cleanly. A second signal ends the process at once, after removing the temporary
/// files being written (the saved state is written atomically, so that never corrupts it). This replaces the
/// handlers of `installTempFileCleanupOnSignals()` for SIGINT and SIGTERM while training; SIGHUP keeps them.
enum SignalTrap {
    /// The signal received (0: none).
    static let received = Atomic<Int32>(0)

    static func install() {
        received.store(0, ordering: .relaxed)
        signal(SIGINT, handleSignal)
        signal(SIGTERM, handleSignal)
    }

    /// Restores the handlers of `installTempFileCleanupOnSignals()` (which flexctl installs at start-up).
    static func remove() {
        installTempFileCleanupOnSignals()
    }

    static var signalReceived: Int32 { received.load(ordering: .relaxed) }
}

private func handleSignal(_ sig: Int32) {
    // Only async-signal-safe work here: an atomic store, unlink() (of the temporary files being written, which
    // would otherwise be left behind), signal() and raise().
    if SignalTrap.received.load(ordering: .relaxed) != 0 {
        unlinkRegisteredTempFiles()
        signal(sig, SIG_DFL)
        raise(sig)
        return
    }
    SignalTrap.received.store(sig, ordering: .relaxed)
}
