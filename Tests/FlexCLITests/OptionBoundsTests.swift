import ArgumentParser
import FlexCLI
import Foundation
import Testing

/// The message and exit code `flexctl ARGS` would give when parsing (validation included) fails; nil if it parses.
private func usageFailure(_ args: [String]) -> (message: String, code: Int32)? {
    do {
        _ = try Flexctl.parseAsRoot(args)
        return nil
    } catch {
        return (Flexctl.message(for: error), Flexctl.exitCode(for: error).rawValue)
    }
}

@Suite("numeric options: documented ranges, checked before any work")
struct OptionBoundsTests {
    static let compress = ["compress", "image", "in.png", "--model", "m.h5"]
    static let decompress = ["decompress", "in.flexz"]
    static let forecast = ["forecast", "--model", "m.h5", "a.csv"]
    static let cae = ["train", "cae", "--data", "images"]
    static let lstm = ["train", "forecast", "--series", "a.csv"]
    static let activation = ["activation", "relu"]
    static let bench = ["bench"]

    @Test("a value outside the range: exit 64, the option, the value and the range in the message",
          arguments: [
              (compress + ["--threads", "999999999999"], "--threads 999999999999: expected 1...256"),
              (compress + ["--threads", "0"], "--threads 0: expected 1...256"),
              (compress + ["--bits", "17"], "--bits 17: expected 1...16"),
              (compress + ["--bits", "0"], "--bits 0: expected 1...16"),
              (decompress + ["--threads", "257"], "--threads 257: expected 1...256"),
              (forecast + ["--threads=-1"], "--threads -1: expected 1...256"),
              (forecast + ["--horizon", "0"], "--horizon 0: expected 1...1000"),
              (forecast + ["--horizon", "1001"], "--horizon 1001: expected 1...1000"),
              (bench + ["--threads", "100000"], "--threads 100000: expected 1...256"),
              (bench + ["--seconds", "0"], "--seconds 0: expected a number in (0, 600]"),
              (bench + ["--seconds", "601"], "--seconds 601: expected a number in (0, 600]"),
              (bench + ["--seconds", "nan"], "--seconds nan: expected a finite number in (0, 600]"),
              (cae + ["--epochs", "0"], "--epochs 0: expected 1...100000"),
              (cae + ["--epochs", "100001"], "--epochs 100001: expected 1...100000"),
              (cae + ["--batch-size", "65537"], "--batch-size 65537: expected 1...65536"),
              (cae + ["--lr", "0"], "--lr 0: expected a number in (0, 1]"),
              (cae + ["--lr", "inf"], "--lr inf: expected a finite number in (0, 1]"),
              (cae + ["--lr", "2"], "--lr 2: expected a number in (0, 1]"),
              (cae + ["--val-split", "1"], "--val-split 1: expected a number in [0, 1)"),
              (cae + ["--val-split=-0.1"], "--val-split -0.1: expected a number in [0, 1)"),
              (cae + ["--test-split", "nan"], "--test-split nan: expected a finite number in [0, 1)"),
              (cae + ["--patience", "0"], "--patience 0: expected 1...100000"),
              (cae + ["--reg-mean=-1"], "--reg-mean -1: expected a number in [0, 1000]"),
              (cae + ["--reg-default", "1e9"], "--reg-default 1000000000: expected a number in [0, 1000]"),
              (cae + ["--reg-boundary", "inf"], "--reg-boundary inf: expected a finite number in [0, 1000]"),
              (cae + ["--margin", "0.5"], "--margin 0.5: expected a number in [0, 0.5)"),
              (cae + ["--threads", "999999999999"], "--threads 999999999999: expected 1...256"),
              (cae + ["--patches", "1000001"], "--patches 1000001: expected 1...1000000"),
              (cae + ["--patches", "0"], "--patches 0: expected 1...1000000"),
              (lstm + ["--window", "0"], "--window 0: expected 1...1000"),
              (lstm + ["--window", "1001"], "--window 1001: expected 1...1000"),
              (lstm + ["--horizon", "1001"], "--horizon 1001: expected 1...1000"),
              (lstm + ["--hidden", "1025"], "--hidden 1025: expected 1...1024"),
              (lstm + ["--layers", "9"], "--layers 9: expected 1...8"),
              (lstm + ["--test-split", "1"], "--test-split 1: expected a number in [0, 1)"),
              (lstm + ["--epochs=-3"], "--epochs -3: expected 1...100000"),
              (["train", "cae", "--resume", "run", "--epochs", "1000000"], "--epochs 1000000: expected 1...100000"),
              (activation + ["--from", "-2e6"], "--from -2000000: expected a number in [-1000000, 1000000]"),
              (activation + ["--to", "inf"], "--to inf: expected a finite number in [-1000000, 1000000]"),
              (activation + ["--step", "1e7"], "--step 10000000: expected a number in (0, 2000000]"),
          ] as [([String], String)])
    func outOfRange(args: [String], message: String) throws {
        let f = try #require(usageFailure(args), "expected \(args) to be rejected")
        #expect(f.message == message)
        #expect(f.code == 64)
    }

    @Test("the ends of each range are accepted",
          arguments: [
              compress + ["--threads", "1", "--bits", "1"],
              compress + ["--threads", "256", "--bits", "16"],
              decompress + ["--threads", "256"],
              forecast + ["--horizon", "1000", "--threads", "1"],
              bench + ["--seconds", "600", "--threads", "256"],
              cae + ["--epochs", "100000", "--batch-size", "65536", "--lr", "1", "--val-split", "0", "--test-split", "0.999",
                     "--reg-mean", "0", "--reg-default", "1000", "--margin", "0", "--threads", "256", "--patches", "1000000"],
              cae + ["--epochs", "1", "--batch-size", "1", "--lr", "1e-12", "--patience", "100000", "--margin", "0.499"],
              lstm + ["--window", "1000", "--horizon", "1000", "--hidden", "1024", "--layers", "8", "--test-split", "0"],
              lstm + ["--window", "1", "--horizon", "1", "--hidden", "1", "--layers", "1"],
              activation + ["--from", "-1000000", "--to", "1000000", "--step", "2000000"],
          ])
    func endsAccepted(args: [String]) throws {
        #expect(usageFailure(args) == nil, "\(args): \(usageFailure(args)?.message ?? "")")
    }

    @Test("--threads 999999999999 in the binary: the usage message and exit 64, not an abort")
    func hugeThreadsProcess() throws {
        let r = try runFlexctl(["decompress", "missing.flexz", "--threads", "999999999999"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--threads 999999999999: expected 1...256"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }
}
